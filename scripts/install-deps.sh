#!/usr/bin/env bash
# Installs samepage's build, test and benchmark dependencies from Debian 12 packages.
# Idempotent: packages already present are left alone. Needs root.
set -euo pipefail

build_pkgs=(
  build-essential pkg-config git
  libseccomp-dev libcap-dev libarchive-dev libfuse3-dev fuse3 liburing-dev libyajl-dev libssl-dev
  libcmocka-dev libsystemd-dev libzstd-dev liblzma-dev zlib1g-dev
)
test_pkgs=(
  podman conmon crun runc containerd catatonit
  busybox-static bats jq util-linux bsdutils file coreutils iproute2 procps psmisc
  zstd xz-utils gzip tar skopeo umoci debootstrap python3 hyperfine time redis-server redis-tools
)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as containerd and redis-server start their daemons on
  # install; the tests start their own private instances instead.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy
    trap 'rm -f $policy' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
