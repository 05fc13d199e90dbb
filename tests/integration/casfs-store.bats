#!/usr/bin/env bats
# casfs store verbs (ls, cat, export, rm, gc, fsck, du, stats) on a store
# built through the API by the unit test binary (`--make-store`), the same
# sample store the unit tests use; see tests/unit/test_casfs_store.c.

setup() {
  CASFS=${SAMEPAGE_BUILD:?run through tests/run-tests}/casfs
  MAKER=$SAMEPAGE_BUILD/tests/test_casfs_store
  DATA=$SAMEPAGE_TOP/tests/data/casfs
  [ -x "$CASFS" ] || skip "casfs not built"
  [ -x "$MAKER" ] || skip "test_casfs_store not built"
  STORE=$(mktemp -d /tmp/casfs-bats.XXXXXX)
  "$MAKER" --make-store "$STORE"
  export CASFS_STORE=$STORE
}

teardown() {
  [ -n "${WRITER_PID:-}" ] && kill "$WRITER_PID" 2>/dev/null; wait 2>/dev/null
  [ -n "${STORE:-}" ] && rm -rf "$STORE" "$STORE.tar" "$STORE.out"
  true
}

obj_path() {   # content -> path of its object
  local h; h=$(printf '%s' "$1" | sha256sum | cut -c1-64)
  echo "$STORE/objects/${h:0:2}/${h:2}"
}

@test "refs lists both images" {
  run "$CASFS" refs
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == *"	img/a:1" ]]
}

@test "ls --dump matches the golden files" {
  run "$CASFS" ls --dump img/a:1
  [ "$status" -eq 0 ]
  diff -u "$DATA/sample-a.dump" <(printf '%s\n' "${lines[@]}")
  "$CASFS" ls --dump img/b:1 | diff -u "$DATA/sample-b.dump" -
}

@test "ls lists a directory like ls -l and a single entry" {
  run "$CASFS" ls img/a:1 /bin
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "lrwxrwxrwx 1 0 0          2 2023-11-14 22:13:20 link -> sh" ]
  [ "${lines[1]}" = "-rwsr-xr-x 2 0 0          8 2023-11-14 22:13:20 sh" ]
  run "$CASFS" ls img/a:1 /dev/null
  [[ "$output" == "crw-rw-rw- 1 0 0       1, 3 "*" /dev/null" ]]
  run "$CASFS" ls img/a:1 /nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"/nope"* ]]
}

@test "ls accepts a tree digest" {
  tree=$("$CASFS" refs | awk '$2 == "img/b:1" {print $1}')
  run "$CASFS" ls "sha256:$tree"
  [ "$status" -eq 0 ]
  [[ "$output" == *"own.bin"* ]]
}

@test "cat prints content, follows symlinks inside the tree only, refuses directories" {
  run "$CASFS" cat img/a:1 /etc/passwd
  [ "$output" = "root:x:0:0" ]
  run "$CASFS" cat img/a:1 /bin/link
  [ "$output" = "#!shell" ]
  run "$CASFS" cat img/a:1 /../../etc/hostname
  [ "$output" = "host" ]
  run "$CASFS" cat img/a:1 /etc
  [ "$status" -eq 1 ]
  [[ "$output" == *"Is a directory"* ]]
  run "$CASFS" cat img/a:1 /fifo
  [ "$status" -eq 1 ]
  [[ "$output" == *"not a regular file"* ]]
}

@test "export writes a pax tar with hardlinks, devices, xattrs and ns mtimes" {
  run "$CASFS" export img/a:1 "$STORE.tar"
  [ "$status" -eq 0 ]
  run tar -tvf "$STORE.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"bin/sh2 link to bin/sh"* ]]
  [[ "$output" == *"crw-rw-rw- 0/0"*"1,3"*"dev/null"* ]]
  [[ "$output" == *"prw------- 1000/100"*"fifo"* ]]
  [[ "$output" != *"Ignoring unknown extended header"* ]]
  python3 - "$STORE.tar" <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1])
sh = t.getmember("bin/sh")
assert sh.pax_headers["mtime"] == "1700000000.123456789", sh.pax_headers
cap = sh.pax_headers["SCHILY.xattr.security.capability"]
assert cap.encode("latin-1", "surrogateescape")[:4] == b"\x01\x00\x00\x02", repr(cap)
assert t.extractfile("etc/passwd").read() == b"root:x:0:0\n"
PY
  # a failed export leaves nothing behind
  run "$CASFS" export img/none:1 "$STORE.out"
  [ "$status" -eq 1 ]
  [ ! -e "$STORE.out" ]
}

@test "fsck: clean store exits 0" {
  run "$CASFS" fsck
  [ "$status" -eq 0 ]
  [[ "$output" == *"0 problems"* ]]
}

