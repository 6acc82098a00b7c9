// Conformance, part 5: seeded random transactions checked against an
// in-memory model (std::map). Each seed fills the datastore, then runs one
// transaction of random sets, clears, range clears, gets and range reads
// (forwards, backwards, with limits) on keys of 0x00, 'a' and 0xff bytes,
// comparing every read and `more` with the model, and after commit the whole
// datastore. A failure prints the seed and the command that replays it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "plexus/core/test_seed.hpp"
#include "plexus/store/conformance_support.hpp"

namespace plexus::store {
namespace {

using testing::Fixture;
using Model = std::map<std::string, std::string>;

constexpr int seeds_default = 200;
constexpr int operations_per_seed = 40;
const std::string everything_end(4, '\xff');  // past every key of up to 3 bytes

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : random_(seed) {}
  int pick(int below) { return std::uniform_int_distribution<int>(0, below - 1)(random_); }
  std::string key() {
    static constexpr char alphabet[] = {'\x00', 'a', 'b', '\xff'};
    std::string key(static_cast<std::size_t>(pick(4)), '\0');
    for (auto& byte : key) byte = alphabet[pick(4)];
    return key;
  }
  std::pair<std::string, std::string> range() {
    auto a = key();
    auto b = pick(5) == 0 ? everything_end : key();
    if (b < a) std::swap(a, b);
    return {a, b};
  }

 private:
  std::mt19937_64 random_;
};

std::vector<KeyValue> model_range(const Model& model, const std::string& begin, const std::string& end, bool reverse) {
  std::vector<KeyValue> rows;
  for (auto it = model.lower_bound(begin); it != model.end() && it->first < end; ++it) rows.push_back({it->first, it->second});
  if (reverse) std::reverse(rows.begin(), rows.end());
  return rows;
}

/// One random read or write in `t`, mirrored in `model`; false on a mismatch.
bool step(Generator& gen, Transaction& t, Model& model, int op) {
  switch (gen.pick(6)) {
    case 0: {
      auto key = gen.key();
      auto value = "v" + std::to_string(op);
      model[key] = value;
      return t.set(key, value).ok();
    }
    case 1: {
      auto key = gen.key();
      model.erase(key);
      return t.clear(key).ok();
    }
    case 2: {
      auto [begin, end] = gen.range();
      model.erase(model.lower_bound(begin), model.lower_bound(end));
      return t.clear_range(begin, end).ok();
    }
    case 3: {
      auto key = gen.key();
      auto got = t.get(key);
      auto it = model.find(key);
      CHECK(got.ok());
      return got.ok() && (it == model.end() ? !got->has_value() : (got->has_value() && **got == it->second));
    }
    default: {
      auto [begin, end] = gen.range();
      const bool reverse = gen.pick(2) == 1;
      const std::size_t limit = static_cast<std::size_t>(gen.pick(5));
      auto got = t.get_range(begin, end, {.limit = limit, .reverse = reverse});
      auto want = model_range(model, begin, end, reverse);
      const bool more = limit != 0 && want.size() > limit;
      if (more) want.resize(limit);
      CHECK(got.ok());
      if (!got.ok()) return false;
      CHECK(got->rows == want);
      CHECK(got->more == more);
      return got->rows == want && got->more == more;
    }
  }
}

bool run_seed(Database& db, std::uint64_t seed) {
  Generator gen(seed);
  Model model;
  auto fill = db.run([&](Transaction& t) -> Result<void> {
    model.clear();
    if (auto ok = t.clear_range("", everything_end); !ok) return ok;
    for (int i = 0; i < 12; ++i) {
      auto key = gen.key();
      model[key] = "base" + std::to_string(i);
      if (auto ok = t.set(key, model[key]); !ok) return ok;
    }
    return {};
  });
  REQUIRE(fill.ok());
  auto t = db.begin();
  REQUIRE(t.ok());
  for (int op = 0; op < operations_per_seed; ++op) {
    if (!step(gen, *t, model, op)) return false;
  }
  REQUIRE(t->commit().ok());
  auto check = db.begin(Mode::snapshot);
  REQUIRE(check.ok());
  auto stored = check->get_range("", everything_end);
  REQUIRE(stored.ok());
  CHECK(stored->rows == model_range(model, "", everything_end, false));
  return stored->rows == model_range(model, "", everything_end, false);
}

TEST_CASE("random transactions read and commit exactly what an in-memory model says") {
  CONFORMANCE_FIXTURE(fx);
  auto db = Fixture::fresh();
  REQUIRE(db);
  const std::string backend(testing::target().name);
  const std::string binary = "lib/plexus/store/" + backend + "/store_conformance_" + backend;
  for (const auto seed : test_seed::seeds(seeds_default)) {
    if (!run_seed(*db, seed)) {
      FAIL("seed " << seed << " failed; replay: " << test_seed::replay(seed, binary, "random transactions*"));
    }
  }
}

}  // namespace
}  // namespace plexus::store
