// Codec tests: every message kind round-trips; hostile bytes give precise errors.
#include <doctest/doctest.h>

#include "plexus/core/errors.hpp"
#include "plexus/presence/codec.hpp"

using namespace plexus::presence;
using json = nlohmann::json;

namespace {
Batch sample_batch() {
  Batch b;
  b.replica = Replica{"a", 0, 9};
  b.start = 3;
  b.end = 10;
  b.removed = {1, 2};
  b.topics = {"room"};
  b.metas = {std::make_shared<const json>(json{{"status", "online"}})};
  b.items = {Batch::Item{5, 4, 0, 0, "alice"}, Batch::Item{5, 9, 0, 0, "bob"}};
  return b;
}
}  // namespace

TEST_CASE("every message kind round-trips") {
  // Proves encode/decode are inverse for each kind.
  const Replica from{"a", 2, 77};
  for (int kind = 0; kind < 5; ++kind) {
    Message m{from, 4, 12, Heartbeat{}};
    if (kind == 1) m.body = DeltaMsg{sample_batch()};
    if (kind == 2) m.body = TransferRequest{88, 5};
    if (kind == 3) m.body = TransferMsg{sample_batch()};
    if (kind == 4) m.body = Permdown{};
    auto decoded = decode(encode(m));
    REQUIRE_MESSAGE(decoded.ok(), decoded.error().message());
    CHECK(decoded->from == from);
    CHECK(decoded->pool_size == 4);
    CHECK(decoded->clock == 12);
    CHECK(decoded->body.index() == m.body.index());
    if (kind == 2) CHECK(std::get<TransferRequest>(decoded->body).known == 5);
    if (kind == 1 || kind == 3) {
      const Batch& b = kind == 1 ? std::get<DeltaMsg>(decoded->body).batch : std::get<TransferMsg>(decoded->body).batch;
      CHECK(b.start == 3);
      CHECK(b.end == 10);
      CHECK(b.removed == std::vector<Sequence>{1, 2});
      REQUIRE(b.items.size() == 2);
      CHECK(b.items[1].key == "bob");
      CHECK(b.items[1].clock == 9);
      CHECK(*b.metas[0] == json{{"status", "online"}});
      CHECK(b.replica == from);
    }
  }
}

TEST_CASE("hostile input is refused with the reason") {
  // Proves the decoder checks sizes, table indexes, clock order and JSON.
  CHECK(decode(std::vector<std::uint8_t>{}).error().code == plexus::errc::malformed_message);
  CHECK(decode(std::vector<std::uint8_t>(7, 0)).error().detail.find("words") != std::string::npos);
  auto mutate = [](auto&& change) {
    Batch b = sample_batch();
    change(b);
    return decode(encode(Message{Replica{"a", 0, 9}, 1, 10, DeltaMsg{b}}));
  };
  CHECK(mutate([](Batch& b) { b.items[1].topic = 3; }).error().detail.find("table") != std::string::npos);
  CHECK(mutate([](Batch& b) { b.items[1].clock = 2; }).error().detail.find("increase") != std::string::npos);
  CHECK(mutate([](Batch& b) { b.items[1].clock = 11; }).error().detail.find("increase") != std::string::npos);
  CHECK(mutate([](Batch& b) { b.end = 1; }).error().detail.find("end before start") != std::string::npos);
  CHECK(decode(encode(Message{Replica{"", 0, 9}, 1, 10, Heartbeat{}})).error().detail.find("node name") !=
        std::string::npos);
  std::string deep(100, '[');
  deep += std::string(100, ']');
  CHECK(mutate([&](Batch& b) { b.metas[0] = std::make_shared<const json>(json::parse(deep)); })
            .error().detail.find("deep") != std::string::npos);
  CodecLimits tight;
  tight.max_items = 1;
  CHECK(decode(encode(Message{Replica{"a", 0, 9}, 1, 10, DeltaMsg{sample_batch()}}), tight)
            .error().detail.find("too many items") != std::string::npos);
  // Truncations of a valid message never crash and never succeed silently as another message.
  const auto good = encode(Message{Replica{"a", 0, 9}, 1, 10, DeltaMsg{sample_batch()}});
  for (std::size_t cut = 8; cut < good.size(); cut += 8) {
    auto r = decode(std::span(good.data(), cut));
    CHECK_FALSE(r.ok());
  }
}
