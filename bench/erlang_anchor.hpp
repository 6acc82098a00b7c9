// The Erlang anchor of bench_peer: runs bench/anchors/erlang_stream.sh (two
// Erlang nodes on 127.0.0.1 streaming binaries from one process to another)
// when erl, escript and epmd are on PATH, so that Plexus's figures are set
// against Erlang distribution measured in the same run, on the same machine.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace plexus::bench {

/// Where erlang_stream.sh is: $PLEXUS_ERLANG_ANCHOR, else the source tree's bench/anchors.
std::string erlang_anchor_script();

/// Stream `messages` binaries of `payload_bytes` through Erlang distribution:
/// the script's JSON ({"GB_per_s", "msgs_per_s", "seconds", ...}), or
/// {"absent": why} when erl is not installed, or {"error": why}.
nlohmann::json run_erlang_anchor(const std::string& script, std::size_t payload_bytes, std::size_t messages);

}  // namespace plexus::bench
