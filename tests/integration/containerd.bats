#!/usr/bin/env bats
# containerd 1.6 + containerd-shim-runc-v2 driving $RUNTIME (default: build/samepage), through a
# private containerd started and stopped here (tests/lib/containerd-env.sh).

load helpers
source "$TESTS_LIB/containerd-env.sh"

setup_file() {
  require_root && require_cmd containerd ctr containerd-shim-runc-v2 catatonit jq script && require_runtime || return 0
  containerd_env_setup || fail "containerd_env_setup failed (log: ${CTD_WORK:-?}/containerd.log)"
}

teardown_file() {
  containerd_env_teardown
}

setup() {
  skip_if_file_skipped
}

IMG=localhost/samepage-busybox:latest

# task_field ID COLUMN: the PID (2) or STATUS (3) of a task from `ctr task ls`.
task_field() {
  sp_ctr tasks ls | awk -v id="$1" -v col="$2" '$1 == id { print $col }'
}

task_status_is() {
  [ "$(task_field "$1" 3)" = "$2" ]
}

# Starts a detached task that keeps running, with its stdout in $CTD_WORK/ID.log.
run_detached() {
  local id=$1
  shift
  sp_ctr_run -d --log-uri "file://$CTD_WORK/$id.log" "$IMG" "$id" "$@"
  retry 50 0.1 task_status_is "$id" RUNNING
}

remove_task() {
  sp_ctr tasks kill -a -s SIGKILL "$1" >/dev/null 2>&1 || true
  retry 50 0.1 task_status_is "$1" STOPPED || true
  sp_ctr tasks rm -f "$1" >/dev/null 2>&1 || true
  sp_ctr containers rm "$1"
}

@test "ctr run --rm: output, and the calls reach RUNTIME through BinaryName" {
  run sp_ctr_run --rm "$IMG" c-echo echo hello-samepage
  [ "$status" -eq 0 ]
  [ "$output" = hello-samepage ]
  [ "$CTD_RECORD_CALLS" != 0 ] || skip "CTD_RECORD_CALLS=0: runtime calls are not recorded"
  run ctd_runtime_calls c-echo
  echo "$output"
  [[ "${lines[0]}" == "binaryname --root $CTD_WORK/runc-root/"*" create --bundle "*" c-echo" ]]
  [[ "$output" == *"binaryname "*" start c-echo"* ]]
  [[ "$output" != *"path "* ]]
}

@test "ctr run --rm: exit code propagates" {
  run -42 sp_ctr_run --rm "$IMG" c-exit sh -c 'echo before-exit; exit 42'
  [ "$output" = before-exit ]
}

@test "container create + task start: BinaryName is dropped, PATH's runc is RUNTIME" {
  # A container made without runc options: the shim runs `runc` from containerd's PATH.
  sp_ctr containers create "$IMG" c-path -- sh -c 'echo via-task-start; exit 5'
  run -5 sp_ctr tasks start c-path
  [ "$output" = via-task-start ]
  sp_ctr tasks rm c-path || true
  sp_ctr containers rm c-path
  [ "$CTD_RECORD_CALLS" != 0 ] || skip "CTD_RECORD_CALLS=0: runtime calls are not recorded"
  run ctd_runtime_calls c-path
  echo "$output"
  [[ "${lines[0]}" == "path "*" create --bundle "*" c-path" ]]
}

@test "run -d + task exec: output, exit code, env, cwd" {
  run_detached c-exec sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
  run sp_ctr tasks exec --exec-id e1 c-exec echo from-exec
  [ "$status" -eq 0 ]
  [ "$output" = from-exec ]
  run -7 sp_ctr tasks exec --exec-id e2 c-exec sh -c 'exit 7'
  run sp_ctr tasks exec --exec-id e3 --cwd /home/user c-exec sh -c 'pwd; cat /proc/1/cmdline | tr "\0" " "'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = /home/user ]
  [[ "${lines[1]}" == "sh -c trap"* ]] || fail "PID 1 in the container is '${lines[1]}'"
  run sp_ctr tasks exec --exec-id e4 c-exec tty
  [ "$status" -ne 0 ]
  [[ "$output" == *"not a tty"* ]]
  if [ "$CTD_RECORD_CALLS" != 0 ]; then
    ctd_runtime_calls c-exec | grep -q ' exec --process .* --detach --pid-file .*/e1.pid c-exec$'
  fi
  remove_task c-exec
}

@test "task exec --tty: the process gets a pty" {
  run_detached c-tty sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
  run script -qec "ctr -a $CTD_WORK/containerd.sock -n $CTD_NS tasks exec -t --exec-id t1 c-tty sh -c 'tty; exit 4'" /dev/null
  echo "$output"
  [ "$status" -eq 4 ]
  [[ "$output" =~ /dev/pts/[0-9]+ ]] || fail "exec -t: '$output'"
  remove_task c-tty
}

@test "ctr run -t under a pty: the container sees a terminal" {
  run script -qec "ctr -a $CTD_WORK/containerd.sock -n $CTD_NS run --rm -t --runc-binary $CTD_WORK/bin/sp-runtime --runc-root $CTD_WORK/runc-root $IMG c-runtty sh -c 'tty; exit 6'" /dev/null
  echo "$output"
  [ "$status" -eq 6 ]
  [[ "$output" =~ /dev/pts/0 ]] || fail "run -t: '$output'"
}

