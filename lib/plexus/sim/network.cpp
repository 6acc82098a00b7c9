// The simulated network: one connection per node pair, established by a
// dial when both ends are alive and nothing cuts them, FIFO per direction
// with per-frame delays, losing its in-flight frames when it resets. Order
// and delays belong to one connection: a later connection between the same
// pair starts with an empty pipe, never behind a dead one's frames. Like
// TCP it never reorders, duplicates or corrupts within a connection; frames
// are only lost with the connection, and duplicates appear only when a
// sender retransmits (AckTable) over a later connection.
#include "plexus/sim/world.hpp"

#include <cassert>

namespace plexus::sim {
namespace {
using namespace std::chrono_literals;
}  // namespace

std::uint64_t& World::conn(std::uint16_t a, std::uint16_t b) {
  const auto lo = std::min(a, b), hi = std::max(a, b);
  return conns_[lo * nodes_.size() + hi];
}

Time World::frame_delay() {
  Time delay = swarm_.delay_min + Time(rng_.below(static_cast<std::uint64_t>(swarm_.delay_spread.count()) + 1));
  if (faults_on_ && swarm_.delay_tail_ppm && rng_.chance(swarm_.delay_tail_ppm)) delay *= rng_.between(10, 50);
  return delay;
}

bool World::blocked(std::uint16_t from, std::uint16_t to) const {
  return cut_[from * nodes_.size() + to] || nodes_[from].clogged_until > now_ || nodes_[to].clogged_until > now_;
}

// Frames queue in FIFO order, so the last ready time of a direction is its
// latest frame's; a tail-delayed frame (up to 50x the spread) keeps it late.
bool World::network_settled() const {
  const Time fault_free = now_ + swarm_.delay_min + swarm_.delay_spread;
  for (std::size_t dir = 0; dir < flights_.size(); ++dir) {
    if (!flights_[dir].empty() && last_ready_[dir] > fault_free) return false;
  }
  return true;
}

void World::send(std::uint16_t from, const std::string& to_name, wire::Envelope envelope) {
  const auto to = index_of(to_name);
  if (!to) return;
  const std::uint64_t id = conn(from, *to);
  trace(kind_name(envelope), from, *to, id);
  if (id == 0 || nodes_[from].view[*to] != id) return;  // the link is already gone: the frame with it
  if (faults_on_ && swarm_.reset_ppm && rng_.chance(swarm_.reset_ppm)) {
    trace("reset", from, *to, id);
    reset(from, *to, static_cast<std::uint16_t>(nodes_.size()), false);
    return;
  }
  const std::size_t dir = from * nodes_.size() + *to;
  const Time ready = std::max(now_ + frame_delay(), last_ready_[dir]);
  last_ready_[dir] = ready;
  flights_[dir].push_back(InFlight{ready, id, std::move(envelope)});
  if (!pump_armed_[dir]) {
    pump_armed_[dir] = true;
    schedule(ready, EventKind::pump, from, *to, id);
  }
}

void World::pump(std::uint16_t from, std::uint16_t to, std::uint64_t connection) {
  // Armed for a connection that has ended: its frames went with it (reset).
  if (connection != conn(from, to)) return;
  const std::size_t dir = from * nodes_.size() + to;
  pump_armed_[dir] = false;
  auto& queue = flights_[dir];
  while (!queue.empty() && !failed_) {
    InFlight& head = queue.front();
    assert(head.conn == connection);  // reset() empties the queue of an ended connection
    if (head.ready > now_ || blocked(from, to)) {
      // A cut or clogged link holds its frames (TCP retransmits them) until it clears.
      const Time at = head.ready > now_ ? head.ready : now_ + Time(std::chrono::milliseconds(rng_.between(10, 100)));
      pump_armed_[dir] = true;
      schedule(at, EventKind::pump, from, to, connection);
      return;
    }
    wire::Envelope envelope = std::move(head.envelope);
    const std::uint64_t id = head.conn;
    queue.pop_front();
    SimNode& receiver = nodes_[to];
    if (!receiver.core || receiver.view[from] != id) continue;
    receiver.core->receive(nodes_[from].name, std::move(envelope), now_);
    apply(to);
  }
}

void World::dial(std::uint16_t from, const std::string& to_name) {
  const auto to = index_of(to_name);
  if (!to || conn(from, *to) != 0) return;
  // Connect plus handshake: about two round trips.
  schedule(now_ + frame_delay() * 2 + frame_delay() * 2, EventKind::connect, from, *to);
}

void World::connect(std::uint16_t a, std::uint16_t b) {
  if (conn(a, b) != 0 || !nodes_[a].core || !nodes_[b].core || blocked(a, b) || blocked(b, a)) return;
  const std::uint64_t id = next_conn_++;
  conn(a, b) = id;
  trace("connects", a, b, id);
  // A connection that replaces one an end still believes in: that end learns
  // of the old one's end first (the shell closes the slot's old connection).
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    if (nodes_[x].view[y] != 0) {
      nodes_[x].view[y] = 0;
      nodes_[x].core->link_down(nodes_[y].name);
      nodes_[x].core->evaluate(now_);
      apply(x);
    }
  }
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    if (conn(a, b) != id || !nodes_[x].core || !nodes_[y].core) return;  // closed while attaching
    nodes_[x].view[y] = id;
    attach(x, y);
    apply(x);
  }
}

// The connection between a and b ends. The closer (if any) knows at once;
// the other end learns after a delay (an RST, or a keepalive much later).
void World::reset(std::uint16_t a, std::uint16_t b, std::uint16_t closer, bool) {
  const std::uint64_t id = conn(a, b);
  if (id == 0) return;
  conn(a, b) = 0;
  // In-flight frames are lost with the connection, and so is the FIFO order
  // that held later frames behind a slow one: a frame drawn from the delay
  // tail (up to 7.5 s) must not delay the frames of the next connection.
  for (const std::size_t dir : {a * nodes_.size() + b, b * nodes_.size() + a}) {
    flights_[dir].clear();
    last_ready_[dir] = Time{0};
    pump_armed_[dir] = false;  // a pump still queued for this connection finds it ended
  }
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    if (x == closer) {
      nodes_[x].view[y] = 0;
    } else if (nodes_[x].view[y] == id) {
      schedule(now_ + Time(std::chrono::milliseconds(rng_.between(1, 1500))), EventKind::notify_down, x, y, id);
    }
  }
}

void World::notify_down(std::uint16_t node, std::uint16_t peer, std::uint64_t id) {
  SimNode& n = nodes_[node];
  if (!n.core || n.view[peer] != id) return;
  n.view[peer] = 0;
  trace("link down", node, peer, id);
  n.core->link_down(nodes_[peer].name);
  n.core->evaluate(now_);
  apply(node);
}

}  // namespace plexus::sim
