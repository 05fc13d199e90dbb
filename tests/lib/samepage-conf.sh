# Gives a test its own samepage.conf (casfs store and view under WORK) by
# wrapping the runtime: engines do not pass their environment to the runtime.
#   samepage_conf_wrap WORK   sets SAMEPAGE_WRAPPED to the runtime to register
# Only for RUNTIME=.../samepage; other runtimes are used as they are.
samepage_conf_wrap() {
  local work=$1
  SAMEPAGE_WRAPPED=$RUNTIME
  [ "$(basename "$RUNTIME")" = samepage ] || return 0
  mkdir -p "$work/samepage-bin" "$work/casfs-store"
  printf 'store = %s/casfs-store\ncasfs_mountpoint = %s/casfs-view\n' "$work" "$work" >"$work/samepage.conf"
  printf '#!/bin/sh\nSAMEPAGE_CONF=%s/samepage.conf exec "%s" "$@"\n' "$work" "$RUNTIME" >"$work/samepage-bin/samepage"
  chmod +x "$work/samepage-bin/samepage"
  SAMEPAGE_WRAPPED=$work/samepage-bin/samepage
}

# Takes down what a failed test may have left of the casfs stack (normally
# the last container's delete unmounts layer A and stops the view).
samepage_conf_cleanup() {
  local work=$1 mp
  for mp in $(awk -v w="$work" '$5 ~ "^/run/samepage/layers/" && index($0, w) {print $5}' /proc/self/mountinfo); do
    umount -l "$mp" 2>/dev/null || true
  done
  mp=$work/casfs-view
  if mountpoint -q "$mp" 2>/dev/null; then
    "$(dirname "$RUNTIME")/casfs" umount -f "$mp" >/dev/null 2>&1 || umount -l "$mp" 2>/dev/null || true
  fi
  return 0
}
