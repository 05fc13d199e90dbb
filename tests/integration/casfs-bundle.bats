#!/usr/bin/env bats
# casfs bundle: an OCI bundle from an imported image (config checked with jq,
# compared with `samepage spec`, and run by crun and runc when installed).

setup_file() {
  export CASFS="${SAMEPAGE_BUILD:-$BATS_TEST_DIRNAME/../../build}/casfs"
  export SAMEPAGE="${SAMEPAGE_BUILD:-$BATS_TEST_DIRNAME/../../build}/samepage"
  export DATA="$BATS_TEST_DIRNAME/../data/casfs-import"
  export WORK="$BATS_FILE_TMPDIR/work"
  mkdir -p "$WORK"
  BB=$(command -v busybox || true)
  if [ -n "$BB" ] && file -L "$BB" 2>/dev/null | grep -q 'statically linked'; then
    python3 "$DATA/make_inputs.py" app "$WORK/app" "$BB"
  fi
}

setup() {
  [ -d "$WORK/app/oci" ] || skip "no statically linked busybox on this host to build the test image from"
  S="$BATS_TEST_TMPDIR/s"
  "$CASFS" --store "$S" import -q "$WORK/app/oci" >/dev/null
}

teardown() {
  for id in ${CONTAINERS:-}; do
    crun delete -f "$id" >/dev/null 2>&1 || runc delete -f "$id" >/dev/null 2>&1 || true
  done
}

@test "bundle: config.json from the image config, empty rootfs" {
  B="$BATS_TEST_TMPDIR/b"
  run "$CASFS" --store "$S" bundle app:1 "$B"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -d "$B/rootfs" ] && [ -z "$(ls -A "$B/rootfs")" ]
  tree=$(sed -n 1p "$S/refs/app:1")
  c="$B/config.json"
  jq -e '.ociVersion == "1.0.2"' "$c"
  jq -e '.process.args == ["/bin/sh", "-c", "id; pwd; echo \"$FOO\"; cat hello"]' "$c"
  jq -e '.process.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar baz", "LANG=C.UTF-8"]' "$c"
  jq -e '.process.cwd == "/srv" and .process.terminal == false' "$c"
  # "app" from the image's /etc/passwd (a symlink inside the tree) and /etc/group, not the host's
  jq -e '.process.user == {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}' "$c"
  jq -e --arg t "$tree" --arg s "$(realpath "$S")" \
     '.annotations == {"org.samepage.casfs.tree": $t, "org.samepage.casfs.store": $s}' "$c"
  jq -e '.root == {"path": "rootfs", "readonly": false} and .hostname == "samepage"' "$c"
  # mounts, namespaces, capabilities and rlimits as `samepage spec` writes them
  mkdir "$BATS_TEST_TMPDIR/spec"
  "$SAMEPAGE" spec --bundle "$BATS_TEST_TMPDIR/spec"
  for k in .mounts .linux .process.capabilities .process.rlimits .process.noNewPrivileges; do
    diff <(jq -S "$k" "$BATS_TEST_TMPDIR/spec/config.json") <(jq -S "$k" "$c")
  done
}

@test "bundle: trailing arguments replace Entrypoint and Cmd" {
  B="$BATS_TEST_TMPDIR/b"
  run "$CASFS" --store "$S" bundle app:1 "$B" -- sh -c 'echo hi'
  [ "$status" -eq 0 ]
  jq -e '.process.args == ["sh", "-c", "echo hi"]' "$B/config.json"
  # without "--", and --store after the verb
  run "$CASFS" bundle --store "$S" app:1 "$BATS_TEST_TMPDIR/b2" ls -l /
  [ "$status" -eq 0 ]
  jq -e '.process.args == ["ls", "-l", "/"]' "$BATS_TEST_TMPDIR/b2/config.json"
}

@test "bundle: unknown ref, existing config.json, bare tree" {
  B="$BATS_TEST_TMPDIR/b"
  run "$CASFS" --store "$S" bundle nope:1 "$B"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no ref \`nope:1\` in store"* ]]
  [ ! -e "$B" ]
  "$CASFS" --store "$S" bundle app:1 "$B"
  sum=$(sha256sum < "$B/config.json")
  run "$CASFS" --store "$S" bundle app:1 "$B" -- other
  [ "$status" -eq 1 ]
  [[ "$output" == *"config.json\` exists"* ]]
  [ "$(sha256sum < "$B/config.json")" = "$sum" ]
  # a tree digest has no image record: /bin/sh and a warning
  tree=$(sed -n 1p "$S/refs/app:1")
  run "$CASFS" --store "$S" bundle "$tree" "$BATS_TEST_TMPDIR/bare"
  [ "$status" -eq 0 ]
  [[ "$output" == *"warning"*"bare tree without an image record"* ]]
  jq -e '.process.args == ["/bin/sh"] and .process.user.uid == 0' "$BATS_TEST_TMPDIR/bare/config.json"
  jq -e --arg t "$tree" '.annotations["org.samepage.casfs.tree"] == $t' "$BATS_TEST_TMPDIR/bare/config.json"
}

@test "bundle: crun and runc run it once the tree is extracted into rootfs" {
  n=0
  for rt in crun runc; do
    command -v "$rt" >/dev/null || continue
    # crun 1.8 refuses hybrid cgroup hosts whose cgroup2 mount holds a controller.
    if [ "$rt" = crun ] && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
      echo "# crun left out: it refuses this host's hybrid cgroups" >&3
      continue
    fi
    B="$BATS_TEST_TMPDIR/$rt"
    "$CASFS" --store "$S" bundle app:1 "$B"
    "$CASFS" --store "$S" export app:1 - | tar -C "$B/rootfs" -xf -
    id="casfs-bundle-$rt-$$"
    CONTAINERS="${CONTAINERS:-} $id"
    run timeout 60 "$rt" run --bundle "$B" "$id"
    echo "$rt: $output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "uid=1000(app) gid=1000(app) groups=10(wheel),29(audio)" ]
    [ "${lines[1]}" = "/srv" ]
    [ "${lines[2]}" = "bar baz" ]
    [ "${lines[3]}" = "hello from the image" ]
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || skip "neither crun nor runc is installed"
}