@test "fsck detects a flipped byte in an object and --repair quarantines it" {
  f=$(obj_path "$(printf 'own.bin-content-placeholder')")   # not in the store: sanity of obj_path
  [ ! -e "$f" ]
  f=$(obj_path "0123456789")
  [ -f "$f" ]
  chmod 644 "$f"; printf 'X' | dd of="$f" bs=1 seek=3 conv=notrunc status=none
  run "$CASFS" fsck
  [ "$status" -eq 1 ]
  [[ "$output" == *"content does not match its name"* ]]
  [[ "$output" == *"affected: ref img/b:1"* ]]
  [[ "$output" != *"affected: ref img/a:1"* ]]
  run "$CASFS" fsck --repair
  [ "$status" -eq 1 ]
  [ ! -e "$f" ]
  ls "$STORE/quarantine" | grep -q '^objects-'
}

@test "fsck detects a truncated tree" {
  tree=$("$CASFS" refs | awk '$2 == "img/b:1" {print $1}')
  t="$STORE/trees/${tree:0:2}/${tree:2}"
  chmod 644 "$t"; truncate -s 30 "$t"
  run "$CASFS" fsck
  [ "$status" -eq 1 ]
  [[ "$output" == *"does not match its digest"* ]]
  [[ "$output" == *"affected: ref img/b:1"* ]]
}

@test "gc keeps everything reachable, frees the rest, honours roots/" {
  garbage=$(obj_path "0123456789")
  run "$CASFS" gc
  [ "$status" -eq 0 ]
  [[ "$output" == *"freed 0 trees, 0 objects"* ]]
  "$CASFS" rm img/b:1
  run "$CASFS" gc --dry-run --verbose
  [ "$status" -eq 0 ]
  [[ "$output" == *"would remove objects/"* ]]
  [ -e "$garbage" ]
  # a running container's tree (roots/) survives without a ref
  tree=$("$CASFS" refs | awk '$2 == "img/a:1" {print $1}')
  "$CASFS" rm img/a:1
  echo "$tree" > "$STORE/roots/ctr-1"
  run "$CASFS" gc
  [ "$status" -eq 0 ]
  [[ "$output" == *"freed 1 trees, 2 objects, 1 image records"* ]]
  [ ! -e "$garbage" ]   # own.bin; the other object freed is a's image config
  run "$CASFS" cat "$tree" /etc/passwd
  [ "$output" = "root:x:0:0" ]
  run "$CASFS" fsck
  [ "$status" -eq 0 ]
  rm "$STORE/roots/ctr-1"
  run "$CASFS" gc
  [[ "$output" == *"kept 0 trees, 0 objects, 0 image records"* ]]
}

@test "gc waits for a writer holding the lock and loses nothing of it" {
  "$MAKER" --write-locked "$STORE" > "$STORE.out" &
  WRITER_PID=$!
  for _ in $(seq 50); do grep -q locked "$STORE.out" 2>/dev/null && break; sleep 0.1; done
  grep -q locked "$STORE.out"
  start=$(date +%s%N)
  run "$CASFS" gc
  [ "$status" -eq 0 ]
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
  wait "$WRITER_PID"; WRITER_PID=
  [ "$elapsed" -ge 1000 ]   # it waited for the writer's shared lock
  run "$CASFS" cat img/new:1 /new.txt
  [ "$status" -eq 0 ]
  [ "$output" = "written under the shared lock" ]
  run "$CASFS" fsck
  [ "$status" -eq 0 ]
}

@test "stats --json numbers are exact" {
  run "$CASFS" stats --json
  [ "$status" -eq 0 ]
  [ "$(jq -c '.store | [.images, .trees, .files, .logical_bytes, .unique_objects, .unique_bytes, .shared_objects, .shared_bytes, .dedup_ratio, .disk_objects, .disk_bytes]' <<<"$output")" = "[2,5,8,64,5,41,3,23,1.56,6,78]" ]
  [ "$(jq -c '[.images[] | [.ref, .files, .logical_bytes, .unique_bytes, .shared_objects]]' <<<"$output")" = '[["img/a:1",4,31,31,3],["img/b:1",4,33,33,3]]' ]
}

@test "du prints a table, selects refs, and --json" {
  run "$CASFS" du --bytes
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == REF*FILES*LOGICAL*UNIQUE*SHARED*RATIO ]]
  [[ "${lines[3]}" =~ ^TOTAL\ +8\ +64\ +41\ +3\ +23\ +1\.56$ ]]
  run "$CASFS" du --json img/b:1
  [ "$(jq -r '.images | length' <<<"$output")" = 1 ]
  [ "$(jq -r '.images[0].logical_bytes' <<<"$output")" = 33 ]
  run "$CASFS" du img/none
  [ "$status" -eq 1 ]
}

@test "rm of a missing ref fails and usage errors exit 2" {
  run "$CASFS" rm img/none:1
  [ "$status" -eq 1 ]
  [[ "$output" == *"no ref"* ]]
  run "$CASFS" cat img/a:1
  [ "$status" -eq 2 ]
  run "$CASFS" gc extra
  [ "$status" -eq 2 ]
}

@test "fsck: a ref whose image record names another tree is a problem" {
  a="$STORE/refs/img%2Fa:1"
  b=$(sed -n 1p "$STORE/refs/img%2Fb:1")
  printf '%s\n%s\n' "$b" "$(sed -n 2p "$a")" > "$a"
  run "$CASFS" fsck
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"ref \`img/a:1\`: its image record is for another tree"* ]]
}
