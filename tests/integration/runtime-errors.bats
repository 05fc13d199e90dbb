#!/usr/bin/env bats
# samepage's failure paths: every bad input is a one-line error that names
# what is wrong, a non-zero exit, and nothing left behind (no state
# directory, no cgroup, no mount, no process).  Runs as root.

load ../lib/runtime-bundle

setup_file() { rt_setup_file; }
teardown_file() { rt_teardown_file; }
setup() { rt_setup; }
teardown() { rt_teardown; }

# create_fails ID BUNDLE [create options]: create must fail, leave nothing,
# and say so in one line on stderr (the runtime's own lines start "samepage:").
create_fails() {
  local id=$1
  rt_create "$@"
  echo "status=$status"
  echo "$output"
  [ "$status" -ne 0 ]
  [ ! -e "$RT_ROOT/$id" ] || { echo "state directory left: $(ls -A "$RT_ROOT/$id")"; false; }
  [ -z "$(rt_leftover_cgroups)" ] || { echo "cgroups left: $(rt_leftover_cgroups)"; false; }
  [ -z "$(rt_leftover_processes)" ] || { echo "processes left: $(rt_leftover_processes)"; false; }
  [ -z "$(rt_leftover_mounts)" ] || { echo "mounts left: $(rt_leftover_mounts)"; false; }
  # Exactly one error line.
  [ "$(grep -c '^samepage: ' <<<"$output")" -eq 1 ]
}

# ---------------------------------------------------------------- bad config

@test "config: a field of the wrong type names the file and the field" {
  b=$(rt_bundle badtype)
  rt_cfg "$b" '.linux.resources.memory = {"limit": "lots"}'
  create_fails "$(rt_id badtype)" "$b"
  grep -q "config.json: linux.resources.memory.limit" <<<"$output"
}

@test "config: an unknown rlimit names the field" {
  b=$(rt_bundle badrlimit)
  rt_cfg "$b" '.process.rlimits = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]'
  create_fails "$(rt_id badrlimit)" "$b"
  grep -q 'process.rlimits\[0\].type' <<<"$output"
}

@test "config: an unknown namespace type names the field" {
  b=$(rt_bundle badns)
  rt_cfg "$b" '.linux.namespaces += [{"type": "bogus"}]'
  create_fails "$(rt_id badns)" "$b"
  grep -q 'linux.namespaces\[[0-9]*\].type' <<<"$output"
}

@test "config: an unknown capability is ignored with a warning naming the field (runc compatible)" {
  b=$(rt_bundle badcap)
  rt_cfg "$b" '.process.capabilities.bounding += ["CAP_BOGUS"]'
  rt_args "$b" grep ^CapBnd /proc/self/status
  id=$(rt_id badcap)
  run sp run --bundle "$b" "$id"
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q 'process.capabilities.bounding.*CAP_BOGUS\|CAP_BOGUS.*bounding' <<<"$output"
  grep -q $'^CapBnd:\t0000000020000420$' <<<"$output"
}

