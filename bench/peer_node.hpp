// bench_peer's node process, `bench_peer node --name N [...]`: one
// PeerService on an io_context thread, driven by line commands on stdin,
// reporting JSON lines on stdout. Every report carries t_ns, CLOCK_MONOTONIC
// nanoseconds, so the parent compares times across processes.
//
// Protocol, one line per message:
//   parent -> node   <command> [arguments]
//   node -> parent   {"event": "<name>", "t_ns": <monotonic ns>, ...}
// At start the node prints {"event":"ready","spec":{...},"pid":...}. Every
// command is answered by one event named after it, or by
// {"event":"error","command":...,"detail":...}; `await` answers "armed" at
// once and "await" (with its id) when its condition holds; `blast` and `ping`
// answer at once and again with "blast_done" / "ping_done" when they end.
//
//   join SPEC_JSON                      join that node
//   await ID converged N                N members, all up on every channel
//   await ID down NAME                  NAME is absent or not up
//   await ID gone NAME                  NAME is no longer a member
//   leave                               leave the cluster gracefully
//   count                               messages/bytes the "sink" server got, CPU times
//   blast NODE CHANNEL BYTES SECONDS MAX   send to NODE's sink as fast as the API allows
//   stop_blast
//   ping NODE CHANNEL BYTES COUNT WARMUP SECONDS   ping-pong through NODE's echo server
//   metrics                             PeerService::metrics() drops and counts
//
// The node exits at once when stdin closes (the parent ended) and, through
// PR_SET_PDEATHSIG, when the parent dies.
#pragma once

namespace plexus::bench {

/// Run a node process; argv[0] is "node". Returns the exit code.
int run_node(int argc, char** argv);

}  // namespace plexus::bench
