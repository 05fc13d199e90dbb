# samepage casfs warm: engine layer directories imported ahead of time, once.
load helpers

setup() {
  require_root || return 0
  W=$(mktemp -d /var/tmp/sp-warm.XXXXXX)
  mkdir -p "$W/layer/bin" "$W/layer/etc"
  cp /bin/busybox "$W/layer/bin/"
  echo hello >"$W/layer/etc/greeting"
  SP=$SAMEPAGE_BUILD/samepage
}

teardown() {
  rm -rf "$W"
}

@test "warm imports a layer directory once, then finds it cached" {
  run "$SP" casfs warm --store "$W/store" "$W/layer"
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *"1 layers imported, 0 already in the store, 0 failed"* ]] || fail "$output"
  run "$SP" casfs warm --store "$W/store" "$W/layer"
  [ "$status" -eq 0 ]
  [[ "$output" == *"0 layers imported, 1 already in the store, 0 failed"* ]] || fail "$output"
  # The object of etc/greeting is in the store under its SHA-256.
  h=$(sha256sum "$W/layer/etc/greeting" | cut -c1-64)
  [ -f "$W/store/objects/${h:0:2}/${h:2}" ]
}

@test "warm of a missing directory fails with its name" {
  run "$SP" casfs warm --store "$W/store" "$W/nope"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$W/nope"* ]] || fail "$output"
}

@test "casfs without warm is a usage error" {
  run "$SP" casfs
  [ "$status" -eq 1 ]
  [[ "$output" == *"casfs warm"* ]] || fail "$output"
}
