// Unit tests of the presence State CRDT: local changes, deltas, full states,
// gaps, add-wins, stale transfers, replica down/up/drop, with exact diffs.
#include <doctest/doctest.h>

#include "plexus/core/errors.hpp"
#include "plexus/presence/test_support.hpp"

using namespace plexus::presence;
using namespace plexus::presence::testing;
using json = nlohmann::json;

namespace {
Replica rep(const std::string& node, std::uint64_t instance) { return Replica{node, 0, instance}; }
const json online = {{"status", "online"}};
const json away = {{"status", "away"}};
}  // namespace

TEST_CASE("track, list, get_by_key, update and untrack locally, with exact diffs") {
  // Proves the local API: refs advance, errors are precise, and each change reports its diff.
  State a(rep("a", 11));
  Diff diff;
  auto r1 = a.track(1, "room", "alice", online, &diff);
  REQUIRE(r1.ok());
  CHECK(r1->instance == 11);
  CHECK(r1->clock == 1);
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", true, "alice", online.dump(), 1}});
  CHECK(a.track(1, "room", "alice", away, nullptr).error().code == errc::already_tracked);
  REQUIRE(a.track(2, "room", "alice", away, nullptr).ok());  // another owner, same key
  CHECK(a.get_by_key("room", "alice").size() == 2);
  CHECK(a.list("room").size() == 2);

  diff.clear();
  auto r3 = a.update(1, "room", "alice", away, &diff);
  REQUIRE(r3.ok());
  CHECK(r3->clock == 3);
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "alice", online.dump(), 1},
                                           {"room", true, "alice", away.dump(), 3}});
  auto r4 = a.update(1, "room", "alice", [](const json& m) { json n = m; n["x"] = 1; return n; }, nullptr);
  REQUIRE(r4.ok());
  CHECK((*a.get_local(1, "room", "alice")->meta)["x"] == 1);
  CHECK(a.update(9, "room", "alice", away, nullptr).error().code == errc::not_tracked);
  CHECK(a.untrack(9, "room", "alice", nullptr).error().code == errc::not_tracked);

  diff.clear();
  CHECK(a.untrack(2, "room", "alice", &diff).ok());
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "alice", away.dump(), 2}});
  CHECK(a.clock() == 5);
  CHECK(keys(a.list("room")) == std::vector<std::string>{"alice"});
  CHECK(a.list("nowhere").empty());
}

TEST_CASE("untrack(owner) removes everything the owner tracked and nothing else") {
  // Proves owner-wide untrack (a closed Owner) reports one leave per presence.
  State a(rep("a", 1));
  REQUIRE(a.track(1, "t1", "k", online, nullptr).ok());
  REQUIRE(a.track(1, "t2", "k", online, nullptr).ok());
  REQUIRE(a.track(2, "t1", "j", online, nullptr).ok());
  Diff diff;
  CHECK(a.untrack(1, &diff) == 2);
  CHECK(rows(diff) == std::vector<DiffRow>{{"t1", false, "k", online.dump(), 1},
                                           {"t2", false, "k", online.dump(), 2}});
  CHECK(keys(a.list("t1")) == std::vector<std::string>{"j"});
  CHECK(a.list("t2").empty());
  CHECK(a.untrack(1, nullptr) == 0);
}

TEST_CASE("deltas replicate adds and removes; merging twice changes nothing") {
  // Proves delta merge and its idempotence, with the receiver's diffs exact.
  State a(rep("a", 1));
  State b(rep("b", 2));
  REQUIRE(a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(a.track(1, "room", "y", online, nullptr).ok());
  auto d1 = a.delta_since(0, 100);
  REQUIRE(d1);
  Diff diff;
  REQUIRE(merge_all(b, *d1, &diff));
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", true, "x", online.dump(), 1},
                                           {"room", true, "y", online.dump(), 2}});
  diff.clear();
  REQUIRE(merge_all(b, *d1, &diff));
  CHECK(diff.empty());
  CHECK(view(b, 1) == view(a, 1));

  REQUIRE(a.untrack(1, "room", "x", nullptr).ok());
  auto d2 = a.delta_since(2, 100);
  REQUIRE(d2);
  CHECK(d2->front().removed == std::vector<Sequence>{1});
  REQUIRE(merge_all(b, *d2, &diff));
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "x", online.dump(), 1}});
  CHECK(keys(b.list("room")) == std::vector<std::string>{"y"});
  CHECK(b.known_clock(1) == 3);
  CHECK(view(b, 1) == view(a, 1));
}

