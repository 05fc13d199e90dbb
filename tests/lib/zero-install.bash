# Zero-install image sets for tests and benchmarks: N images whose single
# layers hold byte-identical files but differ as layers, so engines keep N
# copies of the same files (built by make-zero-install-images.sh).
#
#   zi_script                 path of make-zero-install-images.sh, or return 1
#   zi_images BASE N [NAME]   build (or reuse, the script keeps up-to-date images) the set
#                             under $ZI_CACHE/NAME-N and print its directory
#   zi_shared_file DIR        "sha256 size path" of the largest regular file that every
#                             image of the set holds with the same content
#   zi_object STORE SHA256    the casfs object file of that content in STORE
#   zi_debian_cached          true when the debian base rootfs is already cached (no mirror needed)
#
# ZI_SCRIPT overrides the script's location; ZI_CACHE (default /var/tmp/samepage-zi)
# where the sets live between runs; ZI_BASE_CACHE the debian base cache.

ZI_CACHE=${ZI_CACHE:-/var/tmp/samepage-zi}
ZI_BASE_CACHE=${ZI_BASE_CACHE:-/var/cache/samepage-workloads}

zi_script() {
  local s
  for s in "${ZI_SCRIPT:-}" "${SAMEPAGE_TOP:-.}/../shared/workloads/make-zero-install-images.sh" \
           /work/shared/workloads/make-zero-install-images.sh; do
    [ -n "$s" ] && [ -f "$s" ] && { echo "$s"; return 0; }
  done
  return 1
}

zi_debian_cached() {
  ls "$ZI_BASE_CACHE"/base-*.info >/dev/null 2>&1 && grep -qx 'packages=python3' "$ZI_BASE_CACHE"/base-*.info
}

zi_images() {
  local base=$1 n=$2 name=${3:-zi-$1} script dir log
  script=$(zi_script) || { echo "zero-install: make-zero-install-images.sh not found (set ZI_SCRIPT)" >&2; return 1; }
  dir=$ZI_CACHE/$name-$n
  mkdir -p "$ZI_CACHE"
  log=$ZI_CACHE/$name-$n.log
  if ! bash "$script" --base "$base" --n "$n" --name "$name" --cache "$ZI_BASE_CACHE" "$dir" >"$log" 2>&1; then
    echo "zero-install: building $dir failed:" >&2
    tail -5 "$log" >&2
    return 1
  fi
  echo "$dir"
}

zi_shared_file() {
  local dir=$1
  # files.tsv: type mode uid gid mtime size sha256 path linkname
  awk -F'\t' '
    FNR == 1 { nimg++ }
    $1 == "f" { seen[$7 " " $6 " " $8]++ }
    END { for (k in seen) if (seen[k] == nimg) print k }' "$dir"/img*/files.tsv \
    | sort -k2,2nr -k3 | head -1
}

zi_object() {
  echo "$1/objects/${2:0:2}/${2:2}"
}
