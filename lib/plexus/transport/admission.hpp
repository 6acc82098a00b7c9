// Admission of incoming handshakes, sans-IO: which accepted connections may
// hold one of the listener's pending-handshake slots, which one gives its
// slot up when the table is full, and which ones ran out of time to say
// anything. Fed with events and the time; the Listener does the closing.
//
// Why eviction rather than refusal: an unauthenticated connection costs an
// attacker one TCP connect, so any fixed table can be filled by idle sockets
// (a slowloris), and refusing newcomers then shuts out the very peer that
// would have finished in one round trip. Like SYN cookies, which keep no state
// for a half-open connection until it proves something, a pending handshake
// that has proven nothing is cheap to drop: when the table is full the
// newcomer takes the slot of the weakest pending one. "Weakest" is, in order:
// sent no bytes yet, sent part of a hello, sent a hello naming an unknown
// node, sent a hello naming a member; within a class a stranger's address
// before a member's, then the oldest (it had the longest time to finish). A keyed peer's hello arrives with its connect,
// so it leaves the idle classes within one read and its slot is taken only
// by a flood of complete hellos arriving faster than one round trip. Beside
// it (HAProxy's per-source limits, WireGuard keeping work for peers that can
// prove a cookie): addresses of known members get a reserved share of the
// table, addresses not known are held to a per-source maximum, and a
// connection that sends nothing within `first_bytes_timeout` is closed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plexus/core/errors.hpp"

namespace plexus::transport {

struct AdmissionLimits {
  /// Handshakes pending at once on one listener.
  std::size_t capacity = 256;
  /// Of `capacity`, slots only connections from addresses of known members
  /// may take (strangers share the rest).
  std::size_t reserved_for_members = 64;
  /// Pending handshakes from one address that is not a known member's.
  std::size_t per_source_max = 32;
  /// A connection that sent no byte within this is closed.
  std::chrono::milliseconds first_bytes_timeout{1000};
};

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;

  /// What an entry has shown so far; the order is the eviction order.
  enum class Stage : std::uint8_t { connected, sent_bytes, hello_stranger, hello_member };

  /// A pending handshake to close, and the reason counted for it
  /// (evicted_table_full, evicted_source_limit, first_bytes_timeout).
  struct Close {
    Id id = 0;
    errc reason = errc::ok;
  };

  explicit Admission(AdmissionLimits limits);

  /// A connection was accepted from `source` (an IP address as text);
  /// `member_source`: the address is one of a known member. The connection
  /// is always admitted; what to close to make room is returned.
  std::vector<Close> on_accept(Id id, const std::string& source, bool member_source, Clock::time_point now);
  /// Its first bytes arrived.
  void on_bytes(Id id);
  /// Its hello arrived and names a member (`member_name`) or not.
  void on_hello(Id id, bool member_name);
  /// Its handshake ended (done, failed or closed): the slot is free.
  void on_done(Id id);
  /// Entries past their first-bytes deadline.
  std::vector<Close> expire(Clock::time_point now);

  [[nodiscard]] std::size_t pending() const noexcept { return entries_.size(); }
  [[nodiscard]] std::optional<Stage> stage(Id id) const;
  [[nodiscard]] const AdmissionLimits& limits() const noexcept { return limits_; }

 private:
  struct Entry {
    std::string source;
    bool member_source = false;
    Stage stage = Stage::connected;
    Clock::time_point accepted;
  };
  // The weakest entry among those `eligible` accepts, if any.
  template <class Eligible>
  std::optional<Id> weakest(Eligible eligible) const;
  void erase(Id id);

  AdmissionLimits limits_;
  std::map<Id, Entry> entries_;  // ids increase: map order is age order
  std::map<std::string, std::size_t, std::less<>> per_source_;
  std::size_t strangers_ = 0;  // entries from addresses that are not a member's
};

}  // namespace plexus::transport