TEST_CASE("a delta with a gap is refused and changes nothing") {
  // Proves the gap rule: a delta starting past our knowledge is never merged.
  State a(rep("a", 1));
  State b(rep("b", 2));
  REQUIRE(a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(merge_all(b, *a.delta_since(0, 100)));
  REQUIRE(a.track(1, "room", "y", online, nullptr).ok());  // clock 2: b never sees this delta
  REQUIRE(a.untrack(1, "room", "x", nullptr).ok());        // clock 3
  auto late = a.delta_since(2, 100);
  REQUIRE(late);
  Diff diff;
  auto merged = b.merge(late->front(), &diff);
  REQUIRE_FALSE(merged.ok());
  CHECK(merged.error().code == errc::delta_gap);
  CHECK(diff.empty());
  CHECK(b.known_clock(1) == 1);
  CHECK(keys(b.list("room")) == std::vector<std::string>{"x"});
  // The full state repairs it.
  REQUIRE(merge_all(b, a.extract(100), &diff));
  CHECK(keys(b.list("room")) == std::vector<std::string>{"y"});
  CHECK(view(b, 1) == view(a, 1));
}

TEST_CASE("a stale full state never moves knowledge backwards (phoenix_pubsub #148)") {
  // Proves a transfer older than what we know neither deletes newer presences nor revives removed ones.
  State a(rep("a", 1));
  State b(rep("b", 2));
  State c(rep("c", 3));
  REQUIRE(a.track(1, "room", "old", online, nullptr).ok());
  REQUIRE(merge_all(b, a.extract(100)));  // b holds a's state at clock 1
  REQUIRE(a.untrack(1, "room", "old", nullptr).ok());
  REQUIRE(a.track(1, "room", "new", online, nullptr).ok());
  REQUIRE(merge_all(c, *a.delta_since(0, 100)));  // c is current: clock 3
  const auto before = view(c, 1);

  // Stale transfers of a's replica: from a itself, and relayed by b.
  Diff diff;
  REQUIRE(merge_all(c, b.extract(1, 100), &diff));
  CHECK(diff.empty());
  CHECK(view(c, 1) == before);
  CHECK(c.known_clock(1) == 3);
  CHECK(keys(c.list("room")) == std::vector<std::string>{"new"});
  // And the other way round, b catches up from c's relay.
  REQUIRE(merge_all(b, c.extract(1, 100), &diff));
  CHECK(view(b, 1) == view(a, 1));
}

TEST_CASE("concurrent remove and re-add: the add wins") {
  // Proves add-wins: an observed remove cannot delete an add it did not observe.
  State a(rep("a", 1));
  State b(rep("b", 2));
  State c(rep("c", 3));
  REQUIRE(a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(merge_all(b, a.extract(100)));
  REQUIRE(merge_all(c, a.extract(100)));
  REQUIRE(a.untrack(1, "room", "x", nullptr).ok());
  REQUIRE(merge_all(c, *a.delta_since(1, 100)));  // c saw the remove (clock 2)
  REQUIRE(a.track(1, "room", "x", away, nullptr).ok());
  REQUIRE(merge_all(b, a.extract(100)));  // b saw the re-add (clock 3)
  CHECK(c.list("room").empty());
  // Exchange in both orders: both end with the re-added x.
  REQUIRE(merge_all(c, b.extract(1, 100)));
  REQUIRE(merge_all(b, c.extract(1, 100)));
  for (State* s : {&b, &c}) {
    auto list = s->list("room");
    REQUIRE(list.size() == 1);
    CHECK(*list[0].meta == away);
    CHECK(list[0].ref == Ref{1, 3});
  }
}

TEST_CASE("removes propagate through a third node") {
  // Proves a remove reaches c through b's copy of a's replica, without a and c talking.
  State a(rep("a", 1));
  State b(rep("b", 2));
  State c(rep("c", 3));
  REQUIRE(a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(a.track(1, "room", "y", online, nullptr).ok());
  REQUIRE(merge_all(b, a.extract(100)));
  REQUIRE(merge_all(c, b.extract(1, 100)));
  REQUIRE(a.untrack(1, "room", "x", nullptr).ok());
  REQUIRE(merge_all(b, *a.delta_since(2, 100)));
  Diff diff;
  REQUIRE(merge_all(c, b.extract(1, 100), &diff));
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "x", online.dump(), 1}});
  CHECK(view(c, 1) == view(a, 1));
}

TEST_CASE("down hides, up restores, drop deletes and is never merged back") {
  // Proves replica liveness on the state: leaves and joins reported, dropped data refused.
  State a(rep("a", 1));
  State b(rep("b", 2));
  REQUIRE(a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(merge_all(b, a.extract(100)));
  Diff diff;
  b.set_up(1, false, &diff);
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "x", online.dump(), 1}});
  CHECK(b.list("room").empty());
  CHECK(b.get_by_key("room", "x").empty());
  diff.clear();
  b.set_up(1, false, &diff);
  CHECK(diff.empty());
  b.set_up(1, true, &diff);
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", true, "x", online.dump(), 1}});
  diff.clear();
  b.drop_replica(1, &diff);
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "x", online.dump(), 1}});
  CHECK(b.is_dropped(1));
  CHECK(b.merge(a.extract(100).front(), nullptr).error().code == errc::unknown_replica);
  CHECK(b.size() == 0);
}