@test "config: an unknown seccomp action is named; an unknown syscall name is skipped (runc compatible)" {
  b=$(rt_bundle badsec)
  rt_cfg "$b" '.linux.seccomp = {"defaultAction": "SCMP_ACT_BOGUS"}'
  create_fails "$(rt_id badsec)" "$b"
  grep -q 'linux.seccomp.defaultAction' <<<"$output"
  b2=$(rt_bundle badsys)
  rt_cfg "$b2" '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
                                  "syscalls": [{"names": ["no_such_syscall_xyz", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
  rt_args "$b2" sh -c 'mkdir /dev/shm/d 2>&1; true'
  run sp run --bundle "$b2" "$(rt_id badsys)"
  echo "$output"
  [ "$status" -eq 0 ]
  # The known names in the same rule still apply.
  grep -q 'Operation not permitted' <<<"$output"
}

@test "config: invalid JSON names the file" {
  b=$(rt_bundle badjson)
  echo '{"ociVersion": "1.2.0", "process": ' >"$b/config.json"
  create_fails "$(rt_id badjson)" "$b"
  grep -q "$b/config.json" <<<"$output"
}

@test "config: a missing config.json or rootfs is named" {
  b=$(rt_bundle noconfig)
  rm "$b/config.json"
  create_fails "$(rt_id noconfig)" "$b"
  grep -q 'config.json' <<<"$output"
  b2=$(rt_bundle norootfs)
  rm -rf "$b2/rootfs"
  create_fails "$(rt_id norootfs)" "$b2"
  grep -q 'root.path' <<<"$output"
}

@test "config: a user namespace without uid mappings is refused" {
  b=$(rt_bundle nomap)
  rt_ns "$b" user
  rt_cfg "$b" 'del(.linux.uidMappings) | del(.linux.gidMappings)'
  create_fails "$(rt_id nomap)" "$b"
  grep -q 'uidMappings' <<<"$output"
}

@test "config: an invalid sysctl key is refused" {
  b=$(rt_bundle badsysctl)
  rt_cfg "$b" '.linux.sysctl = {"kernel/../../etc": "1"}'
  create_fails "$(rt_id badsysctl)" "$b"
  grep -q 'sysctl' <<<"$output"
}

@test "config: a bind mount of a missing source names the source" {
  b=$(rt_bundle nosrc)
  rt_bind "$b" "$RT_TESTDIR/does-not-exist" /data rbind
  create_fails "$(rt_id nosrc)" "$b"
  grep -q "$RT_TESTDIR/does-not-exist" <<<"$output"
}

@test "config: joining a namespace path that does not exist names the path" {
  b=$(rt_bundle nsmissing)
  rt_ns "$b" network "$RT_TESTDIR/no-such-netns"
  create_fails "$(rt_id nsmissing)" "$b"
  grep -q "$RT_TESTDIR/no-such-netns" <<<"$output"
}

# ---------------------------------------------------------------- process

@test "process: a missing executable fails create with 'executable file not found'" {
  b=$(rt_bundle noexe)
  rt_args "$b" no-such-command-xyz arg
  create_fails "$(rt_id noexe)" "$b"
  grep -q 'executable file not found' <<<"$output"
  grep -q 'no-such-command-xyz' <<<"$output"
  b2=$(rt_bundle noabs)
  rt_args "$b2" /bin/no-such-binary
  create_fails "$(rt_id noabs)" "$b2"
  grep -q '/bin/no-such-binary' <<<"$output"
  grep -Eqi 'no such file|not found' <<<"$output"
}

@test "process: a non-executable file fails create with permission denied" {
  b=$(rt_bundle noperm)
  printf 'not a program\n' >"$b/rootfs/bin/data"
  chmod 644 "$b/rootfs/bin/data"
  rt_args "$b" /bin/data
  create_fails "$(rt_id noperm)" "$b"
  grep -qi 'permission denied' <<<"$output"
}

@test "process: a cwd that is not a directory fails create" {
  b=$(rt_bundle badcwd)
  rt_cfg "$b" '.process.cwd = "/etc/marker"'
  create_fails "$(rt_id badcwd)" "$b"
  grep -q '/etc/marker' <<<"$output"
}

@test "process: terminal without --console-socket, and a console socket nobody listens on" {
  b=$(rt_bundle noconsole)
  rt_cfg "$b" '.process.terminal = true'
  create_fails "$(rt_id noconsole)" "$b"
  grep -q 'console-socket' <<<"$output"
  create_fails "$(rt_id noconsole2)" "$b" --console-socket "$RT_TESTDIR/nobody.sock"
  grep -q "$RT_TESTDIR/nobody.sock" <<<"$output"
}

@test "process: a run that fails leaves nothing either" {
  b=$(rt_bundle runfail)
  rt_args "$b" no-such-command-xyz
  id=$(rt_id runfail)
  run sp run --bundle "$b" "$id"
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'executable file not found' <<<"$output"
  [ ! -e "$RT_ROOT/$id" ]
  [ -z "$(rt_leftover_cgroups)" ]
}

# ---------------------------------------------------------------- hooks

@test "hooks: a failing prestart hook fails create and leaves nothing" {
  b=$(rt_bundle hookfail)
  rt_cfg "$b" '.hooks.prestart = [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]'
  create_fails "$(rt_id hookfail)" "$b"
  grep -q 'prestart' <<<"$output"
  grep -q 'exit status 3' <<<"$output"
}

@test "hooks: a hook over its timeout is killed, create fails in time and leaves nothing" {
  b=$(rt_bundle hooktimeout)
  marker=$RT_TESTDIR/hook-still-ran
  rt_cfg "$b" '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", $cmd], "timeout": 1}]' \
    --arg cmd "sleep 5; touch $marker"
  SECONDS=0
  create_fails "$(rt_id hooktimeout)" "$b"
  [ "$SECONDS" -lt 4 ]
  grep -q 'timed out' <<<"$output"
  sleep 5
  # The hook was killed, not left to finish.
  [ ! -e "$marker" ]
}

@test "hooks: a createContainer hook that is missing fails create" {
  b=$(rt_bundle hookmissing)
  rt_cfg "$b" '.hooks.createContainer = [{"path": "/no/such/hook"}]'
  create_fails "$(rt_id hookmissing)" "$b"
  grep -q 'createContainer' <<<"$output"
}

# ---------------------------------------------------------------- ids and state

@test "ids: a duplicate id is refused and the first container is untouched" {
  b=$(rt_bundle dup)
  rt_args "$b" sleep 600
  id=$(rt_id dup)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  pid=$(rt_pid "$id")
  rt_create "$id" "$b"
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'already exists' <<<"$output"
  [ "$(rt_status "$id")" = running ]
  [ "$(rt_pid "$id")" = "$pid" ]
  sp delete --force "$id"
}

@test "ids: concurrent creates of one id: exactly one wins" {
  b=$(rt_bundle race)
  rt_args "$b" sleep 600
  id=$(rt_id race)
  pids=()
  for i in 1 2 3 4; do
    sp create --bundle "$b" "$id" </dev/null >/dev/null 2>"$RT_TESTDIR/race$i.err" &
    pids+=($!)
  done
  ok=0
  for p in "${pids[@]}"; do
    if wait "$p"; then ok=$((ok + 1)); fi
  done
  cat "$RT_TESTDIR"/race*.err
  [ "$ok" -eq 1 ]
  [ "$(rt_status "$id")" = created ]
  [ "$(ls -d /sys/fs/cgroup/memory/samepage/"$id" 2>/dev/null | wc -l)" -le 1 ]
  sp delete --force "$id"
}

@test "ids: invalid ids are refused and create nothing outside the state root" {
  b=$(rt_bundle badid)
  for id in "../escape-$RT_PREFIX" "a/b" ".hidden" "-dash" "with space" ""; do
    rt_create "$id" "$b"
    echo "id=[$id] status=$status: $output"
    [ "$status" -ne 0 ]
  done
  [ ! -e "$RT_BASE/escape-$RT_PREFIX" ]
  [ -z "$(ls -A "$RT_ROOT" 2>/dev/null)" ]
}

# ---------------------------------------------------------------- verbs in the wrong status

@test "start: a running, a stopped and a missing container cannot be started" {
  b=$(rt_bundle startrun)
  rt_args "$b" sleep 600
  id=$(rt_id startrun)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  run sp start "$id"
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q running <<<"$output"
  sp kill "$id" KILL
  rt_wait_status "$id" 5 stopped
  run sp start "$id"
  [ "$status" -ne 0 ]
  grep -q stopped <<<"$output"
  sp delete "$id"
  run sp start "$id"
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}

@test "kill: an unknown signal is refused and the container keeps running" {
  b=$(rt_bundle badsig)
  rt_args "$b" sleep 600
  id=$(rt_id badsig)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  for sig in SIGBOGUS BOGUS 99999 -5 RTMIN+1000 ""; do
    run sp kill "$id" "$sig"
    echo "sig=[$sig] $status: $output"
    [ "$status" -ne 0 ]
  done
  run sp kill "$id" SIGBOGUS
  grep -q 'unknown signal' <<<"$output"
  [ "$(rt_status "$id")" = running ]
  sp delete --force "$id"
}

@test "kill: a stopped container is not running; --all on it succeeds" {
  b=$(rt_bundle killstopped)
  id=$(rt_id killstopped)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  rt_wait_status "$id" 5 stopped
  run sp kill "$id" TERM
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'not running' <<<"$output"
  run sp kill "$id" missing-extra-arg TERM
  [ "$status" -ne 0 ]
  sp delete "$id"
  run sp kill "$id" TERM
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}

@test "pause/resume: only a running container pauses, only a paused one resumes" {
  b=$(rt_bundle pausebad)
  rt_args "$b" sleep 600
  id=$(rt_id pausebad)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  run sp resume "$id"
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'not paused' <<<"$output"
  sp kill "$id" KILL
  rt_wait_status "$id" 5 stopped
  run sp pause "$id"
  [ "$status" -ne 0 ]
  grep -q stopped <<<"$output"
  sp delete "$id"
}

@test "delete: without --force a running container stays; a missing one is an error" {
  b=$(rt_bundle delbad)
  rt_args "$b" sleep 600
  id=$(rt_id delbad)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  run sp delete "$id"
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q -- '--force' <<<"$output"
  [ "$(rt_status "$id")" = running ]
  sp delete --force "$id"
  run sp delete "$id"
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}

@test "exec: in a stopped or missing container, or of a missing executable, fails" {
  b=$(rt_bundle execbad)
  rt_args "$b" sleep 600
  id=$(rt_id execbad)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  run sp exec "$id" no-such-command-xyz
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'executable file not found' <<<"$output"
  # The failed exec left no process behind in the container.
  [ "$(sp ps --format json "$id" | jq length)" -eq 1 ]
  run sp exec --user notanumber "$id" true
  [ "$status" -ne 0 ]
  grep -q -- '--user' <<<"$output"
  run sp exec --process "$RT_TESTDIR/no-such-process.json" "$id"
  [ "$status" -ne 0 ]
  grep -q 'no-such-process.json' <<<"$output"
  sp kill "$id" KILL
  rt_wait_status "$id" 5 stopped
  run sp exec "$id" true
  [ "$status" -ne 0 ]
  grep -q stopped <<<"$output"
  sp delete "$id"
  run sp exec "$id" true
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}

@test "update: bad resources JSON is refused and the limits stay" {
  [ -d /sys/fs/cgroup/pids ] || skip "needs the v1 pids hierarchy"
  b=$(rt_bundle updbad)
  rt_cfg "$b" '.linux.resources.pids = {"limit": 100}'
  rt_args "$b" sleep 600
  id=$(rt_id updbad)
  rt_detach "$id" "$b"
  [ "$status" -eq 0 ]
  run sp update --resources - "$id" <<<'{"pids": {"limit": "many"}}'
  echo "$output"
  [ "$status" -ne 0 ]
  grep -q 'pids.limit' <<<"$output"
  run sp update --pids-limit abc "$id"
  [ "$status" -ne 0 ]
  run sp update "$id"
  [ "$status" -ne 0 ]
  [ "$(cat /sys/fs/cgroup/pids/samepage/"$id"/pids.max)" = 100 ]
  sp delete --force "$id"
  run sp update --pids-limit 5 "$id"
  [ "$status" -ne 0 ]
  grep -q 'does not exist' <<<"$output"
}

@test "state: a missing container is an error naming it" {
  run sp state "missing-$RT_PREFIX"
  [ "$status" -ne 0 ]
  [ "$(grep -c . <<<"$output")" -eq 1 ]
  grep -q "missing-$RT_PREFIX.*does not exist" <<<"$output"
}

# ---------------------------------------------------------------- command line

@test "cli: unknown command, unknown global option, bad --log-format, missing id" {
  run "$RT_BIN" no-such-verb
  [ "$status" -ne 0 ]
  grep -q 'unknown command' <<<"$output"
  run "$RT_BIN" --no-such-option state x
  [ "$status" -ne 0 ]
  run "$RT_BIN" --log-format yaml state x
  [ "$status" -ne 0 ]
  grep -q 'log-format' <<<"$output"
  for v in create start state kill delete pause resume ps; do
    run sp "$v"
    echo "$v: $status $output"
    [ "$status" -ne 0 ]
    grep -q "usage: samepage $v" <<<"$output"
  done
}

@test "cli: --log --log-format json records a create failure as one JSON line" {
  b=$(rt_bundle logjson)
  rt_args "$b" no-such-command-xyz
  id=$(rt_id logjson)
  log=$RT_TESTDIR/log.json
  status=0
  sp --log "$log" --log-format json create --bundle "$b" "$id" </dev/null >/dev/null 2>"$RT_TESTDIR/err" || status=$?
  [ "$status" -ne 0 ]
  cat "$log"
  [ "$(grep -c . "$log")" -eq 1 ]
  [ "$(jq -r .level "$log")" = error ]
  jq -r .msg "$log" | grep -q 'executable file not found'
  # The file ends with a newline (one record per line for log readers).
  [ "$(tail -c1 "$log" | od -An -c | tr -d ' ')" = '\n' ]
  [ ! -e "$RT_ROOT/$id" ]
}
