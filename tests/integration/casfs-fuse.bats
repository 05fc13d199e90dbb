#!/usr/bin/env bats
# casfs FUSE view: the mount against its source tree, the overlay data path,
# page-cache sharing, the FUSE fallback path, failures, daemon lifecycle.
# Needs root and /dev/fuse; the overlay tests also need data-only lower
# layers (lowerdir=a::b, Linux 6.5+).  Missing features are loud skips.

setup_file() {
  export B=${SAMEPAGE_BUILD:-$BATS_TEST_DIRNAME/../../build}
  export CASFS=$B/casfs H=$B/tests/test_fuse DATA=$BATS_TEST_DIRNAME/../data/fuse
  # The system python: unprivileged users may run it (a per-user shim may not).
  export PY=/usr/bin/python3
  [ -x "$PY" ] || PY=$(command -v python3 || echo python3)
  [ "$(id -u)" -eq 0 ] || skip "needs root"
  [ -c /dev/fuse ] || skip "no /dev/fuse"
  grep -qw fuse /proc/filesystems || skip "no fuse filesystem in this kernel"
  [ -x "$CASFS" ] && [ -x "$H" ] || skip "build first (make)"
  export W; W=$(mktemp -d /tmp/casfs-fuse-bats.XXXXXX)
  chmod 755 "$W" # the unprivileged-caller test walks it
  "$DATA"/make-tree.sh "$W/img1" "$H"
  # img2: the same files, but blob with another mtime.
  cp -a "$W/img1" "$W/img2"
  touch -d '2010-10-10 10:10:10.5' "$W/img2/usr/lib/blob"
  export T1 T2
  T1=$("$H" mkstore "$W/store" "$W/img1" localhost/img1:latest)
  T2=$("$H" mkstore "$W/store" "$W/img2" localhost/img2:latest)
  "$CASFS" --store "$W/store" mount "$W/mnt"
  export OVL_OK=0
  mkdir -p "$W/probe"
  if mount -t overlay overlay -o "ro,metacopy=on,redirect_dir=follow,lowerdir=$W/mnt/trees/$T1::$W/store/objects" \
      "$W/probe" 2>/dev/null; then
    umount "$W/probe" && OVL_OK=1
  fi
}

