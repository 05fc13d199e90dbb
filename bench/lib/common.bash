# Shared by bench/*/run: builds helpers, makes bundles, keeps crun usable on
# hybrid cgroup hosts, and prints tables.  Source it; it sets TOP and BUILD.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BENCH_TMP=$(mktemp -d /var/tmp/samepage-bench.XXXXXX)
MEASURE=$BENCH_TMP/measure
cc -O2 -o "$MEASURE" "$TOP/bench/lib/measure.c"
_restore=()

bench_cleanup() {
  local _k   # not "i": the restore commands may loop with i themselves
  for ((_k = ${#_restore[@]} - 1; _k >= 0; _k--)); do eval "${_restore[$_k]}" || true; done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# busybox_bundle DIR ARGS-JSON: an OCI bundle of busybox-static running ARGS.
busybox_bundle() {
  local dir=$1 args=$2
  mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp"
  cp /bin/busybox "$dir/rootfs/bin/busybox"
  for a in sh true sleep cat echo ls; do ln -sf busybox "$dir/rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/rootfs/etc/passwd"
  (cd "$dir" && "$BUILD/samepage" spec)
  jq --argjson args "$args" '.ociVersion = "1.0.2" | .process.terminal = false | .process.args = $args
      | .root.readonly = true' "$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}

# crun 1.8 refuses hosts whose cgroup2 mount holds a controller beside v1
# ones ("hybrid mode").  Here that is hugetlb; move it to a v1 hierarchy for
# the run (runc and samepage work either way) and move it back afterwards.
crun_hybrid_fixup() {
  local u=/sys/fs/cgroup/unified
  [ -f $u/cgroup.controllers ] || return 0
  grep -qw hugetlb $u/cgroup.controllers || return 0
  [ -d /sys/fs/cgroup/hugetlb ] && mountpoint -q /sys/fs/cgroup/hugetlb && return 0
  # Free it from every cgroup2 subtree_control, deepest first (a parent
  # cannot drop a controller its children still delegate), and give it back
  # parents first afterwards.
  local d
  while read -r d; do
    grep -qw hugetlb "$d/cgroup.subtree_control" 2>/dev/null || continue
    echo -hugetlb >"$d/cgroup.subtree_control" 2>/dev/null || { echo "# cannot free hugetlb from $d; crun may fail" >&2; return 0; }
    _restore+=("for _try in {1..30}; do echo +hugetlb > '$d/cgroup.subtree_control' 2>/dev/null && break; sleep 0.1; done")
  done < <(find $u -type d | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2-)
  local made=0
  [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && made=1; }
  if mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null; then
    # _restore runs last-in first-out: unmount, then rmdir, then give hugetlb back.
    [ $made = 1 ] && _restore+=("rmdir /sys/fs/cgroup/hugetlb")
    _restore+=("find /sys/fs/cgroup/hugetlb -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; umount /sys/fs/cgroup/hugetlb")
  else
    [ $made = 1 ] && rmdir /sys/fs/cgroup/hugetlb
    echo "# cannot mount hugetlb as cgroup v1; crun may fail" >&2
  fi
}

# median of the numbers on stdin
median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
