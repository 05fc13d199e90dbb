# Helpers for the samepage runtime integration tests (tests/integration/runtime*.bats):
# a busybox-static rootfs, bundles from `samepage spec` edited with jq, a
# private --root state directory per test file, and the checks that a test
# left nothing behind (state, cgroups, mounts, processes).
#
#   setup_file:    rt_setup_file          (one temp dir, state root, id prefix)
#   setup:         rt_setup               (skips loudly without root/busybox/jq/binary)
#   teardown:      rt_teardown            (deletes every container, then rt_assert_clean)
#   teardown_file: rt_teardown_file
#
#   B=$(rt_bundle NAME)                  a bundle with process.args = sh -c "$RT_CMD" style args
#   rt_cfg "$B" 'JQ FILTER' [jq args]    edits $B/config.json in place
#   rt_args "$B" ARG...                  sets process.args
#   sp ARGS...                           build/samepage --root $RT_ROOT ARGS...
#   rt_id NAME                           a container id unique to this file and test

RT_TOP=${SAMEPAGE_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RT_BIN=${SAMEPAGE_BUILD:-$RT_TOP/build}/samepage
RT_BUSYBOX=${RT_BUSYBOX:-/bin/busybox}
RT_PYTHON=${RT_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
RT_RECVTTY=$RT_TOP/tests/lib/recvtty.py

rt_setup_file() {
  [ "$(id -u)" -eq 0 ] || return 0
  RT_BASE=$(mktemp -d /tmp/sp-rt.XXXXXX)
  # Containers with a user namespace must be able to walk to their rootfs.
  chmod 755 "$RT_BASE"
  RT_ROOT=$RT_BASE/state
  RT_PREFIX=sprt-${RT_BASE##*.}
  export RT_BASE RT_ROOT RT_PREFIX
  # One template rootfs; each bundle gets a copy (cp -a of one static binary).
  local t=$RT_BASE/template
  mkdir -p "$t"/{bin,proc,sys,dev,tmp,etc,data,mnt,hooks,out,root}
  cp "$RT_BUSYBOX" "$t/bin/busybox"
  local a
  for a in $("$RT_BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$t/bin/$a"
  done
  chmod 1777 "$t/tmp"
  echo "root:x:0:0:root:/root:/bin/sh" >"$t/etc/passwd"
  echo "root:x:0:" >"$t/etc/group"
  echo rootfs-marker >"$t/etc/marker"
}

rt_teardown_file() {
  [ -n "${RT_BASE:-}" ] && [ -d "$RT_BASE" ] || return 0
  # Anything a failed test left mounted under our dir goes first.
  local m
  for m in $(awk -v b="$RT_BASE" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$RT_BASE"
}

rt_setup() {
  [ "$(id -u)" -eq 0 ] || skip "runtime tests need root"
  [ -x "$RT_BIN" ] || skip "$RT_BIN not built (run make)"
  [ -x "$RT_BUSYBOX" ] || skip "no static busybox at $RT_BUSYBOX (apt-get install busybox-static)"
  command -v jq >/dev/null || skip "jq is not installed"
  [ -n "${RT_BASE:-}" ] || skip "setup_file did not run"
  RT_HOLDERS=()
  RT_TESTDIR=$RT_BASE/t$BATS_TEST_NUMBER
  mkdir -p "$RT_TESTDIR"
}

sp() {
  "$RT_BIN" --root "$RT_ROOT" "$@"
}

rt_id() {
  echo "$RT_PREFIX-$BATS_TEST_NUMBER-$1"
}

# rt_bundle NAME: a fresh bundle under this test's directory; prints its path.
# process.terminal is off and args are `sh -c "exit 0"` until a test sets them.
rt_bundle() {
  local b=$RT_TESTDIR/$1
  mkdir -p "$b"
  cp -a "$RT_BASE/template" "$b/rootfs"
  "$RT_BIN" spec --bundle "$b" || return 1
  rt_cfg "$b" '.process.terminal = false | .process.args = ["sh", "-c", "exit 0"]' || return 1
  echo "$b"
}

rt_cfg() {
  local b=$1 filter=$2
  shift 2
  jq "$filter" "$@" <"$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}

# A JSON array of the arguments (jq's --args would eat "-c" as its own option).
rt_json_array() {
  local a
  for a in "$@"; do printf '%s' "$a" | jq -Rs .; done | jq -cs .
}

rt_args() {
  local b=$1
  shift
  rt_cfg "$b" '.process.args = $a' --argjson a "$(rt_json_array "$@")"
}

# Adds a bind mount of a host directory: rt_bind B SRC DEST OPTION...
rt_bind() {
  local b=$1 src=$2 dst=$3
  shift 3
  rt_cfg "$b" '.mounts += [{"destination": $d, "type": "bind", "source": $s, "options": $o}]' \
    --arg d "$dst" --arg s "$src" --argjson o "$(rt_json_array "$@")"
}

# A host directory the container may write into (bound at /out by rt_out).
rt_out() {
  local b=$1
  mkdir -p "$b/out"
  chmod 777 "$b/out"
  rt_bind "$b" "$b/out" /out rbind rw
}

# Adds a namespace: rt_ns B TYPE [PATH]
rt_ns() {
  local b=$1 t=$2 p=${3:-}
  if [ -n "$p" ]; then
    rt_cfg "$b" '.linux.namespaces = ([.linux.namespaces[] | select(.type != $t)] + [{"type": $t, "path": $p}])' \
      --arg t "$t" --arg p "$p"
  else
    rt_cfg "$b" '.linux.namespaces = ([.linux.namespaces[] | select(.type != $t)] + [{"type": $t}])' --arg t "$t"
  fi
}

# create / run --detach with the container's stdio on files, so that no
# caller pipe is held open by the container (bats' `run` would wait for it).
# Sets status and output (the runtime's messages) like bats' run.
rt_create() {
  local id=$1 b=$2
  shift 2
  status=0
  local f=$RT_TESTDIR/io-${id//[^A-Za-z0-9_.-]/_}
  sp create "$@" --bundle "$b" "$id" </dev/null >"$f.out" 2>"$f.err" || status=$?
  output=$(cat "$f.err")
}

rt_detach() {
  local id=$1 b=$2
  shift 2
  status=0
  local f=$RT_TESTDIR/io-${id//[^A-Za-z0-9_.-]/_}
  sp run --detach "$@" --bundle "$b" "$id" </dev/null >"$f.out" 2>"$f.err" || status=$?
  output=$(cat "$f.err")
}

# Status of a container from `samepage state`.
rt_status() {
  sp state "$1" | jq -r .status
}

rt_pid() {
  sp state "$1" | jq -r .pid
}

# Waits up to $2 (default 5) seconds until the container's status is $3.
rt_wait_status() {
  local id=$1 secs=${2:-5} want=$3 i
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(rt_status "$id" 2>/dev/null)" = "$want" ] && return 0
    sleep 0.05
  done
  echo "container $id did not reach status $want (now: $(rt_status "$id" 2>&1))" >&2
  return 1
}

# Waits until a file exists and is not empty.
rt_wait_file() {
  local f=$1 secs=${2:-5} i
  for ((i = 0; i < secs * 20; i++)); do
    [ -s "$f" ] && return 0
    sleep 0.05
  done
  echo "timed out waiting for $f" >&2
  return 1
}

# A process holding namespaces for "join by path" tests; killed in teardown.
# rt_holder UNSHARE_ARGS... ; sets RT_HOLDER_PID.
rt_holder() {
  unshare "$@" sleep 600 &
  RT_HOLDER_PID=$!
  RT_HOLDERS+=("$RT_HOLDER_PID")
  # Wait until unshare has exec'd sleep in its new namespaces.
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(readlink /proc/$RT_HOLDER_PID/exe 2>/dev/null)" != "$(readlink -f "$(command -v unshare)")" ] &&
      [ "$(cat /proc/$RT_HOLDER_PID/comm 2>/dev/null)" = sleep ] && return 0
    sleep 0.05
  done
  return 1
}

# The container cgroup directories named after this file's ids.
rt_leftover_cgroups() {
  ls -d /sys/fs/cgroup/*/samepage/"$RT_PREFIX"* /sys/fs/cgroup/samepage/"$RT_PREFIX"* 2>/dev/null || true
}

rt_leftover_mounts() {
  awk -v b="$RT_BASE" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo
}

# Processes that are in one of our containers' cgroups, or run from our dirs.
rt_leftover_processes() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    # A detached container's init is reparented to the host's pid 1, which
    # reaps when it pleases: a zombie holds nothing, skip it.
    [ "$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -c1)" = Z ] && continue
    if grep -qs "/$RT_PREFIX" "$p/cgroup" 2>/dev/null; then
      echo "${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
    fi
  done
}

rt_assert_clean() {
  local left=""
  [ -d "$RT_ROOT" ] && left+=$(ls -A "$RT_ROOT" | sed 's/^/state: /')
  left+=$(rt_leftover_cgroups | sed 's/^/cgroup: /')
  left+=$(rt_leftover_mounts | sed 's/^/mount: /')
  left+=$(rt_leftover_processes | sed 's/^/process: /')
  if [ -n "$left" ]; then
    echo "left behind after the test:" >&2
    echo "$left" >&2
    return 1
  fi
}

rt_teardown() {
  [ -n "${RT_BASE:-}" ] || return 0
  local id p rc=0
  for p in "${RT_HOLDERS[@]}"; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ -d "$RT_ROOT" ]; then
    for id in $(ls -A "$RT_ROOT"); do
      sp delete --force "$id" >/dev/null 2>&1 || echo "teardown: delete --force $id failed" >&2
    done
  fi
  # After delete --force nothing of any container may remain.
  rt_assert_clean || rc=1
  # Make the next test start clean even after a failure.
  if [ "$rc" -ne 0 ]; then
    for p in $(rt_leftover_mounts | sort -r); do
      umount -l "$p" 2>/dev/null
    done
    for p in $(rt_leftover_cgroups | sort -r); do
      find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "${RT_ROOT:?}"/*
  fi
  return $rc
}

# Starts recvtty.py on SOCKET writing to OUTPUT; waits until it listens.
# Sets RT_RECVTTY_PID (also killed in teardown if still running).
rt_recvtty() {
  local sock=$1 out=$2 i
  shift 2
  [ -n "$RT_PYTHON" ] || skip "python3 is needed for the console socket receiver"
  "$RT_PYTHON" "$RT_RECVTTY" "$sock" "$out" "$@" &
  RT_RECVTTY_PID=$!
  RT_HOLDERS+=("$RT_RECVTTY_PID")
  for ((i = 0; i < 100; i++)); do
    [ -S "$sock" ] && return 0
    sleep 0.05
  done
  echo "recvtty did not start" >&2
  return 1
}
