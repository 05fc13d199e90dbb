#!/usr/bin/env bats
# KSM end to end: samepage containers in each mode, the precreate hook
# (golden files, invalid input, podman + crun), and the preload library
# under sanitized malloc-heavy programs.  Every KSM knob changed here is
# restored in teardown_file.

setup_file() {
  export TOP=${SAMEPAGE_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export BUILD_DIR=${SAMEPAGE_BUILD:-$TOP/build}
  export KSM=/sys/kernel/mm/ksm
  export WORK=$(mktemp -d /tmp/samepage-ksm-bats.XXXXXX)
  if [ -d "$KSM" ] && [ "$(id -u)" -eq 0 ]; then
    for k in run pages_to_scan sleep_millisecs; do cat "$KSM/$k" > "$WORK/saved.$k"; done
    if [ -f "$KSM/advisor_mode" ]; then
      sed 's/.*\[\(.*\)\].*/\1/' "$KSM/advisor_mode" > "$WORK/saved.advisor_mode"
      echo none > "$KSM/advisor_mode"
    fi
    echo 5000 > "$KSM/pages_to_scan"
    echo 20 > "$KSM/sleep_millisecs"
    echo 1 > "$KSM/run"
  fi
}

teardown_file() {
  if [ -n "${WORK:-}" ] && [ -f "$WORK/saved.run" ]; then
    [ -f "$WORK/saved.advisor_mode" ] && echo none > "$KSM/advisor_mode"
    echo "$(cat "$WORK/saved.pages_to_scan")" > "$KSM/pages_to_scan"
    echo "$(cat "$WORK/saved.sleep_millisecs")" > "$KSM/sleep_millisecs"
    [ -f "$WORK/saved.advisor_mode" ] && cat "$WORK/saved.advisor_mode" > "$KSM/advisor_mode"
    echo "$(cat "$WORK/saved.run")" > "$KSM/run"
  fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}

setup() {
  SP="$BUILD_DIR/samepage --root $WORK/state"
  HOOK=$BUILD_DIR/samepage-hook
  LIB=$BUILD_DIR/libsamepage-ksm.so
  export SAMEPAGE_CONF=$WORK/samepage.conf
  printf 'ksm = off\nksm_preload = %s\n' "$LIB" > "$SAMEPAGE_CONF"
  STARTED=()
}

teardown() {
  for id in "${STARTED[@]}"; do $SP delete --force "$id" >/dev/null 2>&1 || true; done
}

need_ksm() {
  [ "$(id -u)" -eq 0 ] || skip "needs root"
  [ -d "$KSM" ] || skip "$KSM missing: kernel without CONFIG_KSM"
  [ -e /proc/self/ksm_stat ] || skip "/proc/PID/ksm_stat missing (Linux 6.1+)"
  command -v cc >/dev/null || skip "no C compiler to build the test helper"
}

# A bundle in $WORK/$1 running /fill (static, or dynamic with the host's
# glibc copied in) with the given annotations (a JSON object).
make_bundle() {   # name static|glibc annotations-json fill-args...
  local b=$WORK/$1 kind=$2 ann=$3; shift 3
  mkdir -p "$b/rootfs"
  if [ "$kind" = static ]; then
    [ -x "$WORK/fill-static" ] || cc -O2 -static -pthread -o "$WORK/fill-static" "$TOP/tests/data/ksm/fill.c" \
      || skip "static linking unavailable"
    cp "$WORK/fill-static" "$b/rootfs/fill"
    cp /usr/bin/busybox "$b/rootfs/busybox" 2>/dev/null || true
  else
    cc -O2 -pthread -o "$b/rootfs/fill" "$TOP/tests/data/ksm/fill.c"
    local loader libc
    loader=$(readlink -f /lib64/ld-linux-x86-64.so.2) libc=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)
    [ -f "$loader" ] && [ -f "$libc" ] || skip "host is not x86_64 Debian-style glibc"
    mkdir -p "$b/rootfs/lib64" "$b/rootfs/lib/x86_64-linux-gnu"
    cp "$loader" "$b/rootfs/lib64/ld-linux-x86-64.so.2"
    cp "$libc" "$b/rootfs/lib/x86_64-linux-gnu/libc.so.6"
  fi
  (cd "$b" && $BUILD_DIR/samepage spec)
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  jq --argjson a "$args" --argjson ann "$ann" \
    '.process.args = $a | .process.terminal = false | .annotations = $ann' "$b/config.json" > "$b/config.new"
  mv "$b/config.new" "$b/config.json"
}

