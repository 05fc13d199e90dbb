#!/usr/bin/env bats
# casfs import: real images built here, a hostile corpus made at test time,
# and crash tests (SIGKILL mid-import leaves no partial object, tree or ref).

setup_file() {
  export CASFS="${SAMEPAGE_BUILD:-$BATS_TEST_DIRNAME/../../build}/casfs"
  export DATA="$BATS_TEST_DIRNAME/../data/casfs-import"
  export WORK="$BATS_FILE_TMPDIR/work"
  mkdir -p "$WORK"
  python3 "$DATA/make_inputs.py" image "$WORK/img"
  python3 "$DATA/make_inputs.py" hostile "$WORK/hostile"
}

dump() { python3 "$DATA/casfs_tree.py" dump "$@"; }
# fsck finds nothing wrong, stats and du read every image, gc keeps everything
# a ref reaches (the record, its config object and layer trees).
store_checks() {
  local S=$1 before after
  run "$CASFS" --store "$S" fsck
  echo "$output"
  [ "$status" -eq 0 ]
  run "$CASFS" --store "$S" stats --json
  [ "$status" -eq 0 ]
  jq -e '.store.images >= 1 and .store.problems == 0' <<<"$output" >/dev/null
  run "$CASFS" --store "$S" du
  [ "$status" -eq 0 ]
  before=$(cd "$S" && find objects trees images refs -type f | sort)
  run "$CASFS" --store "$S" gc
  echo "$output"
  [ "$status" -eq 0 ]
  after=$(cd "$S" && find objects trees images refs -type f | sort)
  [ "$before" = "$after" ]
}
verify() { python3 "$DATA/casfs_tree.py" verify "$1"; }

@test "OCI layout: three layers stack with whiteouts, opaque dir, hardlinks, devices, setuid, xattrs" {
  S="$BATS_TEST_TMPDIR/s"
  run "$CASFS" --store "$S" import --ref img "$WORK/img/oci"
  [ "$status" -eq 0 ]
  dump "$S" img > "$BATS_TEST_TMPDIR/d"
  cat "$BATS_TEST_TMPDIR/d"
  grep -qP '^f\t4755\t.*\tbin/tool\t' "$BATS_TEST_TMPDIR/d"                 # setuid kept
  ! grep -q 'bin/tool-link' "$BATS_TEST_TMPDIR/d"                          # whited out
  grep -qP '^c\t0666\t.*dev/null\t-\trdev=1,3' "$BATS_TEST_TMPDIR/d"       # device as metadata
  grep -qP '^b\t0660\t.*dev/sda\t-\trdev=8,0' "$BATS_TEST_TMPDIR/d"
  grep -qP '^p\t0600\t.*dev/fifo' "$BATS_TEST_TMPDIR/d"
  grep -q 'bin/ping.*xattr:security.capability=01000002' "$BATS_TEST_TMPDIR/d"
  ! grep -q 'overlay' "$BATS_TEST_TMPDIR/d"                                # no injected redirect, no markers
  ! grep -q 'casfs.implicit' "$BATS_TEST_TMPDIR/d"
  grep -qP '\topt/app/c\t' "$BATS_TEST_TMPDIR/d"
  ! grep -qP '\topt/app/[ab]\t' "$BATS_TEST_TMPDIR/d"                       # opaque dir
  grep -qP '^f\t0600\t.*\t21\t.*etc/shadow' "$BATS_TEST_TMPDIR/d"          # removed, then re-added
  grep -qP 'home/u/x\t-\tlink=1/2' "$BATS_TEST_TMPDIR/d"
  grep -qP 'home/u/y\t-\tlink=1/2' "$BATS_TEST_TMPDIR/d"
  grep -qP '\tvar/lib/more\t' "$BATS_TEST_TMPDIR/d"                        # "./var//lib/./more"
  grep -qP '^d\t0755\t0\t0\t1700000000\t0\t-\tbin\t' "$BATS_TEST_TMPDIR/d" # implicit parent keeps lower metadata
  # the image record (docs/store-format.md): the ref names tree and record
  tree=$(grep -oE '^[0-9a-f]{64}' <<<"$output")
  [ "$(sed -n 1p "$S/refs/img")" = "$tree" ]
  rec=$(sed -n 's/^image //p' "$S/refs/img")
  [ -n "$rec" ] && [ "$(sha256sum < "$S/images/$rec.json" | cut -c1-64)" = "$rec" ]
  python3 "$DATA/check_record.py" "$S" "$rec" "$tree" "$WORK/img/oci" "oci:$WORK/img/oci"
  store_checks "$S"
  verify "$S"
}

