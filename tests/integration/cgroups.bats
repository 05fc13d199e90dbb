#!/usr/bin/env bats
# cgroups seen from outside the process that made them: after the live
# kernel tests (tests/unit/test_cgroups_live.c) exit, no cgroup of theirs is
# left in any hierarchy and the cgroup2 root delegates what it did before.

setup() {
  BUILD_DIR=${SAMEPAGE_BUILD:-$BATS_TEST_DIRNAME/../../build}
  LIVE=$BUILD_DIR/tests/test_cgroups_live
}

leftovers() {
  ls -d /sys/fs/cgroup/samepage-test* /sys/fs/cgroup/*/samepage-test* \
        /sys/fs/cgroup/samepage_test* /sys/fs/cgroup/*/samepage_test* 2>/dev/null
}

v2_root() {
  awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

@test "live cgroup tests pass and leave the host as they found it" {
  [ "$(id -u)" -eq 0 ] || skip "needs root to create cgroups"
  [ -w /sys/fs/cgroup ] || skip "/sys/fs/cgroup is not writable"
  [ -x "$LIVE" ] || skip "$LIVE not built (run make)"
  before_left=$(leftovers || true)
  root=$(v2_root)
  before_ctl=""
  [ -n "$root" ] && before_ctl=$(cat "$root/cgroup.subtree_control")

  run env CMOCKA_MESSAGE_OUTPUT=TAP "$LIVE"
  echo "$output"
  [ "$status" -eq 0 ]
  ! grep -v '# SKIP' <<<"$output" | grep -q '^not ok'
  grep -q '^ok 1 - test_lifecycle' <<<"$output"

  after_left=$(leftovers || true)
  [ "$after_left" = "$before_left" ]
  if [ -n "$root" ]; then
    [ "$(cat "$root/cgroup.subtree_control")" = "$before_ctl" ]
  fi
}