run_container() {   # id bundle-name
  STARTED+=("$1")
  (cd "$WORK/$2" && $SP run --detach "$1" > "$WORK/$1.out" 2> "$WORK/$1.err") || {
    cat "$WORK/$1.err"; return 1; }
  for _ in $(seq 50); do grep -q ready "$WORK/$1.out" && return 0; sleep 0.1; done
  echo "container $1 did not get ready: $(cat "$WORK/$1.out" "$WORK/$1.err")"; return 1
}

merging_pages() { $SP ksm status --json "$1" | jq '.containers[0].ksm_merging_pages'; }

# Waits until both containers have at least $3 merging pages (30 s at most).
wait_merged() {
  local a b
  for _ in $(seq 150); do
    a=$(merging_pages "$1") b=$(merging_pages "$2")
    [ "$a" -ge "$3" ] && [ "$b" -ge "$3" ] && return 0
    sleep 0.2
  done
  echo "not merged: $1=$a $2=$b pages (want $3)"; return 1
}

@test "ksm: merge-any containers (static binary) merge their heaps" {
  need_ksm
  make_bundle any static '{"org.samepage.ksm":"merge-any"}' /fill 32 small
  run_container ksm-any-1 any
  run_container ksm-any-2 any
  wait_merged ksm-any-1 ksm-any-2 7800
  run $SP ksm status --json ksm-any-1
  [ "$(jq -r '.containers[0].mode' <<<"$output")" = merge-any ]
  [ "$(jq -r '.containers[0].merge_any' <<<"$output")" = true ]
  [ "$(jq '.host.pages_sharing' <<<"$output")" -ge 7800 ]
  [ "$(jq '.containers[0].ksm_process_profit' <<<"$output")" -gt 0 ]
}

@test "ksm: heap containers (glibc, preload library) merge their heaps" {
  need_ksm
  make_bundle heap glibc '{"org.samepage.ksm":"heap"}' /fill 32 threads
  run_container ksm-heap-1 heap
  run_container ksm-heap-2 heap
  wait_merged ksm-heap-1 ksm-heap-2 7800
  pid=$($SP state ksm-heap-1 | jq .pid)
  tr '\0' '\n' < /proc/$pid/environ | grep -qx 'LD_PRELOAD=/run/samepage/libsamepage-ksm.so'
  grep -q '^ksm_merge_any: no' /proc/$pid/ksm_stat
  grep -q '^ksm_mergeable: yes' /proc/$pid/ksm_stat
}

@test "ksm: the samepage.conf default applies without an annotation" {
  need_ksm
  printf 'ksm = heap\nksm_preload = %s\n' "$LIB" > "$SAMEPAGE_CONF"
  make_bundle dflt glibc '{}' /fill 16 large
  run_container ksm-dflt-1 dflt
  run_container ksm-dflt-2 dflt
  [ "$($SP ksm status --json ksm-dflt-1 | jq -r '.containers[0].mode')" = heap ]
  wait_merged ksm-dflt-1 ksm-dflt-2 3900
}

@test "ksm: off (and no annotation) merges nothing" {
  need_ksm
  make_bundle off static '{"org.samepage.ksm":"off"}' /fill 32 small
  make_bundle none glibc '{}' /fill 32 small
  run_container ksm-off-1 off
  run_container ksm-off-2 off
  run_container ksm-none-1 none
  run_container ksm-none-2 none
  # Long enough for several full scans at 5000 pages per 20 ms.
  full=$(cat $KSM/full_scans)
  for _ in $(seq 100); do [ "$(cat $KSM/full_scans)" -ge $((full + 3)) ] && break; sleep 0.1; done
  for id in ksm-off-1 ksm-off-2 ksm-none-1 ksm-none-2; do
    run $SP ksm status --json $id
    [ "$(jq '.containers[0].ksm_merging_pages' <<<"$output")" -eq 0 ]
    [ "$(jq -r '.containers[0].mergeable' <<<"$output")" = false ]
  done
}

@test "ksm: heap mode on a static (musl-like) image warns and the container still runs" {
  need_ksm
  make_bundle musl static '{"org.samepage.ksm":"heap"}' /fill 4 small
  run_container ksm-musl musl
  grep -q 'heap mode needs a glibc userland' "$WORK/ksm-musl.err"
  pid=$($SP state ksm-musl | jq .pid)
  ! tr '\0' '\n' < /proc/$pid/environ | grep -q LD_PRELOAD
  [ "$($SP ksm status --json ksm-musl | jq -r '.containers[0].mode')" = off ]
}

