// What a bench node process (bench_peer node, bench_presence node) reports
// to its parent: one JSON event per line on stdout, which is a pipe.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "peer_protocol.hpp"
#include "plexus/core/node_spec.hpp"
#include "plexus/peer/peer_service.hpp"

namespace plexus::bench {

/// One report line, flushed; safe from any thread (handlers run on workers).
inline void emit(nlohmann::json event) {
  static std::mutex output_mutex;
  if (!event.contains("t_ns")) event["t_ns"] = monotonic_ns();
  std::string line = event.dump();
  line.push_back('\n');
  std::lock_guard lock(output_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

inline void emit_error(const std::string& command, const std::string& detail) {
  emit({{"event", "error"}, {"command", command}, {"detail", detail}});
}

/// The `join SPEC-JSON` command: join `service` to that node; reports join or error.
inline void join_from_text(peer::PeerService& service, const std::string& text) {
  auto spec = parse_node_spec(text);
  if (!spec) return emit_error("join", spec.error().message());
  if (auto joined = service.join(*spec); !joined) return emit_error("join", joined.error().message());
  emit({{"event", "join"}, {"node", spec->name}});
}

}  // namespace plexus::bench
