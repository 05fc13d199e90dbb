#!/usr/bin/env bats
# podman 4.3 + conmon driving $RUNTIME (default: build/samepage) through an isolated podman
# (tests/lib/podman-env.sh).  Every test asserts on what the container really did.

load helpers
source "$TESTS_LIB/podman-env.sh"

setup_file() {
  require_root && require_cmd podman conmon jq script && require_runtime || return 0
  podman_env_setup || fail "podman_env_setup failed"
}

setup() {
  skip_if_file_skipped
}

teardown_file() {
  podman_env_teardown
}

IMG=localhost/samepage-busybox:latest

# No podman call may hang a test when the runtime misbehaves (e.g. a lost signal and `wait`).
podman() {
  timeout -k 5 "${SP_CMD_TIMEOUT:-60}" podman "$@"   # timeout execs the binary
}

# The host PID of a running container's init.
ctr_pid() {
  podman inspect --format '{{.State.Pid}}' "$1"
}

# Starts a detached container that keeps running; prints its ID.
run_sleeper() {
  podman run -d "$@" "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
}

@test "podman uses RUNTIME (info and conmon -r)" {
  run podman info --format '{{.Host.OCIRuntime.Path}}'
  [ "$status" -eq 0 ]
  [ "$output" = "$PODMAN_RUNTIME_PATH" ] || fail "podman info names '$output', expected $PODMAN_RUNTIME_PATH"
  id=$(run_sleeper)
  run live_procs_matching "-c $id"
  echo "$output"
  [[ "$output" == *conmon*" -r $PODMAN_RUNTIME_PATH "* ]] || fail "conmon for $id does not run $PODMAN_RUNTIME_PATH"
  podman rm -f -t 0 "$id"
}

@test "run: stdout of the container" {
  run podman run --rm "$IMG" echo hello-samepage
  [ "$status" -eq 0 ]
  [ "$output" = hello-samepage ]
}

@test "run: exit code propagates" {
  run -42 podman run --rm "$IMG" sh -c 'echo out; echo err >&2; exit 42'
  [ "$status" -eq 42 ]
  # stdout and stderr travel on separate pipes: compare them as a set.
  [ "$(sort <<<"$output" | tr '\n' ' ')" = "err out " ] || fail "output: $output"
}

@test "run: missing command exits 127" {
  run -127 podman run --rm "$IMG" /no/such/command
  echo "$output"
  [ "$status" -eq 127 ]
}

@test "run: command that is not executable exits 126" {
  run -126 podman run --rm "$IMG" /etc/passwd
  echo "$output"
  [ "$status" -eq 126 ]
}

@test "run -d + exec: output, exit code, env, user, workdir" {
  id=$(run_sleeper)
  run podman exec "$id" echo from-exec
  [ "$status" -eq 0 ]
  [ "$output" = from-exec ]
  run podman exec "$id" sh -c 'exit 7'
  [ "$status" -eq 7 ]
  run podman exec --env SP_VAR=exec-env "$id" sh -c 'echo "$SP_VAR"'
  [ "$status" -eq 0 ]
  [ "$output" = exec-env ]
  run podman exec --user 1000:1000 "$id" id
  [ "$status" -eq 0 ]
  [[ "$output" == "uid=1000(user) gid=1000(user)"* ]] || fail "exec --user: $output"
  run podman exec --workdir /home/user "$id" pwd
  [ "$status" -eq 0 ]
  [ "$output" = /home/user ]
  run -127 podman exec "$id" /no/such/command
  [ "$status" -eq 127 ]
  # The exec'd process lives in the container's PID namespace: its init is PID 1.
  run podman exec "$id" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
  [[ "$output" == "sh -c trap"* ]] || fail "PID 1 in the container is '$output'"
  podman rm -f -t 0 "$id"
}

@test "exec -t: the process gets a pty" {
  id=$(run_sleeper)
  run podman exec "$id" tty
  [ "$status" -ne 0 ]
  [[ "$output" == *"not a tty"* ]]
  run podman exec -t "$id" tty
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^/dev/pts/[0-9]+ ]] || fail "exec -t: tty printed '$output'"
  podman rm -f -t 0 "$id"
}