teardown_file() {
  [ -n "${W:-}" ] && [ -d "$W" ] || return 0
  for m in $(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  for mp in "$W"/mnt*; do
    [ -e "$mp.pid" ] && "$CASFS" umount -f "$mp" 2>/dev/null || true
  done
  rm -rf "$W"
}

teardown() {
  # Overlays of one test never outlive it: they pin the view's inodes.
  for m in $(awk -v w="$W/" 'index($5, w) == 1 && $0 ~ / - overlay / { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" || umount -l "$m"
  done
}

need_overlay() {
  [ "$OVL_OK" = 1 ] || skip "overlayfs data-only lower layers (lowerdir=a::b with metacopy) unsupported here"
}

stat_of() { # NAME: one counter from the daemon's stats file
  awk -v k="$1" '$1 == k { print $2 }' "$W/mnt/stats"
}

object_of() { # FILE: the store path of its content
  local h; h=$(sha256sum "$1" | cut -c1-64)
  echo "$W/store/objects/${h:0:2}/${h:2}"
}

cached_pages() { # FILE
  fincore --raw --noheadings --output PAGES "$1"
}

mount_layer_a() { # TREE DIR
  mkdir -p "$2"
  mount -t overlay overlay -o "ro,metacopy=on,redirect_dir=follow,lowerdir=$W/mnt/trees/$1::$W/store/objects" "$2"
}

@test "the view reproduces the image file by file" {
  run diff <("$H" dump "$W/img1") <("$H" dump --view "$W/mnt/trees/$T1")
  echo "$output"
  [ "$status" -eq 0 ]
  # The dump saw every kind of entry.
  "$H" dump "$W/img1" | grep -q '/dev/loop9 mode=60644 .* rdev=7:9'
  "$H" dump "$W/img1" | grep -q 'linkgroup=1'
  "$H" dump "$W/img1" | grep -q 'mtime=1612325106.123456789'
  # Identical content and metadata: one inode; same content, other mtime: not.
  [ "$(stat -c %i "$W/mnt/trees/$T1/usr/bin/hello")" = "$(stat -c %i "$W/mnt/trees/$T2/usr/bin/hello")" ]
  [ "$(stat -c %i "$W/mnt/trees/$T1/usr/lib/blob")" != "$(stat -c %i "$W/mnt/trees/$T2/usr/lib/blob")" ]
}

@test "refs are symlinks to tree views; trees resolve lazily" {
  [ "$(readlink "$W/mnt/refs/localhost%2Fimg1:latest")" = "../trees/$T1" ]
  cmp "$W/img1/usr/lib/blob" "$W/mnt/refs/localhost%2Fimg2:latest/usr/lib/blob"
  ls "$W/mnt/trees" | grep -qx "$T1"
  ls "$W/mnt" | sort | tr '\n' ' ' | grep -qx 'refs stats trees '
  run ls "$W/mnt/trees/0000000000000000000000000000000000000000000000000000000000000000"
  [ "$status" -ne 0 ]
  run ls "$W/mnt/trees/not-a-digest"
  [ "$status" -ne 0 ]
}

@test "the view is read-only" {
  run sh -c "echo x > '$W/mnt/trees/$T1/etc/new'"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Read-only file system"* ]]
  run touch "$W/mnt/trees/$T1/usr/bin/hello"
  [ "$status" -ne 0 ]
  grep -E " $W/mnt .* fuse.casfs $W/store ro," /proc/self/mountinfo
}

@test "overlay xattrs: shown to CAP_SYS_ADMIN, hidden from everyone else" {
  command -v "$PY" >/dev/null || skip "python3 missing"
  f=$W/mnt/trees/$T1/usr/lib/blob
  obj=$(object_of "$W/img1/usr/lib/blob")
  want="/${obj#$W/store/objects/}"
  run "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.redirect").decode())' "$f"
  [ "$output" = "$want" ]
  run "$PY" -c 'import os,sys; print(len(os.getxattr(sys.argv[1], "trusted.overlay.metacopy")))' "$f"
  [ "$output" = 0 ]
  run "$PY" -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$f"
  [[ "$output" == *trusted.overlay.redirect* ]]
  h=$W/mnt/trees/$T1/usr/bin/hello
  run "$PY" -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$h"
  [[ "$output" == *trusted.private* && "$output" == *user.mime* ]]
  # Unprivileged: no trusted.* names, no values.
  for who in "--reuid=65534 --regid=65534 --clear-groups" "--bounding-set=-sys_admin"; do
    # shellcheck disable=SC2086
    run setpriv $who "$PY" -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$h"
    echo "$who: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *user.mime* && "$output" != *trusted.* ]]
    # shellcheck disable=SC2086
    run setpriv $who "$PY" -c 'import os,sys; os.getxattr(sys.argv[1], "trusted.overlay.redirect")' "$f"
    [ "$status" -ne 0 ]
  done
  # The image's own trusted.overlay.* are escaped, never interpreted: deep
  # has its own opaque, usr/bin has none.
  run "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.overlay.opaque").decode())' \
    "$W/mnt/trees/$T1/usr/lib/deep"
  [ "$output" = y ]
  run "$PY" -c 'import os,sys; os.getxattr(sys.argv[1], "trusted.overlay.overlay.opaque")' "$W/mnt/trees/$T1/usr/bin"
  [ "$status" -ne 0 ]
  # Every directory of a tree is opaque to overlayfs (a tree is a whole
  # image): shown and listed to CAP_SYS_ADMIN only, never on a file.
  run "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode(), sorted(os.listxattr(sys.argv[1])))' \
    "$W/mnt/trees/$T1/usr/bin"
  [ "$output" = "y ['trusted.overlay.opaque']" ]
  run "$PY" -c 'import os,sys; os.getxattr(sys.argv[1], "trusted.overlay.opaque")' "$f"
  [ "$status" -ne 0 ]
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' \
    "$W/mnt/trees/$T1/usr/bin"
  [ "$output" = "[]" ]
}

