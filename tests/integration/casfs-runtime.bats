#!/usr/bin/env bats
# samepage mounting containers' layers through casfs (docs/how-it-works.md):
# bundle mode (casfs bundle + samepage run), drop-in under podman and
# containerd on zero-install images (same files, different layers), the
# one-copy page cache, the fallback to the engine's rootfs, and cleanup.
#
# Mount comparisons are restricted to mounts that name this test's work
# directories (and its layer-A directory): other test runs may share the host
# and mount things of their own meanwhile.

load helpers
source "$TESTS_LIB/zero-install.bash"

CASFS_BIN=$SAMEPAGE_BUILD/casfs

# Why casfs layers cannot work on this host (empty if they can).
casfs_host_limit() {
  [ -c /dev/fuse ] || { echo "/dev/fuse is missing"; return; }
  local d
  d=$(mktemp -d /var/tmp/sp-dataonly.XXXXXX)
  mkdir "$d/l" "$d/data" "$d/m"
  if mount -t overlay overlay -o "ro,lowerdir=$d/l::$d/data" "$d/m" 2>/dev/null; then
    umount "$d/m"
  else
    echo "overlayfs has no data-only lower layers (lowerdir=A::B, kernel >= 6.5)"
  fi
  rm -rf "$d"
}

setup_file() {
  require_root && require_cmd jq fincore && require_runtime || return 0
  [ "$(basename "$RUNTIME")" = samepage ] || { skip_all "casfs layers are samepage's own (RUNTIME=$RUNTIME)"; return 0; }
  local why
  why=$(casfs_host_limit)
  [ -z "$why" ] || { skip_all "$why"; return 0; }
  ZI=$(zi_images busybox 2) || { skip_all "cannot build the zero-install busybox images (see $ZI_CACHE)"; return 0; }
  read -r SHARED_SHA SHARED_SIZE SHARED_PATH < <(zi_shared_file "$ZI")
  [ -n "$SHARED_PATH" ] || fail "no file shared by the images of $ZI"
  export ZI SHARED_SHA SHARED_SIZE SHARED_PATH
}

setup() {
  skip_if_file_skipped
  W=$(mktemp -d /var/tmp/sp-casfs-rt.XXXXXX)
}

teardown() {
  [ -n "${W:-}" ] || return 0
  local id
  for id in ${CONTAINERS:-}; do
    SAMEPAGE_CONF=$W/samepage.conf "$RUNTIME" kill "$id" KILL >/dev/null 2>&1
    SAMEPAGE_CONF=$W/samepage.conf "$RUNTIME" delete -f "$id" >/dev/null 2>&1
  done
  [ -n "${PODMAN_WORK:-}" ] && podman_env_teardown
  [ -n "${CTD_WORK:-}" ] && containerd_env_teardown
  source "$TESTS_LIB/samepage-conf.sh"
  samepage_conf_cleanup "$W"
  rm -rf "$W"
}

# Mount table lines that name PATTERN (a work dir, or a layer-A dir).
mounts_naming() {
  local p args=()
  for p in "$@"; do args+=(-e "$p"); done
  grep -F "${args[@]}" /proc/self/mountinfo || true
}

# The PID of the casfs FUSE daemon serving the view at $1 (from its log).
view_daemon_pid() {
  sed -n 's/.*serving store .* at `'"${1//\//\\/}"'` (pid \([0-9]*\)).*/\1/p' "$1.log" 2>/dev/null | tail -1
}

# Cached pages of a file (fincore).
cached_pages() {
  fincore --noheadings --raw -o PAGES "$1"
}

pages_of() { echo $(( ($1 + 4095) / 4096 )); }

# read_until_cached OBJ CMD...: after dropping caches, runs CMD (reads of the
# shared file through every container) until OBJ holds all its pages, at most
# three times.  This host runs DAMON proactive reclaim (a paddr "pageout"
# scheme), which can evict part of a file read moments ago while the next
# container is still being exec'd into; another read brings the pages back
# into the object, never into an engine's copy, which the caller then checks.
read_until_cached() {
  local obj=$1 want have try
  shift
  want=$(pages_of "$(stat -c %s "$obj")")
  sync
  echo 3 >/proc/sys/vm/drop_caches
  for try in 1 2 3; do
    "$@"
    have=$(cached_pages "$obj")
    [ "$have" -eq "$want" ] && return 0
    echo "read $try: object $obj has $have of $want pages cached (proactive reclaim?)" >&2
  done
  return 1
}

