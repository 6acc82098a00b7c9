// bench_store section "tuple": pack and unpack of the 4-element key
// (Bytes prefix, "users", i, "email") on one core. No baseline: the figure
// is absolute (pack + unpack pairs per CPU second of the thread), with ns per pack and per
// unpack measured on their own.
#include <string>

#include "plexus/store/tuple.hpp"
#include "store_measure.hpp"
#include "store_sections.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;
using store::Tuple;

Tuple four_element_key() { return Tuple{store::Bytes{std::string("\x01", 1)}, "users", std::int64_t{0}, "email"}; }

/// The tuple's integer, changed in place so each operation packs a different key.
void set_index(Tuple& tuple, std::size_t i) { std::get<std::int64_t>(tuple[2].value) = static_cast<std::int64_t>(i); }

Result<Sample> pack_unpack_pairs(std::size_t ops) {
  Tuple tuple = four_element_key();
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t i = 0; i < ops; ++i) {
    set_index(tuple, i * 7919);
    auto packed = store::pack(tuple);
    if (!packed.ok()) return packed.error();
    auto unpacked = store::unpack(*packed);
    if (!unpacked.ok()) return unpacked.error();
    total += packed->size() + unpacked->size();
  }
  const auto done = sample(ops, watch);
  keep(total);
  return done;
}

Result<Sample> packs(std::size_t ops) {
  Tuple tuple = four_element_key();
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t i = 0; i < ops; ++i) {
    set_index(tuple, i * 7919);
    auto packed = store::pack(tuple);
    if (!packed.ok()) return packed.error();
    total += packed->size();
  }
  const auto done = sample(ops, watch);
  keep(total);
  return done;
}

/// pack_append into one reused buffer: packing without allocating.
Result<Sample> packs_into_buffer(std::size_t ops) {
  Tuple tuple = four_element_key();
  std::string buffer;
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t i = 0; i < ops; ++i) {
    set_index(tuple, i * 7919);
    buffer.clear();
    if (auto packed = store::pack_append(buffer, tuple); !packed.ok()) return packed.error();
    total += buffer.size();
  }
  const auto done = sample(ops, watch);
  keep(total);
  return done;
}

/// Unpacks a ring of 1,024 distinct packed keys (prepared before the clock starts).
Result<Sample> unpacks(std::size_t ops) {
  constexpr std::size_t ring = 1'024;
  std::vector<std::string> packed_keys;
  Tuple tuple = four_element_key();
  for (std::size_t i = 0; i < ring; ++i) {
    set_index(tuple, i * 7919);
    auto packed = store::pack(tuple);
    if (!packed.ok()) return packed.error();
    packed_keys.push_back(std::move(*packed));
  }
  std::size_t total = 0;
  const Stopwatch watch;
  for (std::size_t i = 0; i < ops; ++i) {
    auto unpacked = store::unpack(packed_keys[i % ring]);
    if (!unpacked.ok()) return unpacked.error();
    total += unpacked->size();
  }
  const auto done = sample(ops, watch);
  keep(total);
  return done;
}

json ns_per(const json& rate) { return rate.is_number() ? json(round_to(1e9 / rate.get<double>(), 1)) : json(nullptr); }

}  // namespace

json run_tuple(const StoreFlags& flags) {
  const std::size_t ops = flags.tuple_ops;
  std::vector<Variant> variants{
      {"pack_unpack", [&] { return pack_unpack_pairs(ops); }},
      {"pack", [&] { return packs(ops); }},
      {"pack_append", [&] { return packs_into_buffer(ops); }},
      {"unpack", [&] { return unpacks(ops); }},
  };
  auto rounds = run_rounds(variants, flags.rounds);
  if (!rounds.ok()) return {{"error", rounds.error().message()}};
  const json pairs = rounds->median_rate("pack_unpack", Per::cpu_second);
  return {{"key", "(Bytes 01, \"users\", i, \"email\"): 18..25 bytes packed"},
          {"ops_per_round", ops},
          {"rates", rounds->to_json()},
          {"ns_per_pack", ns_per(rounds->median_rate("pack", Per::cpu_second))},
          {"ns_per_pack_append", ns_per(rounds->median_rate("pack_append", Per::cpu_second))},
          {"ns_per_unpack", ns_per(rounds->median_rate("unpack", Per::cpu_second))},
          {"ns_per_pack_unpack", ns_per(pairs)},
          {"figures", {{"tuple_pack_unpack_M_per_s", pairs.is_number() ? json(round_to(pairs.get<double>() / 1e6, 2)) : json(nullptr)}}}};
}

}  // namespace plexus::bench
