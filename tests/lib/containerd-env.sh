# A private containerd for the integration tests (sourced by tests/integration/containerd.bats).
#
#   containerd_env_setup      start containerd with config, root, state and sockets under CTD_WORK
#                             (CRI plugin off, overlayfs snapshotter), wait for it, import the
#                             busybox image as $CTD_IMAGE into namespace $CTD_NS
#   containerd_env_teardown   kill every task, remove containers, stop the daemon (by PID), unmount
#                             what is left under CTD_WORK and delete it
#   sp_ctr ARGS...            ctr against the private daemon and namespace
#   sp_ctr_run ARGS...        `ctr run` with the runtime selected (see below)
#   ctd_runtime_calls ID      the runtime calls recorded for container ID ("route argv...")
#   ctd_mounts                mounts under CTD_WORK
#
# Selecting the runtime: `ctr run --runc-binary` sets the runc shim option BinaryName, but
# containerd 1.6 drops the runc options whenever task options are given, and the shim then runs
# plain `runc` from PATH.  So both routes point at $RUNTIME: --runc-binary names
# $CTD_WORK/bin/sp-runtime and PATH starts with $CTD_WORK/bin, which holds `runc`.  Both are tiny
# wrappers that append "<route> <argv>" to $CTD_WORK/runtime-calls.log and exec $RUNTIME, so the
# tests can check that the calls really reached it.  CTD_RECORD_CALLS=0 makes them plain
# symlinks instead (nothing recorded).
# The daemon runs under catatonit, a child subreaper: the shims it spawns re-parent to it and are
# reaped at once (this host's init reaps orphans lazily).

CTD_IMAGE=${CTD_IMAGE:-localhost/samepage-busybox:latest}
CTD_NS=${CTD_NS:-samepage-test}
CTD_RECORD_CALLS=${CTD_RECORD_CALLS:-1}
export CTD_RECORD_CALLS

# Bounded: a misbehaving runtime must fail a test, never hang it.
sp_ctr() {
  timeout -k 5 "${SP_CMD_TIMEOUT:-60}" ctr -a "$CTD_WORK/containerd.sock" -n "$CTD_NS" "$@"
}

sp_ctr_run() {
  sp_ctr run --runc-binary "$CTD_WORK/bin/sp-runtime" --runc-root "$CTD_WORK/runc-root" "$@"
}

ctd_runtime_calls() {
  awk -v id="$1" '{ for (i = 2; i <= NF; i++) if ($i == id) { print; next } }' \
    "$CTD_WORK/runtime-calls.log" 2>/dev/null
}