@test "OCI layout tar and the layout directory give the same tree" {
  S="$BATS_TEST_TMPDIR/s"
  a=$("$CASFS" --store "$S" import -q --ref a "$WORK/img/oci" | cut -f1)
  b=$("$CASFS" --store "$S" import -q --ref b --type oci "$WORK/img/oci.tar" | cut -f1)
  [ -n "$a" ] && [ "$a" = "$b" ]
}

@test "layer tarballs: plain, gzip, zstd, xz give the same layer tree" {
  S="$BATS_TEST_TMPDIR/s"
  L="$WORK/img/layer1.tar"
  gzip -c "$L" > "$BATS_TEST_TMPDIR/l.tar.gz"
  zstd -q -c "$L" > "$BATS_TEST_TMPDIR/l.tar.zst"
  xz -c "$L" > "$BATS_TEST_TMPDIR/l.tar.xz"
  want=$("$CASFS" --store "$S" import -q --ref plain "$L" | cut -f1)
  for f in l.tar.gz l.tar.zst l.tar.xz; do
    got=$("$CASFS" --store "$S" import -q --ref "$f" "$BATS_TEST_TMPDIR/$f" | cut -f1)
    [ "$got" = "$want" ]
  done
  # a layer's record: the blob's digest and size, no config
  rec=$(sed -n 's/^image //p' "$S/refs/l.tar.gz")
  jq -e --arg d "sha256:$(sha256sum < "$BATS_TEST_TMPDIR/l.tar.gz" | cut -c1-64)" \
     --arg src "layer:$BATS_TEST_TMPDIR/l.tar.gz" --argjson size "$(stat -c %s "$BATS_TEST_TMPDIR/l.tar.gz")" \
     '.source == $src and (.layers | length) == 1 and .layers[0].digest == $d and .layers[0].size == $size and (has("config_digest") | not)' \
     "$S/images/$rec.json"
  store_checks "$S"
  verify "$S"
}

@test "platform selection: default linux/amd64, --platform, and a clear error" {
  S="$BATS_TEST_TMPDIR/s"
  run "$CASFS" --store "$S" import --ref amd "$WORK/img/multi"
  [ "$status" -eq 0 ]
  [[ "$output" == *"2 layers"* ]]
  run "$CASFS" --store "$S" import --ref arm --platform linux/arm64 "$WORK/img/multi"
  [ "$status" -eq 0 ]
  [[ "$output" == *"3 layers"* ]]
  run "$CASFS" --store "$S" import --ref x --platform linux/s390x "$WORK/img/multi"
  [ "$status" -ne 0 ]
  [[ "$output" == *"no manifest for platform linux/s390x (has: linux/arm64, linux/amd64)"* ]]
  [ ! -e "$S/refs/x" ]
}

@test "a layer whose digest does not match the manifest is refused, no ref" {
  S="$BATS_TEST_TMPDIR/s"
  cp -r "$WORK/img/oci" "$BATS_TEST_TMPDIR/bad"
  blob=$(python3 -c "import json,sys; i=json.load(open(sys.argv[1]+'/index.json')); m=json.load(open(sys.argv[1]+'/blobs/sha256/'+i['manifests'][0]['digest'][7:])); print(m['layers'][1]['digest'][7:])" "$BATS_TEST_TMPDIR/bad")
  f="$BATS_TEST_TMPDIR/bad/blobs/sha256/$blob"
  chmod u+w "$f"
  printf 'X' | dd of="$f" bs=1 seek=600 conv=notrunc status=none
  run "$CASFS" --store "$S" import --ref bad "$BATS_TEST_TMPDIR/bad"
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"layer 2 (sha256:$blob)"* ]]
  [ ! -e "$S/refs/bad" ]
  verify "$S"
}

@test "docker-save archive of a busybox image matches the layer's file list and the OCI layout" {
  command -v skopeo >/dev/null || skip "skopeo is not installed (make-zero-install-images.sh needs it)"
  Z="$BATS_TEST_TMPDIR/zi"
  source "$BATS_TEST_DIRNAME/../lib/zero-install.bash"
  zi=$(zi_script) || skip "make-zero-install-images.sh is not beside the repo (../shared/workloads)"
  bash "$zi" --base busybox --n 2 "$Z" >"$BATS_TEST_TMPDIR/zi.log" 2>&1 || { tail -3 "$BATS_TEST_TMPDIR/zi.log"; false; }
  S="$BATS_TEST_TMPDIR/s"
  a=$("$CASFS" --store "$S" import -q "$Z/img1/img1.tar" | cut -f1)
  b=$("$CASFS" --store "$S" import -q --ref oci1 "$Z/img1/oci" | cut -f1)
  [ "$a" = "$b" ]
  dump "$S" "$a" | awk -F'\t' '{print $1, $2, $3, $4, $5, ($1=="f"?$6:""), $7, $8, ($1=="l"?$9:"")}' | sort > "$BATS_TEST_TMPDIR/got"
  grep -v '^#' "$Z/img1/files.tsv" | awk -F'\t' '{print $1, $2, $3, $4, $5, ($1=="f"?$6:""), $7, $8, $9}' | sort > "$BATS_TEST_TMPDIR/want"
  diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
  # the second image shares every file but one: almost nothing new is stored
  run "$CASFS" --store "$S" import "$Z/img2/img2.tar"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ,\ 0\.[0-9]\ MiB\ new ]]
  store_checks "$S"
  verify "$S"
}

