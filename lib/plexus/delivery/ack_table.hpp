// AckTable: the sender side of `forward(..., {ack: true})`. It keeps every
// acknowledged-delivery message until the target acknowledges it, says which
// ones to retransmit at a given time, and hands back the ones it gives up on
// (too many attempts, too old, target left) so the shell can fire the
// sender's error callback for each: a message is acknowledged or reported,
// never silently lost.
//
// Ids are sequential per target starting at 1, so the receiver (Dedupe) can
// keep a compact watermark. A target key should name one incarnation of the
// receiving node ("node#instance"): a restarted receiver starts with an empty
// Dedupe, so its sequence must restart at 1 too. When an incarnation leaves,
// fail_target() drops its entries and its sequence.
//
// Sans-IO: time is passed in (Time, nanoseconds since any fixed epoch), no
// clock is read, nothing is sent. The shell sends the payload right after
// add(), retransmits what due() returns, and arms one timer at next_deadline().
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/core/time.hpp"

namespace plexus::delivery {

/// Time as nanoseconds since an epoch chosen by the driver (core/time.hpp).
using Time = plexus::Time;
/// An encoded message, opaque to this layer, kept for retransmission.
using Payload = std::vector<std::uint8_t>;

/// Limits and retransmission policy of an AckTable.
struct AckTableOptions {
  /// Entries held at once (awaiting an ack or waiting in expired()).
  std::size_t max_entries = 65536;
  /// Payload bytes held at once.
  std::size_t max_bytes = std::size_t{64} << 20;
  /// Distinct targets with a live id sequence.
  std::size_t max_targets = 4096;
  /// Wait after a transmission before the next one; must be > 0.
  Time retransmit_interval = std::chrono::seconds(1);
  /// Double the wait after every retransmission, up to retransmit_interval_max.
  bool exponential_backoff = false;
  Time retransmit_interval_max = std::chrono::seconds(30);
  /// Transmissions (the first send included) before giving up; 0 = unlimited.
  std::uint32_t max_attempts = 0;
  /// Give up on an entry unacknowledged this long after add(); 0 = unlimited.
  Time max_age{0};
};

/// One retransmission to perform now. The views point into the table and
/// stay valid until the next non-const call.
struct Due {
  std::string_view target;
  std::uint64_t id;
  std::span<const std::uint8_t> payload;
  std::uint32_t attempt;  ///< transmission number, 2 for the first retransmission
};

/// An entry the table dropped without an ack; `reason` is gave_up, too_old or target_left.
struct Failed {
  std::string target;
  std::uint64_t id;
  Payload payload;
  std::error_code reason;
  std::uint32_t attempts;  ///< transmissions made
};

/// Sender-side table of unacknowledged messages, bounded in entries and bytes.
class AckTable {
 public:
  using Options = AckTableOptions;

  explicit AckTable(Options options = {});

  /// Take `payload` for `target` (the caller sends it now, at `now`) and
  /// return its id. Error ack_table_full when an entry, byte or target limit
  /// would be passed: the caller reports that definite error to the sender.
  Result<std::uint64_t> add(std::string target, Payload payload, Time now);

  /// The target acknowledged `id`; false if unknown (already acked or failed).
  /// The id the next add() for `target` will return, so a caller can put it
  /// into the payload it stores (a message carries its own ack id).
  [[nodiscard]] std::uint64_t next_id(std::string_view target) const;
  bool acknowledge(std::string_view target, std::uint64_t id);
  /// Acknowledge a batch; returns how many were pending.
  std::size_t acknowledge(std::string_view target, std::span<const std::uint64_t> ids);
  /// Cumulative ack: the target delivered every id <= watermark; returns how many were pending.
  std::size_t acknowledge_up_to(std::string_view target, std::uint64_t watermark);

  /// Entries to retransmit at `now` (at most `limit`; the rest stay due).
  /// Entries past max_attempts or max_age move to expired() instead.
  std::vector<Due> due(Time now, std::size_t limit = std::numeric_limits<std::size_t>::max());
  /// Entries given up by `now` (gave_up, too_old), removed from the table.
  std::vector<Failed> expired(Time now);
  /// The target left: every pending entry for it (reason target_left), in id
  /// order; its id sequence is forgotten.
  std::vector<Failed> fail_target(std::string_view target);

  /// When due() or expired() next has work; nullopt when the table is empty.
  [[nodiscard]] std::optional<Time> next_deadline() const;
  /// Entries held (pending plus waiting in expired()).
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size() + gave_up_.size(); }
  /// Pending entries for one target.
  [[nodiscard]] std::size_t size_for(std::string_view target) const;
  /// Payload bytes held.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 private:
  struct Entry {
    std::string target;
    std::uint64_t id = 0;
    Payload payload;
    Time first_sent{0};
    Time interval{0};  ///< wait after the latest transmission
    Time event{0};     ///< key in schedule_: next retransmission or age deadline
    std::uint32_t attempts = 1;
  };
  struct TargetState {
    std::uint64_t next_id = 1;
    std::map<std::uint64_t, std::uint64_t> serial_by_id;  ///< pending ids -> entries_ key
  };
  struct GaveUp {
    Time at;
    Failed failed;
  };

  void schedule(std::uint64_t serial, Entry& entry, Time next_send);
  void erase(std::uint64_t serial);
  [[nodiscard]] std::error_code give_up_reason(const Entry& entry, Time now) const;
  void give_up(std::uint64_t serial, std::error_code reason, Time now);

  Options options_;
  std::map<std::uint64_t, Entry> entries_;  ///< by serial (insertion order)
  std::map<std::string, TargetState, std::less<>> targets_;
  std::set<std::pair<Time, std::uint64_t>> schedule_;  ///< (event, serial)
  std::deque<GaveUp> gave_up_;
  std::size_t bytes_ = 0;
  std::uint64_t next_serial_ = 0;
};

}  // namespace plexus::delivery