@test "task kill --signal USR1: the container traps it" {
  run_detached c-kill sh -c 'trap "echo got-usr1; exit 10" USR1; while :; do sleep 0.2; done'
  sleep 0.3
  sp_ctr tasks kill --signal SIGUSR1 c-kill
  retry 50 0.1 task_status_is c-kill STOPPED || fail "task still $(task_field c-kill 3) after USR1"
  grep -q got-usr1 "$CTD_WORK/c-kill.log"
  run sp_ctr tasks rm c-kill
  [[ "$output" == *"exit code 10"* ]] || fail "task rm: $output"
  sp_ctr containers rm c-kill
}

@test "pause/resume: status and a frozen counter" {
  run_detached c-pause sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/counter; sleep 0.05; done'
  pid=$(task_field c-pause 2)
  counter=/proc/$pid/root/tmp/counter
  retry 50 0.1 test -s "$counter"
  sp_ctr tasks pause c-pause
  task_status_is c-pause PAUSED || fail "status after pause: $(task_field c-pause 3)"
  [ "$(cat "$(cgroup_dir "$pid" freezer)/freezer.state")" = FROZEN ]
  c1=$(cat "$counter"); sleep 0.6; c2=$(cat "$counter")
  [ "$c1" = "$c2" ] || fail "counter moved while paused: $c1 -> $c2"
  sp_ctr tasks resume c-pause
  task_status_is c-pause RUNNING || fail "status after resume: $(task_field c-pause 3)"
  sleep 0.6; c3=$(cat "$counter")
  [ "$c3" -gt "$c2" ] || fail "counter did not advance after resume: $c2 -> $c3"
  remove_task c-pause
}

@test "task ps: lists the container's processes (runtime ps --format json)" {
  run_detached c-ps sh -c 'sleep 1001 & sleep 1002 & wait'
  init=$(task_field c-ps 2)
  retry 50 0.1 sh -c "[ \$(ctr -a $CTD_WORK/containerd.sock -n $CTD_NS tasks ps c-ps | wc -l) -ge 4 ]"
  run sp_ctr tasks ps c-ps
  echo "$output"
  [ "$status" -eq 0 ]
  pids=$(awk 'NR > 1 { print $1 }' <<<"$output")
  [[ " $(echo $pids) " == *" $init "* ]] || fail "init $init not in: $pids"
  cmds=$(for p in $pids; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)
  echo "$cmds"
  grep -qx 'sleep 1001 ' <<<"$cmds"
  grep -qx 'sleep 1002 ' <<<"$cmds"
  [ "$(wc -l <<<"$pids")" -eq 3 ] || fail "expected 3 processes, got: $pids"
  if [ "$CTD_RECORD_CALLS" != 0 ]; then
    ctd_runtime_calls c-ps | grep -q ' ps --format json c-ps$'
  fi
  remove_task c-ps
}

@test "task kill -a and rm -f on a stopped task" {
  run_detached c-stopped sh -c 'sleep 0.3; exit 3' || true
  retry 50 0.1 task_status_is c-stopped STOPPED || fail "task did not stop: $(task_field c-stopped 3)"
  # The shim passes this on as `kill --all ID 9`: the runtime must accept it for a stopped task.
  run sp_ctr tasks kill -a -s SIGKILL c-stopped
  [ "$status" -eq 0 ] || fail "kill -a on a stopped task: $output"
  if [ "$CTD_RECORD_CALLS" != 0 ]; then
    ctd_runtime_calls c-stopped | grep -q ' kill --all c-stopped 9$'
  fi
  run sp_ctr tasks rm -f c-stopped
  [ "$status" -eq 0 ] || fail "rm -f: $output"
  [[ "$output" == *"exit code 3"* ]] || fail "rm -f did not report exit code 3: $output"
  [ -z "$(task_field c-stopped 1)" ] || fail "task still listed after rm -f"
  sp_ctr containers rm c-stopped
  [ ! -e "$CTD_WORK/runc-root/$CTD_NS/c-stopped" ] || fail "runtime state left for c-stopped"
}

@test "task rm -f of a running task kills it" {
  run_detached c-rmf sh -c 'while :; do sleep 0.2; done'
  pid=$(task_field c-rmf 2)
  run sp_ctr tasks rm -f c-rmf
  [ "$status" -eq 0 ]
  [ -z "$(task_field c-rmf 1)" ] || fail "task still listed after rm -f"
  retry 50 0.1 proc_gone "$pid" || fail "container init $pid still runs"
  sp_ctr containers rm c-rmf
}

@test "no leftovers: tasks, mounts, cgroups, processes, runtime state" {
  [ -z "$(sp_ctr tasks ls -q)" ] || fail "tasks left: $(sp_ctr tasks ls -q)"
  [ -z "$(sp_ctr containers ls -q)" ] || fail "containers left: $(sp_ctr containers ls -q)"
  ids="c-echo c-exit c-path c-exec c-tty c-runtty c-kill c-pause c-ps c-stopped c-rmf"
  mounts=$(ctd_mounts)
  [ -z "$mounts" ] || fail "mounts left under $CTD_WORK: $mounts"
  # shellcheck disable=SC2086
  cgs=$(for id in $ids; do find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CTD_NS/$id"; done)
  [ -z "$cgs" ] || fail "cgroups left: $cgs"
  # shims carry "-address <sock>"; the ps test's children are "sleep 1001/1002".
  retry 50 0.2 no_live_procs "$CTD_WORK/containerd.sock" "sleep 1001" "sleep 1002" \
    || fail "processes left: $(live_procs_matching "$CTD_WORK/containerd.sock" "sleep 1001" "sleep 1002")"
  left=$(ls -A "$CTD_WORK/runc-root/$CTD_NS" 2>/dev/null)
  [ -z "$left" ] || fail "runtime state left in $CTD_WORK/runc-root/$CTD_NS: $left"
}
