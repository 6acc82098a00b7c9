#!/usr/bin/env bash
# Plexus: the two commands.
#   ./run.sh cluster [--nodes N]   install what is missing, build (release), run a local cluster
#   ./run.sh test                  install what is missing, build, run the whole test suite
# Idempotent: packages already present are not reinstalled, builds are incremental.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  g++ meson ninja-build pkg-config
  capnproto libcapnp-dev libasio-dev libsodium-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev doctest-dev
  liblmdb-dev libpq-dev postgresql-15
  clang libclang-rt-14-dev
  chromium
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [meson setup options...]
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir"
    meson setup "$dir" "$@" >/dev/null
  fi
  say "building $dir"
  meson compile -C "$dir"
}

# "N passed, N failed" over every meson test log given (meson is Python, so python3 is there).
summarize() {
  python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"): passed += 1
        elif result == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
}

cmd_test() {
  install_missing
  build build/test --buildtype=debugoptimized
  say "running the test suite"
  local status=0 logs=(build/test/meson-logs/testlog.json)
  meson test -C build/test --print-errorlogs --num-processes 2 || status=$?
  if [ -z "${PLEXUS_SKIP_FUZZ:-}" ]; then
    # clang + sanitizers, fuzz targets only; `meson test` builds just what they need.
    if [ ! -f build/fuzz/build.ninja ]; then
      say "configuring build/fuzz"
      CXX=clang++ meson setup build/fuzz -Dfuzz=enabled -Dtests=false -Dbenchmarks=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz_seconds=15 >/dev/null
    fi
    say "running the bounded fuzz suite"
    meson test -C build/fuzz --suite fuzz --print-errorlogs --num-processes 2 || status=$?
    logs+=(build/fuzz/meson-logs/testlog.json)
  fi
  summarize "${logs[@]}"
  return $status
}

cmd_cluster() {
  install_missing
  build build/release --buildtype=release -Dtests=false
  exec build/release/tools/plexus-cluster "$@"
}

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  cluster) shift; cmd_cluster "$@" ;;
  *) echo "usage: ./run.sh cluster [--nodes N] | ./run.sh test" >&2; exit 2 ;;
esac
