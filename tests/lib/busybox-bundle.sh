#!/usr/bin/env bash
# busybox test images and bundles, built offline from the busybox-static binary.
#
#   tests/lib/busybox-bundle.sh DIR      make an OCI bundle in DIR (DIR/rootfs, DIR/config.json)
#
# Sourced, it provides:
#   bb_rootfs_tar            print the path of a cached rootfs tarball (for `podman import`)
#   bb_oci_archive           print the path of a cached OCI image archive (for `ctr image import`)
#   bb_bundle DIR [JQ]       make an OCI bundle in DIR; JQ is an optional jq filter applied to
#                            the config (e.g. '.process.args = ["echo","hi"]')
#   BB_IMAGE_NAME            the image name both archives carry
#
# Artefacts are cached under $BB_CACHE (default /var/tmp/samepage-test-cache), in a directory
# named by the SHA-256 of the busybox binary and of this script, so a changed recipe or a new
# busybox builds afresh and repeated test runs only extract a tarball.

BB_IMAGE_NAME=${BB_IMAGE_NAME:-localhost/samepage-busybox:latest}
BB_CACHE=${BB_CACHE:-/var/tmp/samepage-test-cache}
BB_BUSYBOX=${BB_BUSYBOX:-$(command -v busybox 2>/dev/null || echo /bin/busybox)}
BB_SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")

bb_die() { echo "busybox-bundle: $*" >&2; return 1; }

# The runtime-spec config every bundle starts from (what `runc spec` writes, trimmed).
bb_config_template() {
  cat <<'EOF'
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [ "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "samepage-test",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "nodev", "mode=1777" ] }
  ],
  "linux": {
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [ "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/sys/firmware", "/proc/scsi" ],
    "readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
      "/proc/sysrq-trigger" ]
  }
}
EOF
}

bb_cache_dir() {
  [ -x "$BB_BUSYBOX" ] || bb_die "no busybox binary at $BB_BUSYBOX (install busybox-static)" || return 1
  file -L "$BB_BUSYBOX" 2>/dev/null | grep -q 'statically linked' \
    || bb_die "$BB_BUSYBOX is not statically linked (install busybox-static)" || return 1
  local key
  key=$(cat "$BB_BUSYBOX" "$BB_SCRIPT" | sha256sum | cut -c1-16)
  echo "$BB_CACHE/busybox-$key"
}

# Fills the (empty) directory $1 with the busybox root filesystem.
bb_populate_rootfs() {
  local r=$1 applet
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,var/tmp,root,home/user}
  install -m 0755 "$BB_BUSYBOX" "$r/bin/busybox"
  for applet in $("$BB_BUSYBOX" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    [ -e "$r/$applet" ] || ln -s /bin/busybox "$r/$applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'tty:x:5:' 'user:x:1000:' 'nogroup:x:65534:' >"$r/etc/group"
  printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
  : >"$r/etc/hosts"; : >"$r/etc/resolv.conf"; : >"$r/etc/hostname"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 0700 "$r/root"
  chown 1000:1000 "$r/home/user"
}

# Builds the cache entry (rootfs.tar and oci.tar) once; concurrent builders race harmlessly
# because each works in its own temp dir and renames into place.
bb_build_cache() {
  local dir tmp
  dir=$(bb_cache_dir) || return 1
  [ -f "$dir/rootfs.tar" ] && [ -f "$dir/oci.tar" ] && return 0
  command -v jq >/dev/null || bb_die "jq is not installed" || return 1
  mkdir -p "$BB_CACHE"
  tmp=$(mktemp -d "$BB_CACHE/.build.XXXXXX") || return 1
  # A fresh shell, so that set -e holds even when our caller tests our status.
  if ! bash -c 'set -euo pipefail; source "$1"; bb_write_artefacts "$2"' \
      bb-build "$BB_SCRIPT" "$tmp"; then
    rm -rf "$tmp"; bb_die "building the busybox image failed"; return 1
  fi
  mkdir -p "$dir"
  mv -f "$tmp/rootfs.tar" "$dir/rootfs.tar"
  mv -f "$tmp/oci.tar" "$dir/oci.tar"
  rm -rf "$tmp"
}

# Writes rootfs.tar and oci.tar into the directory $1 (run under set -e).
bb_write_artefacts() {
  local tmp=$1 arch
  bb_populate_rootfs "$tmp/rootfs"
  # Reproducible tar: sorted names, fixed mtime, numeric owners.
  tar --sort=name --mtime=@0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
  case "$(uname -m)" in
    x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; armv7l) arch=arm ;;
    ppc64le) arch=ppc64le ;; s390x) arch=s390x ;; riscv64) arch=riscv64 ;;
    *) echo "unknown machine $(uname -m)" >&2; exit 1 ;;
  esac
  # OCI image layout written by hand: blobs named by their SHA-256.
  local L=$tmp/oci blobs layer_d layer_s cfg_d cfg_s man_d man_s
  blobs=$L/blobs/sha256
  mkdir -p "$blobs"
  layer_d=$(sha256sum "$tmp/rootfs.tar" | cut -d' ' -f1)
  layer_s=$(stat -c %s "$tmp/rootfs.tar")
  cp "$tmp/rootfs.tar" "$blobs/$layer_d"
  jq -cn --arg arch "$arch" --arg diff "sha256:$layer_d" '{
      architecture: $arch, os: "linux", created: "1970-01-01T00:00:00Z",
      config: { Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [$diff] },
      history: [ { created: "1970-01-01T00:00:00Z", created_by: "samepage tests/lib/busybox-bundle.sh" } ]
    }' | tr -d '\n' >"$tmp/config.json"
  cfg_d=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
  cfg_s=$(stat -c %s "$tmp/config.json")
  mv "$tmp/config.json" "$blobs/$cfg_d"
  jq -cn --arg cd "sha256:$cfg_d" --argjson cs "$cfg_s" \
    --arg ld "sha256:$layer_d" --argjson ls "$layer_s" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs },
      layers: [ { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls } ]
    }' | tr -d '\n' >"$tmp/manifest.json"
  man_d=$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1)
  man_s=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$blobs/$man_d"
  jq -cn --arg md "sha256:$man_d" --argjson ms "$man_s" --arg arch "$arch" \
    --arg name "$BB_IMAGE_NAME" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [ { mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: $md, size: $ms, platform: { architecture: $arch, os: "linux" },
        annotations: { "io.containerd.image.name": $name,
                       "org.opencontainers.image.ref.name": ($name | sub(".*:"; "")) } } ]
    }' >"$L/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$L" \
    -cf "$tmp/oci.tar" oci-layout index.json blobs
  rm -rf "$tmp/rootfs" "$L"
}

bb_rootfs_tar() { bb_build_cache && echo "$(bb_cache_dir)/rootfs.tar"; }
bb_oci_archive() { bb_build_cache && echo "$(bb_cache_dir)/oci.tar"; }

bb_bundle() {
  local dir=$1 filter=${2:-.} tarball
  [ -n "$dir" ] || bb_die "usage: bb_bundle DIR [JQ-FILTER]" || return 1
  tarball=$(bb_rootfs_tar) || return 1
  mkdir -p "$dir/rootfs" || return 1
  tar --numeric-owner -C "$dir/rootfs" -xf "$tarball" || bb_die "extracting $tarball failed" || return 1
  bb_config_template | jq "$filter" >"$dir/config.json" \
    || bb_die "jq filter '$filter' failed on the config template" || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    echo "usage: $0 DIR [JQ-FILTER]   (makes an OCI bundle with a busybox rootfs in DIR)" >&2
    exit 2
  fi
  bb_bundle "$@"
fi
