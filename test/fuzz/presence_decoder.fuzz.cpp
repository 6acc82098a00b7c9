// libFuzzer target for the presence tracker's untrusted input: peer payloads
// decoded by presence::decode, then fed to a State merge and a Shard.
//
// Input: the raw payload bytes (a Cap'n Proto flat message, presence.capnp).
// Beyond "never crash", it traps when a decoded message does not survive
// re-encoding (encode(decode(x)) must decode to the same encoding).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "plexus/presence/codec.hpp"
#include "plexus/presence/shard.hpp"

namespace presence = plexus::presence;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  presence::CodecLimits limits;
  limits.max_items = 100'000;
  auto decoded = presence::decode(bytes, limits);
  if (decoded) {
    const auto once = presence::encode(*decoded);
    auto again = presence::decode(once, limits);
    if (!again || presence::encode(*again) != once) __builtin_trap();
    // A State must take any decoded batch without breaking (errors are fine).
    presence::State state(presence::Replica{"local", decoded->from.shard, 1});
    presence::Diff diff;
    if (const auto* delta = std::get_if<presence::DeltaMsg>(&decoded->body)) (void)state.merge(delta->batch, &diff);
    if (const auto* transfer = std::get_if<presence::TransferMsg>(&decoded->body)) {
      (void)state.merge(transfer->batch, &diff);
    }
  }
  // And a Shard, as the Tracker would feed it.
  presence::Options options;
  const auto now = presence::TimePoint{} + std::chrono::hours(1);
  presence::Shard shard(options, "local", 0, 1, now);
  shard.on_peer_up("a", now);
  shard.on_message("a", bytes, now);
  shard.on_tick(now + std::chrono::seconds(1));
  (void)shard.take();
  return 0;
}