@test "ksm: org.samepage.ksm.aslr=off sets ADDR_NO_RANDOMIZE, and only then" {
  need_ksm
  make_bundle aslr static '{"org.samepage.ksm":"merge-any","org.samepage.ksm.aslr":"off"}' /busybox cat /proc/self/personality
  [ -x "$WORK/aslr/rootfs/busybox" ] || skip "no static busybox"
  (cd "$WORK/aslr" && $SP run ksm-aslr > "$WORK/aslr.out")
  [ "$(cat "$WORK/aslr.out")" = 00040000 ]
  jq '.annotations = {}' "$WORK/aslr/config.json" > "$WORK/aslr/c" && mv "$WORK/aslr/c" "$WORK/aslr/config.json"
  (cd "$WORK/aslr" && $SP run ksm-aslr2 > "$WORK/aslr2.out")
  [ "$(cat "$WORK/aslr2.out")" = 00000000 ]
}

@test "ksm: a bad annotation value fails create with the field named" {
  need_ksm
  make_bundle bad static '{"org.samepage.ksm":"always"}' /fill 1
  cd "$WORK/bad"
  run $SP create ksm-bad
  [ "$status" -ne 0 ]
  [[ "$output" == *'annotations["org.samepage.ksm"]: unknown mode `always` (off, merge-any or heap)'* ]]
}

@test "ksm status and tune: usage errors and the live knobs" {
  run $BUILD_DIR/samepage ksm
  [ "$status" -eq 1 ]
  [[ "$output" == *"want a subcommand: status or tune"* ]]
  run $BUILD_DIR/samepage ksm tune --run 3
  [ "$status" -eq 1 ]
  [[ "$output" == *'--run: `3` is not a number from 0 to 2'* ]]
  run $BUILD_DIR/samepage ksm tune --advisor fast
  [ "$status" -eq 1 ]
  need_ksm
  run $SP ksm status nonexistent
  [ "$status" -eq 1 ]
  [[ "$output" == *'container `nonexistent` does not exist'* ]]
  $SP ksm tune --pages-to-scan 4000 --sleep-millisecs 30
  [ "$(cat $KSM/pages_to_scan)" = 4000 ]
  [ "$(cat $KSM/sleep_millisecs)" = 30 ]
  run $SP ksm status --json
  [ "$(jq '.host.pages_to_scan' <<<"$output")" -eq 4000 ]
  [ "$(jq '.host.ksmd_pid' <<<"$output")" -gt 0 ]
  $SP ksm tune --pages-to-scan 5000 --sleep-millisecs 20
}