TEST_CASE("a new instance of the same node and shard removes the old instance's presences") {
  // Proves restart handling: the old life's presences leave when the new life is seen.
  State old_a(rep("a", 1));
  State new_a(rep("a", 7));
  State b(rep("b", 2));
  REQUIRE(old_a.track(1, "room", "x", online, nullptr).ok());
  REQUIRE(merge_all(b, old_a.extract(100)));
  REQUIRE(new_a.track(1, "room", "y", online, nullptr).ok());
  Diff diff;
  REQUIRE(merge_all(b, new_a.extract(100), &diff));
  CHECK(rows(diff) == std::vector<DiffRow>{{"room", false, "x", online.dump(), 1},
                                           {"room", true, "y", online.dump(), 1}});
  CHECK(b.is_dropped(1));
  CHECK(keys(b.list("room")) == std::vector<std::string>{"y"});
}

TEST_CASE("catch-up deltas: split in order, and unavailable past the removal log") {
  // Proves delta_since splits into gap-free consecutive batches and falls back when the log is short.
  State a(rep("a", 1), /*removal_log_max=*/2);
  State b(rep("b", 2));
  for (int i = 0; i < 10; ++i) REQUIRE(a.track(1, "t", "k" + std::to_string(i), online, nullptr).ok());
  auto parts = a.delta_since(0, 3);
  REQUIRE(parts);
  CHECK(parts->size() == 4);
  for (std::size_t i = 1; i < parts->size(); ++i) CHECK((*parts)[i].start == (*parts)[i - 1].end);
  CHECK(parts->back().end == 10);
  REQUIRE(merge_all(b, *parts));
  CHECK(view(b, 1) == view(a, 1));
  for (int i = 0; i < 3; ++i) REQUIRE(a.untrack(1, "t", "k" + std::to_string(i), nullptr).ok());
  CHECK_FALSE(a.delta_since(10, 100));  // the first removal fell out of the log
  REQUIRE(a.delta_since(11, 100));
  auto full = a.extract(4);
  REQUIRE(merge_all(b, full));
  CHECK(view(b, 1) == view(a, 1));
}

TEST_CASE("option validation names the option, as Phoenix's validate_* do") {
  // Proves down >= 2 x broadcast and permdown > down, with the offending option named.
  Options o;
  CHECK(validate(o).ok());
  o.down_period = Millis(150);
  auto bad = validate(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == errc::invalid_option);
  CHECK(bad.error().detail.rfind("down_period", 0) == 0);
  o = Options{};
  o.permdown_period = o.down_period;
  CHECK(validate(o).error().detail.rfind("permdown_period", 0) == 0);
  o = Options{};
  o.max_delta_sizes = {10, 5};
  CHECK(validate(o).error().detail.rfind("max_delta_sizes", 0) == 0);
  o = Options{};
  o.pool_size = 0;
  CHECK(validate(o).error().detail.rfind("pool_size", 0) == 0);
}

TEST_CASE("topic routing is a stable hash") {
  // Proves name_for_topic does not depend on std::hash: fixed values, same on every build.
  CHECK(topic_hash("") == 14695981039346656037ull);
  CHECK(topic_hash("a") == 0xaf63dc4c8601ec8cull);
  CHECK(shard_for_topic("anything", 1) == 0);
  CHECK(name_for_number("p", 3) == "presence.p.3");
  CHECK(name_for_topic("p", "a", 8) == "presence.p." + std::to_string(0xaf63dc4c8601ec8cull % 8));
}

TEST_CASE("keys longer than the inline size, and many presences through one table") {
  // Proves Key's heap path and the open-addressing tables under growth, erase and reuse.
  const std::string long_key(100, 'k');
  Key a(long_key);
  Key b = a;
  Key c = std::move(a);
  CHECK(b == long_key);
  CHECK(c.view() == long_key);
  CHECK(a.empty());
  b = Key("short");
  CHECK(b == "short");

  State s(rep("a", 1));
  State r(rep("b", 2));
  for (int i = 0; i < 5000; ++i) REQUIRE(s.track(1, "t", long_key + std::to_string(i), online, nullptr).ok());
  for (int i = 0; i < 5000; i += 2) REQUIRE(s.untrack(1, "t", long_key + std::to_string(i), nullptr).ok());
  for (int i = 0; i < 5000; i += 4) REQUIRE(s.track(1, "t", long_key + std::to_string(i), away, nullptr).ok());
  CHECK(s.topic_size("t") == 2500 + 1250);
  CHECK(s.get_local(1, "t", long_key + "3").has_value());
  CHECK_FALSE(s.get_local(1, "t", long_key + "2").has_value());
  REQUIRE(merge_all(r, s.extract(1000)));
  CHECK(view(r, 1) == view(s, 1));
  CHECK(keys(r.list("t")) == keys(s.list("t")));
}