@test "overlay stack: reads go straight to the objects, never through FUSE" {
  need_overlay
  mount_layer_a "$T1" "$W/a1"
  run diff <("$H" dump "$W/img1") <("$H" dump "$W/a1")
  echo "$output"
  [ "$status" -eq 0 ]
  before=$(stat_of read_bytes)
  cat "$W/a1/usr/lib/blob" "$W/a1/usr/lib/libbig.so" > /dev/null
  cmp "$W/img1/usr/lib/blob" "$W/a1/usr/lib/blob"
  [ "$(stat_of read_bytes)" -eq "$before" ]
}

@test "writable overlay on top: copy-up leaves the object and its digest untouched" {
  need_overlay
  mount_layer_a "$T1" "$W/a1"
  mkdir -p "$W/up" "$W/work" "$W/rw"
  mount -t overlay overlay -o "lowerdir=$W/a1,upperdir=$W/up,workdir=$W/work" "$W/rw"
  obj=$(object_of "$W/img1/usr/lib/blob")
  echo appended >> "$W/rw/usr/lib/blob"
  chmod 600 "$W/rw/usr/bin/tool"
  echo new > "$W/rw/etc/new-file"
  [ "$(tail -c 9 "$W/rw/usr/lib/blob")" = appended ]
  [ "$(basename "$(dirname "$obj")")$(basename "$obj")" = "$(sha256sum "$obj" | cut -c1-64)" ]
  cmp "$W/img1/usr/lib/blob" "$obj"
  cmp "$W/img1/usr/lib/blob" "$W/a1/usr/lib/blob"
  # The upper holds ordinary files only.
  [ "$(stat -c %s "$W/up/usr/lib/blob")" -eq $((3145728 + 9)) ]
  [ "$(stat -c %a "$W/rw/usr/bin/tool")" = 600 ]
}

@test "page cache: two images with different mtimes, two overlays, one cached copy" {
  need_overlay
  mount_layer_a "$T1" "$W/a1"
  mount_layer_a "$T2" "$W/a2"
  [ "$(stat -c %Y "$W/a1/usr/lib/blob")" != "$(stat -c %Y "$W/a2/usr/lib/blob")" ]
  obj=$(object_of "$W/img1/usr/lib/blob")
  sync
  echo 3 > /proc/sys/vm/drop_caches
  [ "$(cached_pages "$obj")" -eq 0 ]
  cat "$W/a1/usr/lib/blob" > /dev/null
  cat "$W/a2/usr/lib/blob" > /dev/null
  echo "object: $(cached_pages "$obj") view1: $(cached_pages "$W/mnt/trees/$T1/usr/lib/blob")" \
    "view2: $(cached_pages "$W/mnt/trees/$T2/usr/lib/blob")"
  [ "$(cached_pages "$obj")" -eq 768 ]
  [ "$(cached_pages "$W/mnt/trees/$T1/usr/lib/blob")" -eq 0 ]
  [ "$(cached_pages "$W/mnt/trees/$T2/usr/lib/blob")" -eq 0 ]
  # Both overlays map the object's own pages.
  [ "$(cached_pages "$W/a1/usr/lib/blob")" -eq 768 ]
  [ "$(cached_pages "$W/a2/usr/lib/blob")" -eq 768 ]
}

