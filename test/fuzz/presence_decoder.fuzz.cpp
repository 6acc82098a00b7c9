// libFuzzer target for the presence tracker's untrusted input: peer payloads
// decoded by presence::decode, then fed to a State merge and a Shard.
//
// Input: byte 0 chooses the mode. Even: the rest is a raw payload (a Cap'n
// Proto flat message, presence.capnp). Odd: the rest describes a valid batch
// message (clocks, removed dots, keys, table indexes drawn from the bytes),
// which is encoded first, so the fuzzer also reaches the merge paths deeply.
// Beyond "never crash", it traps when a decoded message does not survive
// re-encoding (encode(decode(x)) must decode to the same encoding).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "plexus/presence/codec.hpp"
#include "plexus/presence/shard.hpp"

namespace presence = plexus::presence;

namespace {

/// A structurally valid Delta/Transfer built from fuzz bytes.
std::vector<std::uint8_t> structured(std::span<const std::uint8_t> in) {
  std::size_t at = 0;
  auto next = [&]() -> std::uint8_t { return at < in.size() ? in[at++] : 0; };
  presence::Batch b;
  b.replica = presence::Replica{"a", 0, std::uint64_t{1} + next() % 3u};
  b.start = next() % 16;
  b.end = b.start + next() % 32;
  for (int i = next() % 4; i > 0; --i) b.removed.push_back(next() % 20);
  b.topics = {"t0", "t1"};
  b.metas = {std::make_shared<const nlohmann::json>(nlohmann::json{{"v", next()}})};
  presence::Sequence clock = b.start;
  while (at < in.size()) {
    clock += 1 + next() % 3;
    if (clock > b.end) break;
    b.items.push_back(presence::Batch::Item{std::uint64_t{next() % 3u}, clock, std::uint32_t{next() % 2u}, 0, std::string(1, char('a' + next() % 4))});
  }
  return presence::encode_batch(b.replica, 1, b.end + next() % 4, b, (in.empty() ? 0 : in[0]) % 2 == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint8_t> built;
  std::span<const std::uint8_t> bytes(data + 1, size - 1);
  if (data[0] % 2 == 1) {
    built = structured(bytes);
    bytes = built;
  }
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
