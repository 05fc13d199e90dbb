# The shared parent cgroups (/samepage) that containers without a cgroupsPath
# live under.  The runtime removes each container's cgroup but, like runc and
# crun, not that parent: a test or benchmark run removes the ones it created
# (sourced by tests/run-tests and bench/ksm/run).
#
#   samepage_cgroup_parents             the existing ones, one line, space-separated
#   samepage_cgroup_parents_drop BEFORE rmdir the empty ones not listed in BEFORE

samepage_cgroup_parents() {
  ls -d /sys/fs/cgroup/*/samepage /sys/fs/cgroup/samepage 2>/dev/null | tr '\n' ' ' || true
}

samepage_cgroup_parents_drop() {
  local d
  for d in /sys/fs/cgroup/*/samepage /sys/fs/cgroup/samepage; do
    [ -d "$d" ] || continue
    case " $1 " in *" $d "*) continue ;; esac
    rmdir "$d" 2>/dev/null || true
  done
}
