#!/bin/sh
# The Erlang anchor of bench_peer (see erlang_stream.escript): two Erlang
# nodes on 127.0.0.1, one streaming COUNT binaries of SIZE bytes to the
# other; prints one JSON object. Needs erl/escript/epmd (Debian: erlang-base);
# CI does not. Its own epmd listens on 127.0.0.1 only, on a port of its own;
# every process it starts is stopped at the end, and each is bounded in time.
#
#   bench/anchors/erlang_stream.sh [SIZE=65536] [COUNT=100000]
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
size=${1:-65536}
count=${2:-100000}
port=$((43690 + $$ % 1000))
export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$port
cookie=plexus_anchor_$$
epmd_pid= receiver_pid= sender_pid=
stop() {
  [ -n "$sender_pid" ] && kill "$sender_pid" 2>/dev/null || true
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
  [ -n "$epmd_pid" ] && kill "$epmd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM
timeout 300 epmd -port "$port" -address 127.0.0.1 &
epmd_pid=$!
tries=0
until epmd -port "$port" -names >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -gt 50 ] && { echo "epmd did not start on 127.0.0.1:$port" >&2; exit 1; }
  sleep 0.1
done
timeout 200 escript "$dir/erlang_stream.escript" receiver "b$$@127.0.0.1" "$cookie" </dev/null >/dev/null &
receiver_pid=$!
timeout 180 escript "$dir/erlang_stream.escript" sender "a$$@127.0.0.1" "$cookie" "b$$@127.0.0.1" "$size" "$count" </dev/null &
sender_pid=$!
wait "$sender_pid"
