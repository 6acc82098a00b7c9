// The parts of bench_peer, each run against its own fleet of node processes
// (peer_fleet.hpp) and returning its figures as JSON; a part that could not
// run carries an "error" member instead of throwing.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plexus::bench {

struct PeerFlags {
  double seconds = 2;    ///< measured window per throughput cell
  double warmup_s = 0.5;
  std::vector<std::string> modes{"encrypted", "insecure"};
  std::vector<std::size_t> sizes{100, 1024, 65536};
  std::size_t round_trips = 20'000;  ///< per cell per round
  /// Round-trip rounds: each runs every cell once, so a drift of the machine
  /// hits the baseline and Plexus alike; figures are medians over rounds.
  std::size_t rtt_rounds = 5;
  std::size_t nodes = 16;        ///< cluster part
  std::size_t large_nodes = 64;  ///< convergence of a larger cluster (0: skip)
  double idle_seconds = 10;
  double settle_seconds = 1;  ///< after convergence, before the idle window
  bool pin = false;           ///< throughput: sender on core 0, receiver on core 1
  std::string node_log_level = "warn";
  /// 64 KiB binaries streamed by the Erlang anchor before the throughput
  /// part (bench/anchors/erlang_stream.sh; skipped without erl, or when 0).
  std::size_t erlang_anchor_messages = 100'000;
  /// Passed to every node: Config changes for experiments (none by default).
  std::vector<std::string> node_args;
};

/// forward_message throughput between two nodes: {"cells": [...]}.
nlohmann::json run_throughput(const PeerFlags& flags);
/// Ping-pong round trips, idle and beside a 64 KiB stream, and a plain TCP baseline.
nlohmann::json run_round_trip(const PeerFlags& flags);
/// Convergence, kill -9 and leave detection (when `cluster`), the idle cost
/// of a converged node (when `idle`), and the larger cluster's convergence.
nlohmann::json run_cluster(const PeerFlags& flags, bool cluster, bool idle);

/// Sleep for `seconds` (a bounded, explicit pause of the parent).
void pause_for(double seconds);

}  // namespace plexus::bench