require_engine() {
  require_cmd "$@" || skip "$SP_SKIP_ALL"
}

# Layer A's directory: one per store and tree, /run/samepage/layers/SID-HEX
# with SID the first 12 hex digits of the SHA-256 of the store's real path.
layer_dir_name() {
  local sid
  sid=$(printf '%s' "$(realpath "$1")" | sha256sum | cut -c1-12)
  echo "$sid-$2"
}

# Layer A as the container PID sees its root: checks the root mount is a
# layer-B overlay over /run/samepage/layers/SID-HEX/mnt; prints SID-HEX.
container_layer_a() {
  local pid=$1 line
  line=$(awk '$5 == "/" && $9 == "overlay"' "/proc/$pid/mountinfo" | tail -1)
  echo "root mount of $pid: $line" >&2
  [[ "$line" =~ lowerdir=/run/samepage/layers/([0-9a-f]{12}-[0-9a-f]{64})/mnt[,\ ] ]] || return 1
  echo "${BASH_REMATCH[1]}"
}

# ---------------------------------------------------------------------------
# (a) bundle mode

bundle_setup() {
  S=$W/store
  printf 'store = %s\ncasfs_mountpoint = %s/view\n' "$S" "$W" >"$W/samepage.conf"
  export SAMEPAGE_CONF=$W/samepage.conf
  "$CASFS_BIN" --store "$S" import -q "$ZI/img1/oci" >/dev/null
  HEX=$(awk '$2 == "img1" {print $1}' <("$CASFS_BIN" --store "$S" refs))
  [ -n "$HEX" ] || fail "no ref img1 after import"
  LDIR=$(layer_dir_name "$S" "$HEX")
}