@test "FUSE fallback path: identical files share one page cache, objects are not cached twice" {
  f1=$W/mnt/trees/$T1/usr/lib/libbig.so f2=$W/mnt/trees/$T2/usr/lib/libbig.so
  obj=$(object_of "$W/img1/usr/lib/libbig.so")
  [ "$(stat -c %i "$f1")" = "$(stat -c %i "$f2")" ]
  sync
  echo 3 > /proc/sys/vm/drop_caches
  before=$(stat_of read_bytes)
  cmp "$W/img1/usr/lib/libbig.so" "$f1"
  echo "fuse1: $(cached_pages "$f1") fuse2: $(cached_pages "$f2") object: $(cached_pages "$obj")"
  [ "$(stat_of read_bytes)" -ge $((before + 2097152)) ]
  # f2 was never read, yet its pages are cached: they are f1's.  (Rarely the
  # kernel drops a few pages right away, so "nearly all", not "all".)
  [ "$(cached_pages "$f2")" -ge 460 ]
  [ "$(cached_pages "$obj")" -eq 0 ]
  # Read again through the other image: served from the shared cache.
  before=$(stat_of read_bytes)
  cmp "$W/img1/usr/lib/libbig.so" "$f2"
  [ $(($(stat_of read_bytes) - before)) -le 262144 ]
}

@test "a missing or corrupt object is EIO for that file and a log line, nothing else" {
  mkdir -p "$W/img3"
  echo "only here: missing" > "$W/img3/missing"
  echo "only here: truncated" > "$W/img3/short"
  echo "only here: fine" > "$W/img3/fine"
  t3=$("$H" mkstore "$W/store" "$W/img3" img3)
  rm -f "$(object_of "$W/img3/missing")"
  o=$(object_of "$W/img3/short"); chmod 644 "$o"; truncate -s 3 "$o"
  run cat "$W/mnt/trees/$t3/missing"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Input/output error"* ]]
  run cat "$W/mnt/trees/$t3/short"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Input/output error"* ]]
  [ "$(cat "$W/mnt/trees/$t3/fine")" = "only here: fine" ]
  grep -q "object .*No such file" "$W/mnt.log"
  grep -q "corrupt (size 3" "$W/mnt.log"
  kill -0 "$(cat "$W/mnt.pid")"
}

@test "forget frees inodes: the daemon's table follows the kernel's inode cache" {
  mkdir -p "$W/img4"
  for d in $(seq 1 30); do
    mkdir "$W/img4/d$d"
    for f in $(seq 1 100); do echo "$d/$f" > "$W/img4/d$d/f$f"; done
  done
  t4=$("$H" mkstore "$W/store" "$W/img4" img4)
  [ "$(find "$W/mnt/trees/$t4" -type f | wc -l)" -eq 3000 ]
  find "$W/mnt/trees/$t4" -type f -exec stat -c %i {} + > /dev/null
  high=$(stat_of inodes)
  echo 2 > /proc/sys/vm/drop_caches
  sleep 1
  low=$(stat_of inodes)
  echo "inodes after find: $high, after dropping the kernel's inodes: $low"
  [ "$high" -ge 3000 ]
  [ "$low" -lt 1000 ]
}

@test "readdirplus: entries the kernel holds go out as names only; listings and attributes stay exact" {
  mkdir -p "$W/img7/d"
  for f in $(seq 1 50); do
    echo "$f" > "$W/img7/d/f$f"
    chmod $((600 + f % 2 * 44)) "$W/img7/d/f$f"
    touch -d "2011-01-$((f % 28 + 1)) 10:00:$((f % 60)).$f" "$W/img7/d/f$f"
  done
  t7=$("$H" mkstore "$W/store" "$W/img7" img7)
  echo 2 > /proc/sys/vm/drop_caches
  sleep 1
  # (without ls's "total" line: st_blocks is the filesystem's, not the image's)
  want=$(cd "$W/img7/d" && ls -l --full-time | tail -n +2)
  held0=$(stat_of readdir_held)
  first=$(cd "$W/mnt/trees/$t7/d" && ls -l --full-time | tail -n +2)
  held1=$(stat_of readdir_held)
  second=$(cd "$W/mnt/trees/$t7/d" && ls -l --full-time | tail -n +2)
  held2=$(stat_of readdir_held)
  echo "names-only entries: first listing $((held1 - held0)), second $((held2 - held1))"
  [ "$first" = "$want" ]
  [ "$second" = "$want" ]
  # Cold: every entry carried its attributes (no lookup per entry followed).
  [ $((held1 - held0)) -eq 0 ]
  # Warm: the kernel held all 50, so they went out as names.
  [ $((held2 - held1)) -eq 50 ]
}

