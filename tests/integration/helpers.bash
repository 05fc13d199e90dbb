# Shared helpers for the bats integration tests (`load helpers`).
#
# RUNTIME is the OCI runtime under test: by default samepage from the build tree; set
# RUNTIME=runc or RUNTIME=crun (a name on PATH or a path) to check the harness itself.

: "${SAMEPAGE_TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SAMEPAGE_BUILD:=$SAMEPAGE_TOP/build}"
RUNTIME=${RUNTIME:-$SAMEPAGE_BUILD/samepage}
case "$RUNTIME" in
  */*) ;;
  *) RUNTIME=$(command -v "$RUNTIME" 2>/dev/null || echo "$RUNTIME") ;;
esac
TESTS_LIB=$SAMEPAGE_TOP/tests/lib
bats_require_minimum_version 1.5.0   # run -N (expected exit status)
# Backstop for anything without its own timeout (bats >= 1.7 reads it per test).
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}
export SAMEPAGE_TOP SAMEPAGE_BUILD RUNTIME TESTS_LIB

# Fails the current test with a message (bats 1.8 has no fail of its own without bats-assert).
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  return 1
}

# bats 1.8 cannot skip from setup_file, so the require_* checks, called there, record the
# reason in SP_SKIP_ALL and return 1; skip_if_file_skipped (in setup) then skips every test
# with that reason, loudly.  Use: setup_file() { require_root && require_cmd X || return 0; ...}
skip_all() {
  export SP_SKIP_ALL=$1
  return 1
}

skip_if_file_skipped() {
  [ -z "${SP_SKIP_ALL:-}" ] || skip "$SP_SKIP_ALL"
}

require_root() {
  [ "$(id -u)" -eq 0 ] || skip_all "needs root (engines, mounts and cgroups)"
}

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || { skip_all "$c is not installed (run scripts/install-deps.sh)"; return 1; }
  done
}

# Why this host cannot run containers with RUNTIME at all, if a known limit of a reference
# runtime applies (printed; empty otherwise).  Never applies to samepage itself.
runtime_host_limit() {
  local unified=/sys/fs/cgroup/unified/cgroup.controllers controllers
  case "$(basename "$RUNTIME")" in
    crun)
      # crun 1.8 refuses hybrid cgroups when the v2 mount holds a controller.
      # (cgroupfs files report size 0: read them.)
      controllers=$(cat "$unified" 2>/dev/null)
      if [ -n "$controllers" ] && [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
        echo "crun refuses hybrid cgroups here (/sys/fs/cgroup/unified holds: $controllers); validate the harness with RUNTIME=runc"
      fi ;;
  esac
}

require_runtime() {
  # A missing runtime is a failure, not a skip: `make check` builds it.
  [ -x "$RUNTIME" ] || { echo "runtime '$RUNTIME' is not built or not executable (run make, or set RUNTIME=runc)" >&2; return 1; }
  local why
  why=$(runtime_host_limit)
  [ -z "$why" ] || skip_all "$why"
}

# retry TRIES DELAY CMD...: runs CMD until it succeeds, at most TRIES times.
retry() {
  local tries=$1 delay=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep "$delay"
  done
  return 1
}

# Cgroup directories (any v1 hierarchy or the v2 mount) whose name contains one of the IDs.
cgroups_named() {
  local id
  for id in "$@"; do
    find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name "*$id*" 2>/dev/null
  done
}

# Live (non-zombie) processes whose command line contains one of the strings; prints
# "PID cmdline".  Zombies are left out: this host's init reaps orphans lazily, and a zombie
# holds no mounts, cgroup membership or files.
live_procs_matching() {
  local p state cmd s
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    state=$(awk '/^State:/ {print $2}' "$p/status" 2>/dev/null) || continue
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || continue
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    for s in "$@"; do
      case "$cmd" in
        *"$s"*) echo "${p#/proc/} $cmd"; break ;;
      esac
    done
  done
}

# True when PID has exited (gone, or a zombie waiting for its reaper).
proc_gone() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
  [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

no_live_procs() {
  [ -z "$(live_procs_matching "$@")" ]
}

# The host path of a v1 controller's (or the v2) cgroup of PID: cgroup_dir PID memory
cgroup_dir() {
  local pid=$1 ctl=$2 rel
  rel=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
  [ -n "$rel" ] || return 1
  echo "/sys/fs/cgroup/$ctl$rel"
}
