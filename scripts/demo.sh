#!/usr/bin/env bash
# The main job: build zero-install images (each carries its own copy of the
# same python), run N containers from them with samepage (layers through
# casfs) and with crun (or runc) from plain per-image root filesystems, and
# print the page cache, memory and start time of both, then `casfs stats`.
#   scripts/demo.sh [N]        (as root; `make demo` runs it)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
N=${1:-${N:-4}}
IMAGES=${DEMO_IMAGES:-/var/tmp/samepage-demo-images}
WORKLOAD="import json, asyncio, email, sqlite3, decimal, unittest, http.client, xml.dom.minidom, logging; print('READY', flush=True); import time; time.sleep(3600)"

[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }
[ -x "$BUILD/samepage" ] && [ -x "$BUILD/casfs" ] || { echo "demo: build first (make)" >&2; exit 1; }
WORK=$(mktemp -d /var/tmp/samepage-demo.XXXXXX)
export SAMEPAGE_CONF=$WORK/samepage.conf
printf 'store = %s/store\ncasfs_mountpoint = %s/view\n' "$WORK" "$WORK" >"$SAMEPAGE_CONF"
SP="$BUILD/samepage --root $WORK/state-samepage"
CASFS="$BUILD/casfs --store $WORK/store"
started=()

cleanup() {
  local id rt
  for id in "${started[@]}"; do
    rt=${id%%:*}; id=${id#*:}
    if [ "$rt" = samepage ]; then $SP delete --force "$id" >/dev/null 2>&1 || true
    else "$rt" --root "$WORK/state-$rt" delete --force "$id" >/dev/null 2>&1 || true; fi
  done
  rmdir /sys/fs/cgroup/*/samepage-demo 2>/dev/null || true
  mountpoint -q "$WORK/view" 2>/dev/null && $BUILD/casfs umount -f "$WORK/view" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", (b - a) * 1000}'; }

say "building $N zero-install images in $IMAGES"
bash "$TOP/scripts/make-demo-images.sh" "$IMAGES" "$N"

say "importing them into a casfs store"
for i in $(seq "$N"); do $CASFS import -q --ref "demo$i" "$IMAGES/img$i/layer.tar"; done
$CASFS stats

# The same process, cgroup and limits for both runtimes; only the rootfs differs.
for i in $(seq "$N"); do
  $CASFS bundle "demo$i" "$WORK/sp$i" -- /usr/bin/python3 -c "$WORKLOAD" >/dev/null
  jq --arg cg "/samepage-demo/sp$i" '.linux.cgroupsPath = $cg' "$WORK/sp$i/config.json" >"$WORK/c.json"
  mv "$WORK/c.json" "$WORK/sp$i/config.json"
  mkdir -p "$WORK/plain$i/rootfs"
  tar -C "$WORK/plain$i/rootfs" -xf "$IMAGES/img$i/layer.tar"
  jq --arg cg "/samepage-demo/plain$i" '.linux.cgroupsPath = $cg | del(.annotations)' \
    "$WORK/sp$i/config.json" >"$WORK/plain$i/config.json"
done

other=crun
if ! command -v crun >/dev/null; then other=runc; fi

cgroup_cache_bytes() {   # page cache charged to a container's memory cgroup
  local f=/sys/fs/cgroup/memory/samepage-demo/$1/memory.stat
  [ -f "$f" ] && { awk '$1 == "cache" {print $2}' "$f"; return; }
  f=/sys/fs/cgroup/samepage-demo/$1/memory.stat
  [ -f "$f" ] && awk '$1 == "file" {print $2}' "$f" || echo 0
}

run_set() {   # runtime prefix -> "cache_mib pss_mib median_start_ms"
  local rt=$1 prefix=$2 i t0 pid cache=0 pss=0 starts=()
  sync; echo 3 >/proc/sys/vm/drop_caches
  for i in $(seq "$N"); do
    t0=$EPOCHREALTIME
    if [ "$rt" = samepage ]; then
      $SP run --detach --bundle "$WORK/$prefix$i" "$prefix$i" >"$WORK/$prefix$i.out" 2>&1 </dev/null
    else
      "$rt" --root "$WORK/state-$rt" run --detach --bundle "$WORK/$prefix$i" "$prefix$i" >"$WORK/$prefix$i.out" 2>&1 </dev/null \
        || { echo "demo: $rt: $(tail -1 "$WORK/$prefix$i.out")" >&2; return 1; }
    fi
    starts+=("$(ms_since "$t0")")
    started+=("$rt:$prefix$i")
  done
  for i in $(seq "$N"); do
    for _ in $(seq 600); do grep -q READY "$WORK/$prefix$i.out" && break; sleep 0.05; done
    grep -q READY "$WORK/$prefix$i.out" || { echo "demo: container $prefix$i did not start:" >&2; cat "$WORK/$prefix$i.out" >&2; return 1; }
  done
  for i in $(seq "$N"); do
    cache=$((cache + $(cgroup_cache_bytes "$prefix$i")))
    if [ "$rt" = samepage ]; then pid=$($SP state "$prefix$i" | jq .pid)
    else pid=$("$rt" --root "$WORK/state-$rt" state "$prefix$i" | jq .pid); fi
    pss=$((pss + $(awk '$1 == "Pss:" {print $2}' "/proc/$pid/smaps_rollup")))
  done
  for i in $(seq "$N"); do
    if [ "$rt" = samepage ]; then $SP delete --force "$prefix$i"; else "$rt" --root "$WORK/state-$rt" delete --force "$prefix$i"; fi
  done
  started=()
  printf '%s\n' "${starts[@]}" | sort -n | awk -v c="$cache" -v p="$pss" \
    '{a[NR] = $1} END {printf "%.1f %.1f %.1f\n", c / 1048576, p / 1024, a[int((NR + 1) / 2)]}'
}

say "running $N containers with $other (one root filesystem per image)"
if ! plain=$(run_set "$other" plain); then
  echo "demo: $other failed here; comparing with runc instead" >&2
  other=runc
  plain=$(run_set runc plain)
fi
say "running $N containers with samepage (layers through casfs)"
shared=$(run_set samepage sp)

read -r pc_plain pss_plain st_plain <<<"$plain"
read -r pc_sp pss_sp st_sp <<<"$shared"
say "result: $N containers of $N different images holding the same files"
printf '%-10s %16s %18s %18s\n' runtime "page cache MiB" "sum of PSS MiB" "median start ms"
printf '%-10s %16s %18s %18s\n' "$other" "$pc_plain" "$pss_plain" "$st_plain"
printf '%-10s %16s %18s %18s\n' samepage "$pc_sp" "$pss_sp" "$st_sp"
awk -v a="$pc_plain" -v b="$pc_sp" 'BEGIN {if (b > 0) printf "page cache: samepage uses %.2fx less than %s\n", a / b, "'"$other"'"}'
say "casfs stats"
$CASFS stats
