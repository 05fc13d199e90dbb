# An isolated podman for the integration tests (sourced by tests/integration/podman.bats).
#
#   podman_env_setup        make PODMAN_WORK (storage, runroot, tmp_dir, locks, events, configs),
#                           export CONTAINERS_CONF / CONTAINERS_STORAGE_CONF so that a plain
#                           `podman` uses only them, and import the busybox image as $PODMAN_IMAGE
#   podman_env_teardown     remove every container, unmount everything under PODMAN_WORK, delete it
#   podman_env_mounts       print the mounts under PODMAN_WORK (besides the storage driver's own)
#
# The runtime is $RUNTIME (an absolute path), registered in [engine.runtimes] under its basename
# and listed in runtime_supports_json, so conmon passes it --log-format=json --log FILE like it
# does for crun and runc.  Nothing of the host's podman (/var/lib/containers, /run/libpod, the
# shm lock segment, /etc/containers/*.conf) is read or written.

PODMAN_IMAGE=${PODMAN_IMAGE:-localhost/samepage-busybox:latest}

# Shared host directories podman creates on first use (cgroupfs parent and conmon cgroups);
# teardown removes the ones that did not exist before setup, if they are empty.
podman_env_host_dirs() {
  local d
  for d in /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent \
           /sys/fs/cgroup/libpod_parent/conmon /sys/fs/cgroup/libpod_parent; do
    echo "$d"
  done
}

podman_env_setup() {
  local lib name
  lib=$(dirname "${BASH_SOURCE[0]}")
  # shellcheck source=tests/lib/busybox-bundle.sh
  source "$lib/busybox-bundle.sh"
  [ -n "${RUNTIME:-}" ] && [ -x "$RUNTIME" ] || { echo "podman-env: RUNTIME '${RUNTIME:-}' is not an executable" >&2; return 1; }
  name=$(basename "$RUNTIME")
  PODMAN_RUNTIME_NAME=$name
  PODMAN_WORK=$(mktemp -d /var/tmp/sp-podman.XXXXXX) || return 1
  local d
  PODMAN_NEW_HOST_DIRS=""
  for d in $(podman_env_host_dirs); do
    [ -e "$d" ] || PODMAN_NEW_HOST_DIRS="$PODMAN_NEW_HOST_DIRS $d"
  done
  export PODMAN_NEW_HOST_DIRS
  mkdir -p "$PODMAN_WORK"/{root,runroot,tmp,net,conf}
  # shellcheck source=tests/lib/samepage-conf.sh
  source "$lib/samepage-conf.sh"
  samepage_conf_wrap "$PODMAN_WORK"
  PODMAN_RUNTIME_PATH=$SAMEPAGE_WRAPPED
  export PODMAN_RUNTIME_PATH
  cat >"$PODMAN_WORK/conf/containers.conf" <<EOF
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_config_dir = "$PODMAN_WORK/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_WORK/events.log"
tmp_dir = "$PODMAN_WORK/tmp"
lock_type = "file"
runtime = "$name"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "samepage", "$name"]

[engine.runtimes]
$name = ["$PODMAN_RUNTIME_PATH"]
EOF
  cat >"$PODMAN_WORK/conf/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_WORK/root"
runroot = "$PODMAN_WORK/runroot"
EOF
  : >"$PODMAN_WORK/conf/registries.conf"
  export CONTAINERS_CONF=$PODMAN_WORK/conf/containers.conf
  export CONTAINERS_STORAGE_CONF=$PODMAN_WORK/conf/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$PODMAN_WORK/conf/registries.conf
  export PODMAN_WORK PODMAN_RUNTIME_NAME PODMAN_IMAGE
  local tarball
  tarball=$(bb_rootfs_tar) || return 1
  podman import -q "$tarball" "$PODMAN_IMAGE" >/dev/null \
    || { echo "podman-env: podman import $tarball failed" >&2; return 1; }
}

# Mounts whose mount point is under PODMAN_WORK, deepest first.  The overlay driver's private
# bind of its own home ($graphroot/overlay) is left out unless $1 is "all".
podman_env_mounts() {
  [ -n "${PODMAN_WORK:-}" ] || return 0
  awk -v w="$PODMAN_WORK/" -v home="$PODMAN_WORK/root/overlay" -v all="${1:-}" '
    index($5, w) == 1 && (all == "all" || $5 != home) { print $5 }' /proc/self/mountinfo | sort -r
}

podman_env_teardown() {
  [ -n "${PODMAN_WORK:-}" ] && [ -d "$PODMAN_WORK" ] || return 0
  podman rm -a -f -t 0 >/dev/null 2>&1 || true
  local m tries
  for tries in 1 2 3; do
    for m in $(podman_env_mounts all); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    [ -z "$(podman_env_mounts all)" ] && break
  done
  samepage_conf_cleanup "$PODMAN_WORK"
  rm -rf "$PODMAN_WORK"
  for m in ${PODMAN_NEW_HOST_DIRS:-}; do
    [ -d "$m" ] && rmdir "$m" 2>/dev/null
  done
  unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF PODMAN_WORK
  return 0
}
