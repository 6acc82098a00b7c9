// The JSON spelling of tuples: the exact text of every element type, round
// trips (also over random tuples), and errors that name the element path.
#include <bit>
#include <limits>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/store/tuple_test_support.hpp"

using namespace plexus::store;
using nlohmann::json;
using plexus::store::test::bytes_of;
using plexus::store::test::replay;
using plexus::store::test::seeds;
using plexus::store::test::TupleGenerator;

namespace {

Tuple from_text(const std::string& text) {
  auto t = tuple_from_json_text(text);
  REQUIRE_MESSAGE(t.ok(), t.error().message());
  return std::move(*t);
}

std::string error_of(const std::string& text) {
  auto t = tuple_from_json_text(text);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == plexus::make_error_code(plexus::errc::invalid_field));
  return t.error().detail;
}

}  // namespace

TEST_CASE("every element type has its documented JSON spelling and reads back") {
  // Proves to_json writes the spelling docs/store.md shows and tuple_from_json inverts it exactly.
  Versionstamp stamp;
  for (std::uint8_t i = 0; i < 10; ++i) stamp.transaction_version[i] = i;
  stamp.user_version = 657;
  const std::pair<Tuple, std::string> cases[] = {
      {{nullptr, true, false}, R"([null,true,false])"},
      {{Bytes{std::string("\x01\0", 2)}}, R"([{"bytes":"0100"}])"},
      {{std::string("a\0\xc3\x94", 4)}, R"(["a\u0000Ô"])"},
      {{-5, std::numeric_limits<std::int64_t>::min()}, R"([-5,-9223372036854775808])"},
      {{BigInt{false, bytes_of("8000000000000000")}}, R"([{"int":"9223372036854775808"}])"},
      {{BigInt{true, bytes_of("010000000000000000")}}, R"([{"int":"-18446744073709551616"}])"},
      {{Float{3.14f}, Float{-0.0f}, Float{std::numeric_limits<float>::infinity()}}, R"([{"float":3.14},{"float":"-0"},{"float":"inf"}])"},
      {{Float{std::numeric_limits<float>::quiet_NaN()}, Float{std::bit_cast<float>(0xffffffffu)}},
       R"([{"float":"nan"},{"bits":"ffffffff","float":"nan"}])"},
      {{3.14, 1.0, -0.0, -std::numeric_limits<double>::infinity()}, R"([3.14,1.0,{"double":"-0"},{"double":"-inf"}])"},
      {{std::bit_cast<double>(0x7ff0000000000001ull)}, R"([{"bits":"7ff0000000000001","double":"nan"}])"},
      {{Uuid{{0xff, 0xff, 0xff, 0xff, 0xba, 0x5e, 0xba, 0x11, 0, 0, 0, 0, 0x5c, 0xa1, 0xab, 0x1e}}},
       R"([{"uuid":"ffffffff-ba5e-ba11-0000-00005ca1ab1e"}])"},
      {{stamp, Versionstamp::incomplete(3)},
       R"([{"user":657,"versionstamp":"00010203040506070809"},{"user":3,"versionstamp":null}])"},
      {{Tuple{nullptr, Tuple{}}, "x"}, R"([[null,[]],"x"])"},
  };
  for (const auto& [tuple, text] : cases) {
    INFO(text);
    CHECK(to_json(tuple).dump() == text);
    CHECK(from_text(text) == tuple);
  }
}

TEST_CASE("the JSON spelling accepts the convenient forms too") {
  // Proves integers above int64 as plain numbers, {"int": number}, uppercase hex, default user version.
  CHECK(from_text("[18446744073709551615]") == Tuple{BigInt{false, bytes_of("ffffffffffffffff")}});
  CHECK(from_text(R"([{"int": 7}, {"int": "-0"}, {"int": "007"}])") == Tuple{7, 0, 7});
  CHECK(from_text(R"([{"bytes": "ABff"}])") == Tuple{Bytes{bytes_of("abff")}});
  CHECK(from_text(R"([{"versionstamp": null}])") == Tuple{Versionstamp::incomplete(0)});
  CHECK(from_text(R"([{"double": 2}, {"float": 1e-3}, 1e3])") == Tuple{2.0, Float{1e-3f}, 1000.0});
  CHECK(from_text(R"([{"float": 3.4028235e38}])") == Tuple{Float{std::numeric_limits<float>::max()}});
  const std::string big(300, '9');
  auto huge = tuple_from_json_text(R"([{"int": ")" + big + R"("}])");
  CHECK(huge.ok());  // 300 digits need 125 bytes, within the 255-byte limit
}

