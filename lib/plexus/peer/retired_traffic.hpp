// RetiredTraffic: the traffic counters of links whose member left the peer
// table, kept so that the exported per-link counters (Prometheus counters)
// never go backwards. Bounded: at most `max_links` "peer/channel" entries.
// Once full, the traffic of a newly retired link is added to the entry
// "_retired/<channel>" instead: totals are kept, the per-peer detail is lost,
// and folded() counts each such link. Sans-IO, owned by the peer service.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace plexus::peer {

/// Counters of one (peer, channel) link.
struct Traffic {
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_received = 0;
};

/// The peer name under which links retired while the table is full are summed.
inline constexpr std::string_view retired_peer = "_retired";

class RetiredTraffic {
 public:
  explicit RetiredTraffic(std::size_t max_links) noexcept : max_links_(max_links) {}

  /// Keep `t`, the final counters of `peer`'s link on `channel`.
  void retire(std::string_view peer, std::string_view channel, const Traffic& t) {
    std::string key = link_key(peer, channel);
    auto it = links_.find(key);
    if (it == links_.end()) {
      if (per_peer_ < max_links_) {
        ++per_peer_;
      } else {
        ++folded_;
        key = link_key(retired_peer, channel);
      }
      it = links_.try_emplace(std::move(key)).first;
    }
    Traffic& kept = it->second;
    kept.messages_sent += t.messages_sent;
    kept.bytes_sent += t.bytes_sent;
    kept.messages_received += t.messages_received;
    kept.bytes_received += t.bytes_received;
  }

  /// By "peer/channel", the folded ones under "_retired/channel".
  [[nodiscard]] const std::map<std::string, Traffic, std::less<>>& links() const noexcept { return links_; }
  /// Links kept per peer (at most max_links).
  [[nodiscard]] std::size_t size() const noexcept { return per_peer_; }
  /// Links retired while the table was full, summed into "_retired/<channel>".
  [[nodiscard]] std::uint64_t folded() const noexcept { return folded_; }

  /// "peer/channel", the key of the traffic metrics.
  static std::string link_key(std::string_view peer, std::string_view channel) {
    return std::string(peer) + "/" + std::string(channel);
  }

 private:
  std::map<std::string, Traffic, std::less<>> links_;
  std::size_t max_links_;
  std::size_t per_peer_ = 0;
  std::uint64_t folded_ = 0;
};

}  // namespace plexus::peer