@test "bundle mode: contents, writes in the bundle's upper, object untouched, no mount left, daemon gone" {
  bundle_setup
  B=$W/bundle
  "$CASFS_BIN" --store "$S" bundle img1 "$B" -- sh -c \
    "sha256sum /$SHARED_PATH; cat /etc/zero-install-id; echo new >/written; echo more >>/$SHARED_PATH; echo done; exec sleep 1000"
  obj=$(zi_object "$S" "$SHARED_SHA")
  obj_stat=$(stat -c '%i %s %Y %h' "$obj")
  before=$(mounts_naming "$W" "/run/samepage/layers/$LDIR/")
  [ -z "$before" ] || fail "mounts before the container: $before"

  CONTAINERS=casfs-a-$$
  "$RUNTIME" --log "$W/log" create --bundle "$B" "$CONTAINERS" </dev/null >"$W/out" 2>&1
  "$RUNTIME" --log "$W/log" start "$CONTAINERS"
  retry 100 0.05 grep -q done "$W/out" || fail "container output: $(cat "$W/out")"
  run cat "$W/out"
  [ "${lines[0]}" = "$SHARED_SHA  /$SHARED_PATH" ] || fail "sha256 in the container: ${lines[0]}"
  [ "${lines[1]}" = 1 ]   # /etc/zero-install-id of img1
  pid=$("$RUNTIME" state "$CONTAINERS" | jq -r .pid)
  [ "$(container_layer_a "$pid")" = "$LDIR" ]
  grep -q "upperdir=$B/casfs-layer/upper," "/proc/$pid/mountinfo"
  # layer A and the view on the host, both naming this test's store
  mounts_naming "/run/samepage/layers/$LDIR/mnt" | grep -q "lowerdir=$W/view/trees/$HEX::$S/objects"
  mountpoint -q "$W/view"
  daemon=$(view_daemon_pid "$W/view")
  [ -n "$daemon" ] && kill -0 "$daemon"
  # writes: copied up into the bundle's upper; the object keeps its bytes and inode
  [ "$(cat "$B/casfs-layer/upper/written")" = new ]
  [ "$(tail -c 5 "$B/casfs-layer/upper/$SHARED_PATH")" = more ]
  [ "$(stat -c %s "$B/casfs-layer/upper/$SHARED_PATH")" -eq $((SHARED_SIZE + 5)) ]
  [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$SHARED_SHA" ]
  [ "$(stat -c '%i %s %Y %h' "$obj")" = "$obj_stat" ]

  "$RUNTIME" --log "$W/log" kill "$CONTAINERS" KILL
  retry 100 0.05 proc_gone "$pid"
  "$RUNTIME" --log "$W/log" delete "$CONTAINERS"
  CONTAINERS=
  after=$(mounts_naming "$W" "/run/samepage/layers/$LDIR/")
  [ "$after" = "$before" ] || fail "mounts left after delete: $after"
  [ ! -e "/run/samepage/layers/$LDIR" ] || fail "/run/samepage/layers/$LDIR is left: $(ls -la "/run/samepage/layers/$LDIR")"
  retry 100 0.05 proc_gone "$daemon" || fail "FUSE daemon $daemon still runs after the last container"
  [ -z "$(ls -A "$S/roots")" ] || fail "gc roots left: $(ls "$S/roots")"
  [ ! -e "$B/casfs-layer" ]
  [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$SHARED_SHA" ]
  ! grep -q '"level":"\(error\|warning\)"' "$W/log" || fail "log: $(cat "$W/log")"
}

@test "bundle mode, casfs_io_uring = on: the runtime's view daemon serves on per-CPU rings" {
  param=/sys/module/fuse/parameters/enable_uring
  [ -e "$param" ] || skip "this kernel has no FUSE over io_uring (CONFIG_FUSE_IO_URING, Linux 6.14+)"
  [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] || skip "io_uring is disabled (kernel.io_uring_disabled)"
  bundle_setup
  printf 'casfs_io_uring = on\n' >>"$W/samepage.conf"
  was=$(cat "$param")
  B=$W/bundle
  "$CASFS_BIN" --store "$S" bundle img1 "$B" -- sh -c "cat /etc/zero-install-id; ls -R / >/dev/null; echo done; exec sleep 1000"
  CONTAINERS=casfs-ring-$$
  "$RUNTIME" --log "$W/log" create --bundle "$B" "$CONTAINERS" </dev/null >"$W/out" 2>&1
  "$RUNTIME" --log "$W/log" start "$CONTAINERS"
  retry 100 0.05 grep -q done "$W/out" || fail "container output: $(cat "$W/out")"
  [ "$(head -1 "$W/out")" = 1 ]
  rings=$(awk '$1 == "uring" { print $2 }' "$W/view/stats")
  echo "requests served on rings: $rings"
  [ "$rings" -gt 0 ]
  # The kernel's setting is as it was once the daemon's rings are in.
  retry 50 0.1 grep -qx "$was" "$param" || fail "fuse.enable_uring left at $(cat "$param")"
  daemon=$(view_daemon_pid "$W/view")
  "$RUNTIME" --log "$W/log" delete -f "$CONTAINERS"
  CONTAINERS=
  retry 100 0.05 proc_gone "$daemon" || fail "FUSE daemon $daemon still runs after the last container"
  ! mountpoint -q "$W/view"
}

@test "bundle mode: 1000 run cycles leave the mount table as it was" {
  # The issue asks for 1000 cycles; they take 35-55 s here (40-55 ms each),
  # under the 60 s budget, so all 1000 run.  SP_CASFS_CYCLES=N for quick checks.
  bundle_setup
  B=$W/bundle
  "$CASFS_BIN" --store "$S" bundle img1 "$B" -- sh -c "read -r x </etc/zero-install-id; test \"\$x\" = 1"
  n=${SP_CASFS_CYCLES:-1000}
  before_all=$(cat /proc/self/mountinfo | wc -l)
  before=$(mounts_naming "$W" "/run/samepage/layers/$LDIR/")
  t0=$SECONDS
  for ((i = 0; i < n; i++)); do
    "$RUNTIME" --log "$W/log" run --bundle "$B" "casfs-cycle-$$-$i" </dev/null >"$W/out" 2>&1 \
      || fail "cycle $i: $(cat "$W/out")"
  done
  echo "# $n cycles in $((SECONDS - t0)) s" >&3
  after=$(mounts_naming "$W" "/run/samepage/layers/$LDIR/")
  [ "$after" = "$before" ] || fail "mounts left after $n cycles: $after"
  echo "# mountinfo lines: $before_all before, $(wc -l </proc/self/mountinfo) after (whole host)" >&3
  [ ! -e "/run/samepage/layers/$LDIR" ]
  [ -z "$(ls -A "$S/roots")" ]
  [ -z "$(ls -A "$W/view.users" 2>/dev/null)" ]
  [ "$(ls "$B")" = "config.json
rootfs" ] || fail "bundle left: $(ls "$B")"
}

# ---------------------------------------------------------------------------
# (b) podman

podman_up() {
  require_engine podman conmon
  source "$TESTS_LIB/podman-env.sh"
  podman_env_setup || fail "podman_env_setup failed"
  local i
  for i in 1 2; do
    podman load -q -i "$ZI/img$i/img$i.tar" >/dev/null || fail "podman load img$i"
  done
}

# Starts image I detached under podman; prints the container ID.
podman_sleeper() {
  timeout 60 podman run -d "localhost/zi-busybox-img$1:latest" sleep 100000
}

@test "podman: two zero-install images share one page cache through the store" {
  podman_up
  id1=$(podman_sleeper 1)
  id2=$(podman_sleeper 2)
  p1=$(podman inspect --format '{{.State.Pid}}' "$id1")
  p2=$(podman inspect --format '{{.State.Pid}}' "$id2")
  for id in "$id1" "$id2"; do
    run podman exec "$id" sha256sum "/$SHARED_PATH"
    [ "$output" = "$SHARED_SHA  /$SHARED_PATH" ] || fail "$id: $output"
  done
  [ "$(podman exec "$id1" cat /etc/zero-install-id)" = 1 ]
  [ "$(podman exec "$id2" cat /etc/zero-install-id)" = 2 ]
  # the roots are layer-B overlays on layer A, one per (distinct) merged tree
  hex1=$(container_layer_a "$p1") || fail "container 1's root is not on casfs layer A"
  hex2=$(container_layer_a "$p2") || fail "container 2's root is not on casfs layer A"
  upper1=$(podman inspect --format '{{.GraphDriver.Data.UpperDir}}' "$id1")
  grep -q "upperdir=$upper1," "/proc/$p1/mountinfo" || fail "layer B does not keep podman's upper $upper1"
  # writes land in podman's upper: podman diff sees them
  blob0=usr/share/zi-data/blob-00.bin
  podman exec "$id1" sh -c "echo new >/written-by-test; echo more >>/$blob0"
  run podman diff "$id1"
  echo "$output"
  [[ "$output" == *"A /written-by-test"* ]]
  [[ "$output" == *"C /$blob0"* ]]
  [ "$(cat "$upper1/written-by-test")" = new ]
  [ "$(tail -c 5 "$upper1/$blob0")" = more ]
  S=$PODMAN_WORK/casfs-store
  obj=$(zi_object "$S" "$SHARED_SHA")
  [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$SHARED_SHA" ] || fail "the object changed"

  # one page cache: after dropping caches, read the shared file through both
  # containers' roots; the store's object holds it, podman's copies do not
  read_shared() {
    local id
    for id in "$id1" "$id2"; do
      podman exec "$id" cat "/$SHARED_PATH" >/dev/null
    done
  }
  read_until_cached "$obj" read_shared || fail "object $obj: $(cached_pages "$obj") cached pages of $(pages_of "$SHARED_SIZE")"
  for id in "$id1" "$id2"; do
    copy=$(podman inspect --format '{{.GraphDriver.Data.LowerDir}}' "$id")/$SHARED_PATH
    [ -f "$copy" ] || fail "no engine copy $copy"
    run cached_pages "$copy"
    [ "$output" -eq 0 ] || fail "podman's copy $copy has $output cached pages"
  done

  # (e) rm leaves no mounts: layer B went with the container's namespace,
  # layer A and the view go with the last user
  daemon=$(view_daemon_pid "$PODMAN_WORK/casfs-view")
  [ -n "$daemon" ]
  podman rm -f -t 0 "$id1" "$id2"
  for h in "$hex1" "$hex2"; do
    [ -z "$(mounts_naming "/run/samepage/layers/$h/")" ] || fail "layer A of $h is still mounted"
    [ ! -e "/run/samepage/layers/$h" ]
  done
  ! mountpoint -q "$PODMAN_WORK/casfs-view" || fail "the casfs view is still mounted"
  [ -z "$(mounts_naming "$PODMAN_WORK/casfs-")" ]
  retry 100 0.05 proc_gone "$daemon" || fail "FUSE daemon $daemon still runs"
  [ -z "$(ls -A "$S/roots")" ] || fail "gc roots left: $(ls "$S/roots")"
}

@test "podman: an unusable store falls back to the engine's rootfs with a warning in the oci-log" {
  podman_up
  conf=$PODMAN_WORK/samepage.conf
  cp "$conf" "$conf.good"
  : >"$W/not-a-dir"
  sed -i "s|^store = .*|store = $W/not-a-dir|" "$conf"
  id=$(podman_sleeper 1)
  cp "$conf.good" "$conf"
  pid=$(podman inspect --format '{{.State.Pid}}' "$id")
  run podman exec "$id" sha256sum "/$SHARED_PATH"
  [ "$output" = "$SHARED_SHA  /$SHARED_PATH" ]
  ! grep -q /run/samepage/layers "/proc/$pid/mountinfo" || fail "the container is on casfs layers"
  # conmon's --log for the runtime: <userdata>/oci-log (under runroot)
  log=$(find "$PODMAN_WORK/runroot" "$PODMAN_WORK/root" -path "*/$id/userdata/oci-log" | head -1)
  [ -f "$log" ] || fail "no oci-log for $id"
  cat "$log"
  grep '"level":"warn' "$log" | grep -q "runs on the engine's rootfs.*$W/not-a-dir" \
    || fail "no warning naming the store in $log"
  podman rm -f -t 0 "$id"
  [ -z "$(mounts_naming "$PODMAN_WORK/casfs-")" ] || fail "casfs mounts: $(mounts_naming "$PODMAN_WORK/casfs-")"
}

# ---------------------------------------------------------------------------
# (c) containerd

containerd_up() {
  require_engine containerd ctr catatonit
  source "$TESTS_LIB/containerd-env.sh"
  containerd_env_setup || fail "containerd_env_setup failed"
  local i
  for i in 1 2; do
    sp_ctr images import "$ZI/img$i/img$i.tar" >/dev/null || fail "ctr images import img$i"
  done
}

# The host overlay containerd mounted for task ID's rootfs: "lower upper".
ctd_rootfs_dirs() {
  local mp=$CTD_WORK/state/io.containerd.runtime.v2.task/$CTD_NS/$1/rootfs line
  line=$(awk -v m="$mp" '$5 == m && $9 == "overlay"' /proc/self/mountinfo)
  [[ "$line" =~ lowerdir=([^,]*) ]] && echo -n "${BASH_REMATCH[1]} "
  [[ "$line" =~ upperdir=([^,]*) ]] && echo "${BASH_REMATCH[1]}"
}

@test "containerd: two zero-install images share one page cache through the store" {
  containerd_up
  for i in 1 2; do
    sp_ctr_run -d "localhost/zi-busybox-img$i:latest" "zi-$i-$$" sleep 100000 >/dev/null
  done
  declare -A pid hex lower upper
  for i in 1 2; do
    pid[$i]=$(sp_ctr tasks ls | awk -v id="zi-$i-$$" '$1 == id {print $2}')
    [ -n "${pid[$i]}" ] || fail "no task zi-$i-$$"
    run sp_ctr tasks exec --exec-id sum-$i "zi-$i-$$" sha256sum "/$SHARED_PATH"
    [ "$output" = "$SHARED_SHA  /$SHARED_PATH" ] || fail "zi-$i: $output"
    hex[$i]=$(container_layer_a "${pid[$i]}") || fail "zi-$i's root is not on casfs layer A"
    read -r lower[$i] upper[$i] < <(ctd_rootfs_dirs "zi-$i-$$")
    [ -d "${upper[$i]}" ] || fail "no snapshot upper for zi-$i"
    grep -q "upperdir=${upper[$i]}," "/proc/${pid[$i]}/mountinfo" || fail "layer B does not keep containerd's upper"
  done
  sp_ctr tasks exec --exec-id w "zi-1-$$" sh -c 'echo new >/written-by-test'
  [ "$(cat "${upper[1]}/written-by-test")" = new ]
  S=$CTD_WORK/casfs-store
  obj=$(zi_object "$S" "$SHARED_SHA")
  reads=0
  read_shared() {
    local i
    reads=$((reads + 1))
    for i in 1 2; do
      sp_ctr tasks exec --exec-id "r-$i-$reads" "zi-$i-$$" cat "/$SHARED_PATH" >/dev/null
    done
  }
  read_until_cached "$obj" read_shared || fail "object: $(cached_pages "$obj") cached pages"
  for i in 1 2; do
    copy=${lower[$i]}/$SHARED_PATH
    [ -f "$copy" ] || fail "no engine copy $copy"
    run cached_pages "$copy"
    [ "$output" -eq 0 ] || fail "containerd's copy $copy has $output cached pages"
  done
  # (e) ctr task rm + container rm leave no mounts
  daemon=$(view_daemon_pid "$CTD_WORK/casfs-view")
  [ -n "$daemon" ]
  for i in 1 2; do
    sp_ctr tasks kill -s SIGKILL "zi-$i-$$"
    retry 100 0.05 proc_gone "${pid[$i]}"
    retry 50 0.1 sp_ctr tasks rm "zi-$i-$$" >/dev/null
    sp_ctr containers rm "zi-$i-$$"
  done
  for i in 1 2; do
    [ -z "$(mounts_naming "/run/samepage/layers/${hex[$i]}/")" ] || fail "layer A of ${hex[$i]} is still mounted"
  done
  ! mountpoint -q "$CTD_WORK/casfs-view" || fail "the casfs view is still mounted"
  [ -z "$(ctd_mounts)" ] || fail "mounts left under $CTD_WORK: $(ctd_mounts)"
  retry 100 0.05 proc_gone "$daemon" || fail "FUSE daemon $daemon still runs"
}

# ---------------------------------------------------------------------------
# (d) fallback, engine-free: an engine-style overlay rootfs, samepage called directly

@test "drop-in: an unusable store falls back to the overlay rootfs, with the reason in --log" {
  B=$W/bundle
  mkdir -p "$W/l1" "$W/l2" "$W/up" "$W/wk" "$B/rootfs"
  # the image's layer, unpacked as an engine would
  layer=$(tar -xOf "$ZI/img1/img1.tar" manifest.json | jq -r '.[0].Layers[0]')
  tar -xOf "$ZI/img1/img1.tar" "$layer" | tar -xf - -C "$W/l1"
  echo second >"$W/l2/layer2"
  mount -t overlay overlay -o "lowerdir=$W/l2:$W/l1,upperdir=$W/up,workdir=$W/wk" "$B/rootfs"
  (cd "$B" && "$RUNTIME" spec)
  jq --arg p "$SHARED_PATH" '.process.args = ["sh", "-c", "sha256sum /\($p); cat /layer2; echo w >/w"] | .process.terminal = false | .root.readonly = false' \
    "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
  : >"$W/not-a-dir"
  printf 'store = %s/not-a-dir\ncasfs_mountpoint = %s/view\n' "$W" "$W" >"$W/samepage.conf"
  run env SAMEPAGE_CONF="$W/samepage.conf" "$RUNTIME" --log "$W/log" --log-format json run --bundle "$B" "casfs-d-$$"
  umount "$B/rootfs"
  echo "$output"
  cat "$W/log"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "$SHARED_SHA  /$SHARED_PATH" ]
  [ "${lines[1]}" = second ]
  [ "$(cat "$W/up/w")" = w ]
  grep '"level":"warn' "$W/log" | grep -q "casfs-d-$$.*runs on the engine's rootfs.*not-a-dir" \
    || fail "no warning with the reason in --log"
  [ -z "$(mounts_naming "$W")" ] || fail "mounts left: $(mounts_naming "$W")"
}