ctd_mounts() {
  [ -n "${CTD_WORK:-}" ] || return 0
  awk -v w="$CTD_WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

ctd_write_wrapper() {   # path route
  local path=$1 route=$2
  if [ "$CTD_RECORD_CALLS" = 0 ]; then
    ln -sf "$RUNTIME" "$path"
    return
  fi
  cat >"$path" <<EOF
#!/bin/sh
echo "$route \$*" >>"$CTD_WORK/runtime-calls.log"
${CTD_SAMEPAGE_CONF:+SAMEPAGE_CONF=$CTD_SAMEPAGE_CONF }exec "$RUNTIME" "\$@"
EOF
  chmod 0755 "$path"
}

containerd_env_setup() {
  local lib tries
  lib=$(dirname "${BASH_SOURCE[0]}")
  # shellcheck source=tests/lib/busybox-bundle.sh
  source "$lib/busybox-bundle.sh"
  [ -n "${RUNTIME:-}" ] && [ -x "$RUNTIME" ] || { echo "containerd-env: RUNTIME '${RUNTIME:-}' is not an executable" >&2; return 1; }
  CTD_WORK=$(mktemp -d /var/tmp/sp-ctd.XXXXXX) || return 1
  # shellcheck source=tests/lib/samepage-conf.sh
  source "$lib/samepage-conf.sh"
  samepage_conf_wrap "$CTD_WORK"
  CTD_SAMEPAGE_CONF=
  [ "$SAMEPAGE_WRAPPED" = "$RUNTIME" ] || CTD_SAMEPAGE_CONF=$CTD_WORK/samepage.conf
  # Host dirs containerd and its shims create on first use (shim sockets, fifos, the default
  # runc root): teardown removes those that did not exist before, if empty.
  local d
  CTD_NEW_HOST_DIRS=""
  for d in /run/containerd/runc/"$CTD_NS" /run/containerd/runc /run/containerd/s \
           /run/containerd/fifo /run/containerd; do
    [ -e "$d" ] || CTD_NEW_HOST_DIRS="$CTD_NEW_HOST_DIRS $d"
  done
  export CTD_NEW_HOST_DIRS
  export CTD_WORK CTD_NS CTD_IMAGE
  mkdir -p "$CTD_WORK"/{root,state,bin,opt,runc-root}
  ctd_write_wrapper "$CTD_WORK/bin/runc" path
  ctd_write_wrapper "$CTD_WORK/bin/sp-runtime" binaryname
  cat >"$CTD_WORK/config.toml" <<EOF
version = 2
root = "$CTD_WORK/root"
state = "$CTD_WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$CTD_WORK/containerd.sock"

[ttrpc]
  address = "$CTD_WORK/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTD_WORK/opt"
EOF
  PATH="$CTD_WORK/bin:$PATH" catatonit -- containerd --config "$CTD_WORK/config.toml" \
    >"$CTD_WORK/containerd.log" 2>&1 </dev/null &
  CTD_PID=$!
  export CTD_PID
  for ((tries = 0; tries < 100; tries++)); do
    sp_ctr version >/dev/null 2>&1 && break
    kill -0 "$CTD_PID" 2>/dev/null || { echo "containerd-env: containerd died:" >&2; tail -20 "$CTD_WORK/containerd.log" >&2; return 1; }
    sleep 0.1
  done
  sp_ctr version >/dev/null 2>&1 || { echo "containerd-env: containerd did not answer on $CTD_WORK/containerd.sock" >&2; return 1; }
  local archive
  archive=$(bb_oci_archive) || return 1
  sp_ctr images import "$archive" >/dev/null \
    || { echo "containerd-env: ctr images import $archive failed" >&2; return 1; }
  sp_ctr images check 2>/dev/null | grep -q "$CTD_IMAGE" \
    || { echo "containerd-env: $CTD_IMAGE is not in the image store after import" >&2; return 1; }
}

containerd_env_teardown() {
  [ -n "${CTD_WORK:-}" ] && [ -d "$CTD_WORK" ] || return 0
  local id tries m
  if [ -n "${CTD_PID:-}" ] && kill -0 "$CTD_PID" 2>/dev/null; then
    for id in $(sp_ctr tasks ls -q 2>/dev/null); do
      # A frozen task does not die of SIGKILL until thawed (cgroup v1 freezer).
      sp_ctr tasks resume "$id" >/dev/null 2>&1
      sp_ctr tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1
    done
    for id in $(sp_ctr tasks ls -q 2>/dev/null); do
      for ((tries = 0; tries < 50; tries++)); do
        sp_ctr tasks rm -f "$id" >/dev/null 2>&1 && break
        sleep 0.1
      done
    done
    for id in $(sp_ctr containers ls -q 2>/dev/null); do
      sp_ctr containers rm "$id" >/dev/null 2>&1
    done
    kill -TERM "$CTD_PID" 2>/dev/null
    for ((tries = 0; tries < 100; tries++)); do
      kill -0 "$CTD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$CTD_PID" 2>/dev/null
    wait "$CTD_PID" 2>/dev/null
  fi
  for tries in 1 2 3; do
    for m in $(ctd_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -z "$(ctd_mounts)" ] && break
  done
  samepage_conf_cleanup "$CTD_WORK"
  rm -rf "$CTD_WORK"
  # containerd leaves the namespace's parent cgroup (cgroupsPath /<ns>/<id>); drop it if empty.
  for m in /sys/fs/cgroup/*/"$CTD_NS" /sys/fs/cgroup/"$CTD_NS" ${CTD_NEW_HOST_DIRS:-}; do
    [ -d "$m" ] && rmdir "$m" 2>/dev/null
  done
  unset CTD_WORK CTD_PID
  return 0
}