@test "hostile corpus: every case is a clear error naming the archive, and the store is unchanged" {
  S="$BATS_TEST_TMPDIR/s"
  "$CASFS" --store "$S" import -q --ref good "$WORK/img/layer1.tar"
  before=$(ls "$S/refs")
  n=0
  while IFS=$'\t' read -r f frag; do
    run "$CASFS" --store "$S" import --ref "evil-$f" "$WORK/hostile/$f"
    echo "$f: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"archive \`$WORK/hostile/$f\`"* ]]
    [[ "$output" == *"$frag"* ]]
    n=$((n + 1))
  done < "$WORK/hostile/expect.tsv"
  [ "$n" -ge 20 ]
  [ "$(ls "$S/refs")" = "$before" ]
  [ -z "$(ls "$S/tmp")" ]
  verify "$S"
}

@test "a plain directory with overlay whiteouts imports as a layer and stacks" {
  S="$BATS_TEST_TMPDIR/s"
  D="$BATS_TEST_TMPDIR/upper"
  mkdir -p "$D/etc" "$D/opt"
  echo new > "$D/etc/new"
  mknod "$D/etc/passwd" c 0 0 2>/dev/null || skip "mknod needs CAP_MKNOD"
  python3 -c 'import os,sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")' "$D/opt" 2>/dev/null ||
    skip "trusted xattrs need CAP_SYS_ADMIN"
  run "$CASFS" --store "$S" import --ref upper "$D"
  [ "$status" -eq 0 ]
  # alone, the whiteout hides nothing and is not in the merged tree
  dump "$S" upper > "$BATS_TEST_TMPDIR/d"
  grep -qP '\tetc/new\t' "$BATS_TEST_TMPDIR/d"
  ! grep -qP '\tetc/passwd\t' "$BATS_TEST_TMPDIR/d"
  ! grep -q overlay "$BATS_TEST_TMPDIR/d"
  rec=$(sed -n 's/^image //p' "$S/refs/upper")
  jq -e --arg src "dir:$D" '.source == $src and (.layers | length) == 1' "$S/images/$rec.json"
  store_checks "$S"
}

@test "crash: SIGKILL at random points leaves no partial object, tree or ref" {
  S="$BATS_TEST_TMPDIR/s"
  python3 "$DATA/make_inputs.py" big "$BATS_TEST_TMPDIR" 96
  for i in 1 2 3 4 5 6; do
    "$CASFS" --store "$S" import -q --ref crash "$BATS_TEST_TMPDIR/big.tar.gz" >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || true
    [ ! -e "$S/refs/crash" ] || { "$CASFS" --store "$S" refs; rm -f "$S/refs/crash"; }  # finished before the kill
    verify "$S"
  done
  run "$CASFS" --store "$S" import --ref crash "$BATS_TEST_TMPDIR/big.tar.gz"
  [ "$status" -eq 0 ]
  verify "$S"
}

@test "a debootstrap tree, if one is cached, imports as a directory and as a tarball alike" {
  # make-zero-install-images.sh caches its debootstrap'd base as base-<hash>/.
  R=
  for d in /var/cache/samepage-workloads/base-*/; do
    [ -d "$d/usr/bin" ] && [ -e "$d/etc/os-release" ] && { R=${d%/}; break; }
  done
  [ -n "$R" ] || skip "no cached debootstrap rootfs under /var/cache/samepage-workloads (make-zero-install-images.sh --base debian makes one)"
  S="$BATS_TEST_TMPDIR/s"
  tar -C "$R" --numeric-owner --xattrs -cf "$BATS_TEST_TMPDIR/rootfs.tar" .
  a=$("$CASFS" --store "$S" import -q --ref tar "$BATS_TEST_TMPDIR/rootfs.tar" | cut -f1)
  b=$("$CASFS" --store "$S" import -q --ref dir --type dir "$R" | cut -f1)
  [ -n "$a" ]
  echo "tar: $a, dir: $b, entries: $(dump "$S" "$a" | wc -l)"
  [ "$a" = "$b" ]
  store_checks "$S"
  verify "$S"
}

@test "round trip: import a real tree, export it, import the export: the same tree digest" {
  S="$BATS_TEST_TMPDIR/s"
  R="$BATS_TEST_TMPDIR/root"
  mkdir -p "$R/bin" "$R/dev" "$R/etc" "$R/home/u" "$R/empty"
  printf 'tool binary\n' > "$R/bin/tool"
  chmod 4755 "$R/bin/tool"                                   # setuid
  ln "$R/bin/tool" "$R/bin/tool-hard"                        # hardlink
  printf 'ping\n' > "$R/bin/ping"
  ln -s tool "$R/bin/link"                                   # symlink
  ln -s /etc/nowhere "$R/etc/dangling"
  printf 'x\n' > "$R/home/u/x"
  ln "$R/home/u/x" "$R/etc/x-again"                          # hardlink across directories
  chmod 1777 "$R/empty"                                       # sticky
  chown -h 1000:1001 "$R/home/u" "$R/home/u/x" "$R/etc/dangling"
  mknod "$R/dev/null" c 1 3 2>/dev/null || skip "mknod needs CAP_MKNOD"
  mknod "$R/dev/sda" b 8 0
  mkfifo "$R/dev/fifo"
  # security.capability (v2: cap_net_raw permitted+effective) and a user xattr
  python3 -c '
import os, struct, sys
os.setxattr(sys.argv[1] + "/bin/ping", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
os.setxattr(sys.argv[1] + "/etc", "user.note", b"hello\x00world")' "$R" 2>/dev/null ||
    skip "the filesystem under $BATS_TEST_TMPDIR takes no security.capability or user xattrs"
  find "$R" -mindepth 1 -exec touch -h -d '2023-11-14 22:13:20.123456789' {} +   # ns mtimes
  touch -h -d '2001-02-03 04:05:06.000000007' "$R/bin/link" "$R/dev/fifo"
  tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' --format=posix -cf "$BATS_TEST_TMPDIR/img.tar" .

  a=$("$CASFS" --store "$S" import -q --ref orig "$BATS_TEST_TMPDIR/img.tar" | cut -f1)
  d=$("$CASFS" --store "$S" import -q --ref dir --type dir "$R" | cut -f1)
  "$CASFS" --store "$S" ls --dump orig > "$BATS_TEST_TMPDIR/orig.dump"
  cat "$BATS_TEST_TMPDIR/orig.dump"
  # the import saw everything the tree has (PATH TYPE MODE UID GID SIZE MTIME RDEV NLINK/ID DIGEST TARGET XATTRS)
  has() { grep -qE "$1" "$BATS_TEST_TMPDIR/orig.dump" || { echo "missing: $1"; false; }; }
  has '^/bin/tool reg 4755 0 0 12 1700000000\.123456789 - 2/1 [0-9a-f]{64} -$'
  has '^/bin/tool-hard reg 4755 0 0 12 1700000000\.123456789 - 2/1 '
  has '^/etc/x-again reg 0644 1000 1001 2 1700000000\.123456789 - 2/2 '
  has '^/home/u/x reg 0644 1000 1001 2 1700000000\.123456789 - 2/2 '
  has '^/bin/ping reg 0644 .* - security\.capability=\\x01\\x00\\x00\\x02\\x00\\x20\\x00'
  has '^/etc dir 0755 .* user\.note=hello\\x00world$'
  has '^/dev/null chr 0644 0 0 0 1700000000\.123456789 1:3 1/0 - -$'
  has '^/dev/sda blk 0644 0 0 0 1700000000\.123456789 8:0 1/0 - -$'
  has '^/dev/fifo fifo 0644 0 0 0 981173106\.000000007 - 1/0 - -$'
  has '^/bin/link lnk 0777 0 0 4 981173106\.000000007 - 1/0 - tool$'
  has '^/etc/dangling lnk 0777 1000 1001 12 1700000000\.123456789 - 1/0 - /etc/nowhere$'
  has '^/empty dir 1777 '
  # the directory and its tarball import alike
  [ "$a" = "$d" ]

  "$CASFS" --store "$S" export orig "$BATS_TEST_TMPDIR/out.tar"
  b=$("$CASFS" --store "$S" import -q --ref r2 "$BATS_TEST_TMPDIR/out.tar" | cut -f1)
  "$CASFS" --store "$S" ls --dump r2 | tail -n +2 | diff -u <(tail -n +2 "$BATS_TEST_TMPDIR/orig.dump") -
  [ -n "$a" ] && [ "$a" = "$b" ]
  store_checks "$S"
  verify "$S"
}