@test "run -t under a pty: container sees a terminal" {
  run script -qec "podman run --rm -t $IMG sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 3'" /dev/null
  echo "$output"
  [ "$status" -eq 3 ]
  [[ "$output" =~ /dev/pts/0 ]] || fail "no /dev/pts/0 in '$output'"
  [[ "$output" == *stdin-is-tty* ]]
}

@test "stop: SIGTERM reaches the container, which exits on its own" {
  id=$(podman run -d "$IMG" sh -c 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.2; done')
  sleep 0.5
  start=$SECONDS
  run podman stop -t 20 "$id"
  [ "$status" -eq 0 ]
  [ $((SECONDS - start)) -lt 10 ] || fail "stop took $((SECONDS - start))s: SIGTERM was not delivered"
  [ "$(podman inspect --format '{{.State.ExitCode}}' "$id")" -eq 0 ]
  run podman logs "$id"
  [[ "$output" == *got-term* ]]
  podman rm "$id"
}

@test "kill -s USR1: the container traps the signal" {
  id=$(podman run -d "$IMG" sh -c 'trap "echo got-usr1; exit 10" USR1; while :; do sleep 0.2; done')
  sleep 0.5
  podman kill -s USR1 "$id"
  run timeout 20 podman wait "$id"
  [ "$output" = 10 ] || fail "exit code after USR1: $output"
  run podman logs "$id"
  [[ "$output" == *got-usr1* ]]
  podman rm "$id"
}

@test "rm -f of a running container kills and removes it" {
  id=$(run_sleeper)
  pid=$(ctr_pid "$id")
  [ "$pid" -gt 0 ]
  kill -0 "$pid"
  run podman rm -f -t 0 "$id"
  [ "$status" -eq 0 ]
  run podman container exists "$id"
  [ "$status" -eq 1 ]
  retry 50 0.1 proc_gone "$pid" || fail "container init $pid still runs after rm -f"
}

@test "pause/resume: state and a frozen counter" {
  id=$(podman run -d "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/counter; sleep 0.05; done')
  pid=$(ctr_pid "$id")
  counter=/proc/$pid/root/tmp/counter
  retry 50 0.1 test -s "$counter"
  podman pause "$id"
  [ "$(podman inspect --format '{{.State.Status}}' "$id")" = paused ]
  [ "$(cat "$(cgroup_dir "$pid" freezer)/freezer.state")" = FROZEN ]
  c1=$(cat "$counter"); sleep 0.6; c2=$(cat "$counter")
  [ "$c1" = "$c2" ] || fail "counter moved while paused: $c1 -> $c2"
  podman unpause "$id"
  [ "$(podman inspect --format '{{.State.Status}}' "$id")" = running ]
  sleep 0.6; c3=$(cat "$counter")
  [ "$c3" -gt "$c2" ] || fail "counter did not advance after resume: $c2 -> $c3"
  podman rm -f -t 0 "$id"
}

@test "--network none: only lo" {
  run podman run --rm --network none "$IMG" ls /sys/class/net
  [ "$status" -eq 0 ]
  [ "$output" = lo ] || fail "interfaces: $output"
}

@test "--read-only: rootfs write fails, tmpfs /tmp works" {
  run podman run --rm --read-only "$IMG" sh -c 'touch /rootfs-write 2>&1; echo rc=$?'
  echo "$output"
  [[ "$output" == *"Read-only file system"* ]]
  [[ "$output" == *rc=1 ]]
  run podman run --rm --read-only "$IMG" sh -c 'echo data >/tmp/f && cat /tmp/f && grep " /tmp " /proc/mounts'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = data ]
  [[ "${lines[1]}" == "tmpfs /tmp tmpfs "* ]]
}

@test "--user 1000:1000" {
  run podman run --rm --user 1000:1000 "$IMG" id
  [ "$status" -eq 0 ]
  [[ "$output" == "uid=1000(user) gid=1000(user)"* ]] || fail "id: $output"
}

@test "--cap-drop all: no effective capabilities" {
  run podman run --rm "$IMG" grep CapEff /proc/self/status
  [ "$status" -eq 0 ]
  [[ "$output" != *0000000000000000 ]] || fail "default container has no capabilities at all"
  run podman run --rm --cap-drop all "$IMG" grep -E 'Cap(Eff|Prm|Bnd)' /proc/self/status
  [ "$status" -eq 0 ]
  echo "$output"
  [ "$(grep -c ':[[:space:]]*0000000000000000$' <<<"$output")" -eq 3 ]
}

@test "--pids-limit 10: pids.max set and a fork bomb is contained" {
  id=$(run_sleeper --pids-limit 10)
  pid=$(ctr_pid "$id")
  dir=$(cgroup_dir "$pid" pids)
  [ "$(cat "$dir/pids.max")" = 10 ]
  run podman exec "$id" sh -c 'for i in $(seq 1 30); do sleep 30 & done; sleep 0.5; cat /proc/loadavg >/dev/null; echo done'
  echo "$output"
  [[ "$output" == *"can't fork"* ]] || fail "no fork failed under pids.max=10"
  [ "$(cat "$dir/pids.current")" -le 10 ]
  podman rm -f -t 0 "$id"
}

@test "--memory 32m: memory limit in the container's cgroup" {
  id=$(run_sleeper --memory 32m)
  pid=$(ctr_pid "$id")
  dir=$(cgroup_dir "$pid" memory)
  [ "$(cat "$dir/memory.limit_in_bytes")" = 33554432 ]
  podman rm -f -t 0 "$id"
}

@test "--hostname and --env" {
  run podman run --rm --hostname sp-host -e SP_A=alpha -e SP_B="two words" "$IMG" \
    sh -c 'hostname; echo "$SP_A"; echo "$SP_B"'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = sp-host ]
  [ "${lines[1]}" = alpha ]
  [ "${lines[2]}" = "two words" ]
}

