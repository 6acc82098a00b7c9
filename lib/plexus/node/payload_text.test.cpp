// Payload text forms: strict UTF-8 and base64 round trips.
#include <doctest/doctest.h>

#include "plexus/node/payload_text.hpp"

using namespace plexus::node;

namespace {
std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("valid_utf8 accepts UTF-8 and refuses overlong forms, surrogates and stray bytes") {
  // Proves the sink shows text only when it is real UTF-8.
  CHECK(valid_utf8(bytes("hello")));
  CHECK(valid_utf8(bytes("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80")));
  CHECK_FALSE(valid_utf8(bytes("\xc0\xaf")));          // overlong '/'
  CHECK_FALSE(valid_utf8(bytes("\xed\xa0\x80")));      // surrogate
  CHECK_FALSE(valid_utf8(bytes("\xff")));
  CHECK_FALSE(valid_utf8(bytes("\xe2\x82")));          // truncated
  CHECK_FALSE(valid_utf8(bytes("\xf4\x90\x80\x80")));  // above U+10FFFF
}

TEST_CASE("base64 round-trips every byte and refuses garbage") {
  // Proves binary payloads survive the admin API's JSON.
  std::vector<std::uint8_t> all;
  for (int i = 0; i < 256; ++i) all.push_back(std::uint8_t(i));
  const auto text = to_base64(all);
  auto back = from_base64(text);
  REQUIRE(back.has_value());
  CHECK(*back == all);
  CHECK(to_base64(bytes("hi")) == "aGk=");
  CHECK(from_base64("aGk=\n").value() == bytes("hi"));
  CHECK_FALSE(from_base64("a*b").has_value());
  CHECK(from_base64("").value().empty());
}
