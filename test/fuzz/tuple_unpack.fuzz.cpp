// libFuzzer target for the tuple layer's untrusted input: unpack() of
// arbitrary bytes. Beyond "never crash or read out of bounds", a decoded tuple
// must survive packing: unpack(pack(t)) == t, and pack(t) is canonical (packing
// what it decodes to gives the same bytes), and its JSON spelling reads back.
// A tuple holding one incomplete versionstamp goes through
// pack_with_versionstamp instead (plain pack refuses it); two or more cannot
// be packed at all, which is checked too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plexus/store/errors.hpp"
#include "plexus/store/tuple.hpp"

namespace store = plexus::store;

namespace {

int incomplete_stamps(const store::Tuple& t) {
  int n = 0;
  for (const auto& e : t) {
    if (const auto* v = std::get_if<store::Versionstamp>(&e.value)) n += v->complete() ? 0 : 1;
    if (const auto* inner = std::get_if<store::Tuple>(&e.value)) n += incomplete_stamps(*inner);
  }
  return n;
}

// Packs t as the codec allows, without the trailing offset of pack_with_versionstamp.
std::string pack_any(const store::Tuple& t, int stamps) {
  if (stamps == 0) {
    auto packed = store::pack(t);
    if (!packed) __builtin_trap();
    return *packed;
  }
  auto packed = store::pack_with_versionstamp(t);
  if (!packed || packed->size() < 4) __builtin_trap();
  return packed->substr(0, packed->size() - 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto decoded = store::unpack(input);
  if (!decoded) {
    if (!store::is(decoded.error(), store::errc::malformed_tuple)) __builtin_trap();
    return 0;
  }
  const int stamps = incomplete_stamps(*decoded);
  if (stamps > 1) {
    auto refused = store::pack_with_versionstamp(*decoded);
    if (refused || !store::is(refused.error(), store::errc::invalid_versionstamp)) __builtin_trap();
    return 0;
  }
  if (stamps == 1 && store::pack(*decoded)) __builtin_trap();
  const std::string once = pack_any(*decoded, stamps);
  auto again = store::unpack(once);
  if (!again || !(*again == *decoded)) __builtin_trap();
  if (pack_any(*again, stamps) != once) __builtin_trap();
  if (store::compare(*again, *decoded) != 0) __builtin_trap();
  // The JSON spelling is exact too.
  auto from_json = store::tuple_from_json(store::to_json(*decoded));
  if (!from_json || !(*from_json == *decoded)) __builtin_trap();
  return 0;
}
