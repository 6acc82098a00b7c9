#!/usr/bin/env bash
# Plexus: the two commands.
#   ./run.sh cluster [--nodes N]   install what is missing, build (release), run a local cluster
#   ./run.sh test                  install what is missing, build, run the whole test suite
#                                  (beside a throwaway PostgreSQL server: start_postgres)
# PLEXUS_TEST_ONLY="name ..."  runs just those meson tests (building just what they need; no fuzz
#                              suite), e.g. PLEXUS_TEST_ONLY=store_postgres ./run.sh test
# Idempotent: packages already present are not reinstalled, builds are incremental.
set -euo pipefail
cd "$(dirname "$0")"

# What building and running a cluster needs.
PACKAGES=(
  g++ meson ninja-build pkg-config
  capnproto libcapnp-dev libasio-dev libsodium-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev doctest-dev
  liblmdb-dev libpq-dev lmdb-utils
)
# What only the test suite needs: the PostgreSQL server its tests start, clang for the fuzz
# targets, Chromium for the harness report check, nftables for the harness's net faults.
TEST_PACKAGES=(
  postgresql-15
  clang libclang-rt-14-dev
  chromium
  nftables
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# install_missing PACKAGE...
install_missing() {
  local missing=()
  for p in "$@"; do
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
  # Debian creates and starts a default cluster (15/main, port 5432) with the server package;
  # the tests start their own throwaway server, so drop the one this install just made.
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_dropcluster >/dev/null; then
    "${sudo[@]}" pg_dropcluster --stop 15 main >/dev/null 2>&1 || true
  fi
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

# The throwaway PostgreSQL 15 server of one test run: initdb in a fresh mktemp -d directory, run
# by an unprivileged user (postgres when run.sh runs as root), listening on a Unix socket in that
# directory only (no TCP port, so concurrent runs never collide), password authentication.
# The tests find it through PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD;
# PLEXUS_TEST_POSTGRES_RESTART is a command that restarts it (immediate stop, start, wait).
# stop_postgres stops it and removes the directory; cmd_test runs it on exit, failure and Ctrl-C.
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=

start_postgres() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    say "no PostgreSQL 15 server in $PG_BIN: tests that need one will SKIP"
    return 0
  fi
  PG_DIR=$(mktemp -d -t plexus-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    as=(runuser -u postgres --)
    chown postgres: "$PG_DIR"
  fi
  local password
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$PG_DIR/password")
  [ ${#as[@]} -eq 0 ] || chown postgres: "$PG_DIR/password"
  say "starting a throwaway PostgreSQL server in $PG_DIR"
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U plexus_test --pwfile="$PG_DIR/password" \
    --auth=scram-sha-256 --no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; return 1; }
  printf '%s\n' "listen_addresses = ''" "unix_socket_directories = '$PG_DIR'" "fsync = off" \
    "max_connections = 200" >>"$PG_DIR/data/postgresql.conf"
  printf '#!/bin/sh\nexec %s "%s/pg_ctl" -D "%s/data" -l "%s/server.log" -w -t 60 -m immediate restart >/dev/null\n' \
    "${as[*]}" "$PG_BIN" "$PG_DIR" "$PG_DIR" >"$PG_DIR/restart"
  chmod 755 "$PG_DIR/restart"
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null ||
    { cat "$PG_DIR/server.log" >&2; return 1; }
  export PGHOST=$PG_DIR PGPORT=5432 PGUSER=plexus_test PGDATABASE=postgres PGPASSWORD=$password
  export PLEXUS_TEST_POSTGRES_RESTART=$PG_DIR/restart
  unset PGSERVICE PGHOSTADDR PLEXUS_TEST_POSTGRES
}

stop_postgres() {
  [ -n "$PG_DIR" ] || return 0
  local as=()
  [ "$(id -u)" -ne 0 ] || as=(runuser -u postgres --)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}

cmd_test() {
  install_missing "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  # The harness's net-mode test needs a working nft (root); without it that test skips, visibly.
  if [ "$(id -u)" -eq 0 ] && command -v nft >/dev/null && nft list tables >/dev/null 2>&1; then
    say "nftables works: the harness's net faults are tested"
  else
    say "nftables unusable here (needs root and nft): the harness's net-fault test will be skipped"
  fi
  local only=()
  [ -z "${PLEXUS_TEST_ONLY:-}" ] || read -ra only <<<"$PLEXUS_TEST_ONLY"
  if [ ${#only[@]} -eq 0 ]; then
    build build/test --buildtype=debugoptimized
  elif [ ! -f build/test/build.ninja ]; then
    say "configuring build/test"
    meson setup build/test --buildtype=debugoptimized >/dev/null
  fi
  say "running the test suite${only[*]:+: ${only[*]}}"
  local status=0 logs=(build/test/meson-logs/testlog.json)
  trap stop_postgres EXIT
  trap 'stop_postgres; exit 130' INT TERM HUP
  start_postgres
  meson test -C build/test --print-errorlogs --num-processes 2 "${only[@]}" || status=$?
  stop_postgres
  if [ -z "${PLEXUS_SKIP_FUZZ:-}" ] && [ ${#only[@]} -eq 0 ]; then
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
  install_missing "${PACKAGES[@]}"
  if [ ! -f build/release/build.ninja ]; then
    say "configuring build/release"
    meson setup build/release --buildtype=release -Dtests=false >/dev/null
  fi
  # Only what the cluster runs; the benchmarks build with: meson compile -C build/release
  say "building plexusd, plexus and plexus-cluster"
  meson compile -C build/release node/plexusd tools/plexus tools/plexus-cluster
  exec build/release/tools/plexus-cluster "$@"
}

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  cluster) shift; cmd_cluster "$@" ;;
  *) echo "usage: ./run.sh cluster [--nodes N] | ./run.sh test" >&2; exit 2 ;;
esac
