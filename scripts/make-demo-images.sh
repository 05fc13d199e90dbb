#!/usr/bin/env bash
# make-demo-images.sh OUTDIR N: N "zero-install" images, each one layer that
# carries its own copy of the same software (busybox, the host's python3 and
# its stdlib and libraries) plus a file of its own, so no two layers are
# alike while almost every file is.  OUTDIR/imgI/layer.tar for I in 1..N.
# The base rootfs is built once and cached in OUTDIR/base.
set -euo pipefail
out=$1 n=$2
base=$out/base
py=/usr/bin/python3.11
[ -x $py ] || { echo "make-demo-images: $py is missing (apt-get install python3)" >&2; exit 1; }

copy_with_deps() {   # copy binaries/libraries and every library they load
  local f lib
  for f in "$@"; do
    mkdir -p "$base$(dirname "$f")"
    cp -L --preserve=mode,timestamps "$f" "$base$f"
    ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
      [ -e "$base$lib" ] && continue
      mkdir -p "$base$(dirname "$lib")"
      cp -L --preserve=mode,timestamps "$lib" "$base$lib"
    done
  done
}

if [ ! -e "$base/.done" ]; then
  rm -rf "$base"
  mkdir -p "$base"/{bin,etc,proc,sys,dev,tmp,usr/bin,usr/lib,lib64}
  chmod 1777 "$base/tmp"
  cp /bin/busybox "$base/bin/busybox"
  for a in sh cat ls sleep echo find wc mount; do ln -s busybox "$base/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$base/etc/passwd"
  printf 'root:x:0:\n' >"$base/etc/group"
  cp -a /usr/lib/python3.11 "$base/usr/lib/"
  rm -rf "$base/usr/lib/python3.11/test" "$base/usr/lib/python3.11/idlelib" "$base/usr/lib/python3.11/tkinter"
  copy_with_deps $py /usr/lib/python3.11/lib-dynload/*.so
  ln -s python3.11 "$base/usr/bin/python3"
  # Warm .pyc files so containers never write them.
  $py -m compileall -q "$base/usr/lib/python3.11" >/dev/null 2>&1 || true
  touch "$base/.done"
fi

for i in $(seq 1 "$n"); do
  d=$out/img$i
  [ -e "$d/layer.tar" ] && continue
  rm -rf "$d" && mkdir -p "$d"
  cp -a "$base" "$d/rootfs"
  rm -f "$d/rootfs/.done"
  echo "zero-install image $i" >"$d/rootfs/etc/zero-install-id"
  tar --sort=name --numeric-owner -C "$d/rootfs" -cf "$d/layer.tar.tmp" .
  mv "$d/layer.tar.tmp" "$d/layer.tar"
  rm -rf "$d/rootfs"
done