@test "samepage-hook: golden rewrites, pass-through of unannotated configs" {
  [ -x "$HOOK" ] || skip "$HOOK not built"
  for f in "$TOP"/tests/data/ksm/hook/*.json; do
    base=${f%.json}
    "$HOOK" --library /dev/null precreate < "$f" > "$WORK/out" 2> "$WORK/err" || { echo "$f: exit $?"; return 1; }
    if [ -f "$base.out" ]; then want=$base.out; else want=$f; fi
    cmp "$WORK/out" "$want" || { echo "$f: stdout differs from $(basename "$want")"; diff "$WORK/out" "$want"; return 1; }
    if [ -f "$base.err" ]; then
      cmp "$WORK/err" "$base.err" || { echo "$f: stderr"; diff "$WORK/err" "$base.err"; return 1; }
    else
      [ ! -s "$WORK/err" ] || { echo "$f: unexpected stderr: $(cat "$WORK/err")"; return 1; }
    fi
  done
}

@test "samepage-hook: rewritten output is valid JSON that keeps every other value" {
  [ -x "$HOOK" ] || skip "$HOOK not built"
  f=$TOP/tests/data/ksm/hook/heap.json
  "$HOOK" --library /dev/null precreate < "$f" > "$WORK/out"
  # Numbers beyond 64 bits survive digit for digit.
  grep -q '"x-big":123456789012345678901234567890' "$WORK/out"
  grep -q '"x-u64":18446744073709551615' "$WORK/out"
  # Apart from the added mount and env entries, the documents are equal.
  diff <(jq -S 'del(.mounts[-1]) | .process.env |= map(select(startswith("SAMEPAGE_KSM_MODE=") | not)) | .process.env |= map(sub("LD_PRELOAD=/run/samepage/libsamepage-ksm.so:"; "LD_PRELOAD="))' "$WORK/out") \
       <(jq -S . "$f")
}

@test "samepage-hook: usage errors exit non-zero" {
  [ -x "$HOOK" ] || skip "$HOOK not built"
  run "$HOOK" poststop
  [ "$status" -eq 1 ]
  [[ "$output" == *'unknown stage `poststop`'* ]]
  run "$HOOK" --library relative.so precreate
  [ "$status" -eq 1 ]
  run "$HOOK"
  [ "$status" -eq 1 ]
}

@test "samepage-hook under podman + crun (or runc): heap merging for containers of another runtime" {
  need_ksm
  command -v podman >/dev/null || skip "podman not installed"
  # crun 1.8 refuses hosts whose cgroup2 mount holds a controller beside v1
  # ones (here hugetlb); the hook does not depend on the runtime, so use runc there.
  other=crun
  if ! command -v crun >/dev/null || grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then other=runc; fi
  command -v $other >/dev/null || skip "neither crun nor runc is installed"
  echo "# using $other" >&3
  make_bundle img glibc '{}' /fill 16 small
  mkdir -p "$WORK/hooks"
  sed "s,@BINDIR@,$BUILD_DIR,g; s,@LIBDIR@,$BUILD_DIR,g" "$TOP/hooks/hooks.d/samepage-ksm.json" > "$WORK/hooks/samepage-ksm.json"
  tar -C "$WORK/img/rootfs" -cf "$WORK/img.tar" .
  P="podman --root $WORK/podman --runroot $WORK/podman-run --hooks-dir $WORK/hooks --runtime $other --cgroup-manager cgroupfs --events-backend none"
  $P import "$WORK/img.tar" localhost/samepage-ksm-test:latest >/dev/null
  opts="-d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
  c1=$($P run $opts --annotation org.samepage.ksm=heap localhost/samepage-ksm-test /fill 16 small)
  c2=$($P run $opts --annotation org.samepage.ksm=heap localhost/samepage-ksm-test /fill 16 small)
  c3=$($P run $opts localhost/samepage-ksm-test /fill 16 small)
  ok=0
  for _ in $(seq 150); do
    p1=$($P inspect --format '{{.State.Pid}}' $c1) p2=$($P inspect --format '{{.State.Pid}}' $c2)
    m1=$(awk '/^ksm_merging_pages/ {print $2}' /proc/$p1/ksm_stat) m2=$(awk '/^ksm_merging_pages/ {print $2}' /proc/$p2/ksm_stat)
    if [ "${m1:-0}" -ge 3900 ] && [ "${m2:-0}" -ge 3900 ]; then ok=1; break; fi
    sleep 0.2
  done
  p3=$($P inspect --format '{{.State.Pid}}' $c3)
  preload3=$(tr '\0' '\n' < /proc/$p3/environ | grep -c LD_PRELOAD || true)
  mergeable3=$(awk '/^ksm_mergeable/ {print $2}' /proc/$p3/ksm_stat)
  $P rm -f -t 0 $c1 $c2 $c3 >/dev/null
  $P rmi -f localhost/samepage-ksm-test >/dev/null
  $P system reset -f >/dev/null 2>&1 || true
  echo "merging: $m1 $m2; unannotated: LD_PRELOAD entries $preload3, mergeable $mergeable3"
  [ "$ok" -eq 1 ]
  [ "$preload3" -eq 0 ]
  [ "$mergeable3" = no ]
}

@test "preload library: sanitized malloc-heavy programs behave the same" {
  command -v cc >/dev/null || skip "no C compiler"
  [ -f "$LIB" ] || skip "$LIB not built"
  src=$TOP/tests/data/ksm/malloc_torture.c
  cc -O1 -g -fsanitize=undefined -fno-sanitize-recover=all -pthread -o "$WORK/mt-ubsan" "$src"
  want=$("$WORK/mt-ubsan" | head -1)
  got=$(LD_PRELOAD=$LIB "$WORK/mt-ubsan")
  [ "$(head -1 <<<"$got")" = "$want" ]
  if [ -e /proc/self/ksm_stat ]; then grep -qx 'mergeable: yes' <<<"$got"; fi
  # glibc's own malloc replaced by ASan's: the library must only forward.
  if cc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -pthread -o "$WORK/mt-asan" "$src" 2>/dev/null; then
    got=$(ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$LIB "$WORK/mt-asan")
    [ "$(head -1 <<<"$got")" = "$want" ]
  fi
  # merge-any and off modes forward too.
  [ "$(SAMEPAGE_KSM_MODE=merge-any LD_PRELOAD=$LIB "$WORK/mt-ubsan" | head -1)" = "$want" ]
  [ "$(SAMEPAGE_KSM_MODE=off LD_PRELOAD=$LIB "$WORK/mt-ubsan" | tail -1)" = "mergeable: no" ]
}