TEST_CASE("random tuples survive JSON both ways") {
  // Proves tuple_from_json(to_json(t)) == t and the text survives a dump and parse, for every generated type.
  for (const auto seed : seeds(40)) {
    INFO("replay: ", replay(seed, "random tuples survive JSON both ways"));
    TupleGenerator gen(seed);
    for (int i = 0; i < 300; ++i) {
      const Tuple t = gen.tuple();
      const auto text = to_json(t).dump();
      INFO(text);
      auto back = tuple_from_json_text(text);
      REQUIRE_MESSAGE(back.ok(), back.error().message());
      REQUIRE(*back == t);
    }
  }
}

TEST_CASE("bad JSON tuples are refused naming the element path") {
  // Proves each kind of bad input is invalid_field with the path and the reason.
  const std::pair<std::string, std::string> cases[] = {
      {R"({"a": 1})", "(root): a tuple is a JSON array"},
      {R"([1, {"bytes": "abc"}])", "[1].bytes: odd number of hex digits (3)"},
      {R"([[1, [{"bytes": "0g"}]]])", "[0][1][0].bytes: not a hex digit at position 1"},
      {R"([{"bytes": 5}])", "[0].bytes: expected a hex string"},
      {R"([{"foo": 1}])", "[0].foo: unknown key (an element object has one of bytes, int, float, double, uuid or versionstamp)"},
      {R"([{"bytes": "00", "int": "1"}])", "[0]: one type per element, not both 'bytes' and 'int'"},
      {R"([{}])", "[0]: an element object needs one of bytes, int, float, double, uuid or versionstamp"},
      {R"([{"uuid": 5}])", "[0].uuid: expected 8-4-4-4-12 hex digits"},
      {R"([{"uuid": "ffffffff-ba5e-ba11-0000-00005ca1ab1"}])", "[0].uuid: expected 8-4-4-4-12 hex digits"},
      {R"([{"float": 1e39}])", "[0].float: out of range for a 32-bit float"},
      {R"([{"float": "big"}])", "[0].float: expected a number, \"nan\", \"inf\", \"-inf\" or \"-0\""},
      {R"([{"float": 1, "bits": "7fffffff"}])", "[0].bits: only a \"nan\" has bits"},
      {R"([{"float": "nan", "bits": "3f800000"}])", "[0].bits: not the bits of a NaN"},
      {R"([{"double": "nan", "bits": "7ff8"}])", "[0].bits: expected 16 hex digits"},
      {R"([{"int": "12a"}])", "[0].int: expected decimal digits with an optional '-' (at most 620)"},
      {R"([{"int": ")" + std::string(620, '9') + R"("}])", "[0].int: out of range: over 255 bytes of magnitude"},
      {R"([{"int": "1", "user": 2}])", "[0].user: only a versionstamp has a user version"},
      {R"([{"versionstamp": "0001"}])", "[0].versionstamp: expected 20 hex digits, or null for an incomplete one"},
      {R"([{"versionstamp": null, "user": 65536}])", "[0].user: expected an integer 0..65535"},
      {R"([123456789012345678901234])", "integer 123456789012345678901234 does not fit 64 bits: spell it {\"int\": \"123456789012345678901234\"}"},
  };
  for (const auto& [text, detail] : cases) {
    INFO(text);
    CHECK(error_of(text) == detail);
  }
  auto not_json = tuple_from_json_text("[1,");
  REQUIRE_FALSE(not_json.ok());
  CHECK(not_json.error().code == plexus::make_error_code(plexus::errc::invalid_json));

  // A parser refuses 1e400 itself; a json built in code can still hold an infinity.
  auto overflow = tuple_from_json_text("[1e400]");
  REQUIRE_FALSE(overflow.ok());
  CHECK(overflow.error().code == plexus::make_error_code(plexus::errc::invalid_json));
  CHECK(overflow.error().detail.find("number overflow") != std::string::npos);
  const auto inf = std::numeric_limits<double>::infinity();
  auto built = tuple_from_json(json::array({1, json::object({{"double", inf}})}));
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().detail == "[1].double: number out of range");
  CHECK(tuple_from_json(json::array({inf})).error().detail == "[0]: number out of range");

  std::string deep(tuple_depth_max + 1, '[');
  deep += std::string(tuple_depth_max + 1, ']');
  CHECK(from_text(deep.substr(1, deep.size() - 2)).size() == 1);
  CHECK(error_of("[" + deep + "]").find("nested deeper than 64 levels") != std::string::npos);
}