@test "bind volume: read, write, and :ro" {
  dir=$PODMAN_WORK/vol
  mkdir -p "$dir"
  echo host-data >"$dir/in"
  run podman run --rm -v "$dir:/data" "$IMG" sh -c 'cat /data/in; echo ctr-data >/data/out'
  [ "$status" -eq 0 ]
  [ "$output" = host-data ]
  [ "$(cat "$dir/out")" = ctr-data ]
  run podman run --rm -v "$dir:/data:ro" "$IMG" sh -c 'echo x >/data/out2'
  [ "$status" -ne 0 ]
  [[ "$output" == *"Read-only file system"* ]]
  [ ! -e "$dir/out2" ]
}

@test "--preserve-fds 1: fd 3 reaches the container" {
  echo passed-through >"$PODMAN_WORK/fd3"
  run podman run --rm --preserve-fds 1 "$IMG" sh -c 'cat <&3; test -e /proc/self/fd/4 && echo fd4-leaked; true' 3<"$PODMAN_WORK/fd3"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = passed-through ]
}

@test "no leftovers: mounts, cgroups, processes, runtime state" {
  podman rm -a -f -t 0
  [ -z "$(podman ps -aq)" ]
  ids=$(jq -r 'select(.ID != null and (.Type == "container")) | .ID' "$PODMAN_WORK/events.log" 2>/dev/null | sort -u)
  [ -n "$ids" ] || ids=$(grep -o '"ID":"[0-9a-f]\{64\}"' "$PODMAN_WORK/events.log" | cut -d'"' -f4 | sort -u)
  [ -n "$ids" ] || fail "no container IDs in $PODMAN_WORK/events.log"
  mounts=$(podman_env_mounts)
  [ -z "$mounts" ] || fail "mounts left under $PODMAN_WORK: $mounts"
  # shellcheck disable=SC2086
  cgs=$(cgroups_named $ids)
  [ -z "$cgs" ] || fail "cgroups left: $cgs"
  # shellcheck disable=SC2086
  retry 50 0.2 no_live_procs "$PODMAN_WORK" $ids \
    || fail "processes left: $(live_procs_matching "$PODMAN_WORK" $ids)"
  for id in $ids; do
    [ ! -e "/run/$(basename "$RUNTIME")/$id" ] || fail "runtime state left: /run/$(basename "$RUNTIME")/$id"
  done
}
