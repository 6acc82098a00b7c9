// bench_presence's node process, `bench_presence node --name N [...]`: one
// PeerService and one presence::Tracker on an io_context thread, driven by
// line commands on stdin, reporting JSON lines on stdout stamped with t_ns
// (CLOCK_MONOTONIC), as bench_peer's nodes do (peer_node.hpp), so the parent
// reuses bench_peer's Fleet.
//
//   join SPEC_JSON
//   await ID converged N                 N members up on every channel
//   await ID digest COUNT SUM            the presences this node lists are exactly
//                                        that set (presence_protocol.hpp)
//   track TOPIC TOPICS PREFIX FROM COUNT keys PREFIX/FROM.. in TOPICS topics, one
//                                        caller, bursts of 1024 between other work;
//                                        answers "track" with first_ns and last_ns
//   untrack TOPIC TOPICS PREFIX FROM COUNT
//   list TOPIC REPEAT                    time Tracker::list: median and min ns
//   partition NODE | heal                inject / resolve partitions with NODE
//   metrics                              TrackerMetrics
#pragma once

namespace plexus::bench {

/// Run a node process; argv[0] is "node". Returns the exit code.
int run_presence_node(int argc, char** argv);

}  // namespace plexus::bench