@test "layer A, cold walk: every listing carries attributes, directories answer opaque" {
  need_overlay
  # 600 entries: more than one READDIRPLUS reply holds.
  mkdir -p "$W/img8/big/sub1" "$W/img8/big/sub2"
  for f in $(seq 1 600); do echo "$f" > "$W/img8/big/an-entry-with-a-longer-name-$f"; done
  t8=$("$H" mkstore "$W/store" "$W/img8" img8)
  mount_layer_a "$t8" "$W/a8"
  # Twice: the first pass frees overlayfs' dentries, which pinned the view's.
  echo 2 > /proc/sys/vm/drop_caches
  echo 2 > /proc/sys/vm/drop_caches
  sleep 1
  # One read of the stats file per snapshot; that read is itself a lookup
  # (the file's entry is never cached).
  counters() { awk '$1 == "lookup" { l = $2 } $1 == "getxattr" { g = $2 } END { print l, g }' "$W/mnt/stats"; }
  read -r l0 g0 < <(counters)
  [ "$(find "$W/a8" -type f -printf '%s %m %T@\n' | wc -l)" -eq 600 ]
  read -r l1 g1 < <(counters)
  echo "cold walk: $((l1 - l0 - 1)) lookups, $((g1 - g0)) getxattr"
  # No entry was looked up one by one after its listing...
  [ $((l1 - l0 - 1)) -eq 0 ]
  # ...and a directory costs overlayfs at most two questions (opaque, then
  # origin: the opaque answer spares it the redirect), a file three.
  [ $((g1 - g0)) -le $((600 * 3 + 3 * 2)) ]
  run "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$W/mnt/trees/$t8/big/sub1"
  [ "$output" = y ]
  run diff <("$H" dump "$W/img8") <("$H" dump "$W/a8")
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "page cache: directory listings are not cached, identical symlinks of two trees are one page" {
  # A directory is an inode per path in each tree: cached listings would cost
  # a page per directory of every image.  Identical symlinks share an inode.
  mkdir -p "$W/img5"
  for d in $(seq 1 100); do
    mkdir "$W/img5/d$d"
    for f in $(seq 1 4); do ln -s "target-$d-$f" "$W/img5/d$d/l$f"; done
  done
  cp -a "$W/img5" "$W/img6"
  echo other > "$W/img6/marker"
  t5=$("$H" mkstore "$W/store" "$W/img5" img5)
  t6=$("$H" mkstore "$W/store" "$W/img6" img6)
  [ "$t5" != "$t6" ]
  if [ -d /sys/fs/cgroup/memory ]; then
    cg=/sys/fs/cgroup/memory/casfs-bats-$$ key=cache
  elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cg=/sys/fs/cgroup/casfs-bats-$$ key=file
  else
    skip "no memory cgroup controller to measure page cache with"
  fi
  mkdir "$cg"
  # The pass over img5 loads the tools and img5's symlinks (charged to the
  # cgroup); the pass over img6 should then cost next to nothing.
  run sh -c 'echo $$ > "$1/cgroup.procs" && walk() { cd "$1" && ls -R . > /dev/null && find . -type l -exec readlink {} + | wc -l; }
    walk "$2" > /dev/null && awk -v k="$4" "\$1 == k { print \$2 }" "$1/memory.stat" && walk "$3"' \
    sh "$cg" "$W/mnt/trees/$t5" "$W/mnt/trees/$t6" "$key"
  cached=$(awk -v k="$key" '$1 == k { print $2 }' "$cg/memory.stat")
  rmdir "$cg"
  echo "output: $output; page cache charged in the end: $cached bytes"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" -eq 400 ]
  # img6's own 400 symlinks and 101 directories would be 500 pages (2 MiB).
  [ $((cached - lines[0])) -lt $((32 * 4096)) ]
}

@test "FUSE over io_uring: per-CPU rings serve the view; overlay stack, kill -9 and restart work" {
  param=/sys/module/fuse/parameters/enable_uring
  [ -e "$param" ] || skip "this kernel has no FUSE over io_uring (CONFIG_FUSE_IO_URING, Linux 6.14+)"
  [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] || skip "io_uring is disabled (kernel.io_uring_disabled)"
  need_overlay
  was=$(cat "$param")
  # --io-uring on: the kernel's offer is turned on for this mount's INIT
  # only, and the parameter is as it was once the mount is up.
  "$CASFS" --store "$W/store" mount --io-uring on "$W/mnt-ring"
  # (the rings register once the kernel's INIT is answered, just after the
  # mount is up; the parameter goes back then)
  ls "$W/mnt-ring" > /dev/null
  for _ in $(seq 50); do [ "$(cat "$param")" = "$was" ] && break; sleep 0.1; done
  [ "$(cat "$param")" = "$was" ]
  uring() { awk '$1 == "uring" { print $2 }' "$W/mnt-ring/stats"; }
  run diff <("$H" dump "$W/img1") <("$H" dump --view "$W/mnt-ring/trees/$T1")
  echo "$output"
  [ "$status" -eq 0 ]
  echo "requests served on rings: $(uring)"
  [ "$(uring)" -gt 0 ]
  # One ring thread per CPU, each SCHED_IDLE (policy 5, field 41 of
  # /proc/TID/stat) so that a reply leaves its caller on the caller's CPU.
  idle=0
  for t in /proc/"$(cat "$W/mnt-ring.pid")"/task/*; do
    [ "$(awk '{ print $41 }' "$t/stat")" = 5 ] && idle=$((idle + 1))
  done
  echo "SCHED_IDLE ring threads: $idle of $(nproc) CPUs"
  [ "$idle" -eq "$(nproc)" ]
  # The overlay stack on top: xattrs, lookups and reads of a data-only layer.
  mkdir -p "$W/ring-a"
  mount -t overlay overlay -o "ro,metacopy=on,redirect_dir=follow,lowerdir=$W/mnt-ring/trees/$T1::$W/store/objects" "$W/ring-a"
  cmp "$W/img1/usr/lib/blob" "$W/ring-a/usr/lib/blob"
  [ "$(find "$W/ring-a" | wc -l)" -eq "$(find "$W/img1" | wc -l)" ]
  umount "$W/ring-a"
  # A daemon killed with rings registered leaves nothing hanging.
  pid=$(cat "$W/mnt-ring.pid")
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  run timeout 5 cat "$W/mnt-ring/trees/$T1/etc/passwd"
  [ "$status" -ne 124 ]
  "$CASFS" umount -f "$W/mnt-ring"
  ! grep -q " $W/mnt-ring " /proc/self/mountinfo
  # --io-uring off: the same daemon serves through /dev/fuse only.
  "$CASFS" --store "$W/store" mount --io-uring off "$W/mnt-ring"
  cmp "$W/img1/etc/passwd" "$W/mnt-ring/trees/$T1/etc/passwd"
  [ "$(uring)" -eq 0 ]
  "$CASFS" umount "$W/mnt-ring"
  # A daemon that fails after mounting (no pid file) leaves neither the
  # mount nor the kernel parameter behind.
  run "$CASFS" --store "$W/store" mount --io-uring on --pid-file /proc/casfs-no/pid "$W/mnt-ring"
  [ "$status" -ne 0 ]
  [ "$(cat "$param")" = "$was" ]
  ! grep -q " $W/mnt-ring " /proc/self/mountinfo
  run "$CASFS" --store "$W/store" mount --io-uring sometimes "$W/mnt-ring"
  [ "$status" -ne 0 ]
  [[ "$output" == *"--io-uring: want auto, on or off"* ]]
}

@test "a second daemon on a live mount is refused" {
  run "$CASFS" --store "$W/store" mount "$W/mnt"
  [ "$status" -ne 0 ]
  [[ "$output" == *"already a live casfs mount"* ]]
}

@test "ensure_running: concurrent callers start one daemon; a killed daemon is replaced" {
  "$H" ensure "$W/store" "$W/mnt2" & p1=$!
  "$H" ensure "$W/store" "$W/mnt2" & p2=$!
  wait $p1
  wait $p2
  [ "$(grep -c " $W/mnt2 " /proc/self/mountinfo)" -eq 1 ]
  pid=$(cat "$W/mnt2.pid")
  [ -d "$W/mnt2/trees/$T1/usr" ]
  "$H" ensure "$W/store" "$W/mnt2"
  [ "$(cat "$W/mnt2.pid")" = "$pid" ]
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  # The dead mount answers at once (ENOTCONN), it never hangs.
  run timeout 5 ls "$W/mnt2"
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
  "$H" ensure "$W/store" "$W/mnt2"
  [ "$(cat "$W/mnt2.pid")" != "$pid" ]
  cmp "$W/img1/etc/passwd" "$W/mnt2/trees/$T1/etc/passwd"
  [ "$(grep -c " $W/mnt2 " /proc/self/mountinfo)" -eq 1 ]
  "$CASFS" umount "$W/mnt2"
  ! grep -q " $W/mnt2 " /proc/self/mountinfo
  [ ! -e "$W/mnt2.pid" ]
}

@test "kill -9, then umount -f: no mount and no process left" {
  "$CASFS" --store "$W/store" mount "$W/mnt3"
  pid=$(cat "$W/mnt3.pid")
  exec 7< "$W/mnt3/trees/$T1/usr/lib/blob"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  run timeout 5 cat "$W/mnt3/trees/$T1/etc/passwd"
  [ "$status" -ne 124 ]
  exec 7<&-
  "$CASFS" umount -f "$W/mnt3"
  ! grep -q " $W/mnt3 " /proc/self/mountinfo
  # Restart on the same mountpoint works.
  "$CASFS" --store "$W/store" mount "$W/mnt3"
  cmp "$W/img1/etc/passwd" "$W/mnt3/trees/$T1/etc/passwd"
  "$CASFS" umount "$W/mnt3"
}

@test "SIGTERM unmounts cleanly; -f serves in the foreground" {
  "$CASFS" --store "$W/store" mount "$W/mnt4"
  pid=$(cat "$W/mnt4.pid")
  kill -TERM "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null
  ! grep -q " $W/mnt4 " /proc/self/mountinfo
  [ ! -e "$W/mnt4.pid" ]
  "$CASFS" --store "$W/store" mount -f "$W/mnt5" 2> "$W/mnt5.err" & fg=$!
  for _ in $(seq 50); do [ -e "$W/mnt5.pid" ] && break; sleep 0.1; done
  [ "$(cat "$W/mnt5.pid")" = "$fg" ]
  cmp "$W/img1/etc/passwd" "$W/mnt5/trees/$T1/etc/passwd"
  "$CASFS" umount "$W/mnt5"
  wait "$fg"
}

@test "bad arguments: one clear line, non-zero exit" {
  run "$CASFS" --store "$W/nonexistent" mount "$W/mnt6"
  [ "$status" -ne 0 ]
  [[ "$output" == *nonexistent* ]]
  run "$CASFS" umount "$W/img1"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not a casfs mount"* ]]
  run "$CASFS" mount --threads 0 "$W/mnt6"
  [ "$status" -eq 2 ]
}
