// Tests for plexus::errc, its error category, plexus::Error and plexus::Result.
#include "plexus/core/errors.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <ostream>  // doctest prints std::error_code through operator<<.
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace plexus {
namespace {

// Codes that existed when this test was written; each must stay described.
constexpr std::array baseline_codes = {
    errc::ok,
    errc::invalid_json,
    errc::invalid_field,
    errc::io_error,
    errc::frame_too_large,
    errc::frame_truncated,
    errc::malformed_message,
    errc::bad_magic,
    errc::version_mismatch,
    errc::malformed_hello,
    errc::insecure_mismatch,
    errc::no_common_cipher,
    errc::auth_failed,
    errc::handshake_timeout,
    errc::record_tampered,
    errc::record_replayed,
    errc::record_out_of_order,
    errc::record_too_large,
    errc::truncated_stream,
    errc::dead_peer,
    errc::outbox_full,
    errc::connection_closed,
    errc::peer_closed,
    errc::shutting_down,
    errc::bad_key_file,
};

/// Every declared code. describe() switches over errc without a default, so
/// -Wswitch (an error under werror) forces a case for each enumerator; the
/// codes are small ints, so scanning 0..999 finds all of them, including codes
/// added after this test was written.
std::vector<errc> declared_codes() {
  std::vector<errc> codes;
  for (int value = 0; value < 1000; ++value) {
    const auto code = static_cast<errc>(value);
    if (errc_name(code) != "unknown") codes.push_back(code);
  }
  return codes;
}

TEST_CASE("every errc value has its own metric name and a real message") {
  // Proves no code falls through to "unknown" and no two codes share a name or a message.
  const std::vector<errc> codes = declared_codes();
  for (const errc code : baseline_codes) {
    INFO("code ", static_cast<int>(code));
    CHECK(std::find(codes.begin(), codes.end(), code) != codes.end());
  }
  std::set<std::string_view> names;
  std::set<std::string> messages;
  for (const errc code : codes) {
    const std::string_view name = errc_name(code);
    const std::string message = make_error_code(code).message();
    INFO("code ", static_cast<int>(code), " name ", std::string(name));
    CHECK_FALSE(name.empty());
    CHECK(message != "unknown error");
    CHECK_FALSE(message.empty());
    CHECK(names.insert(name).second);
    CHECK(messages.insert(message).second);
  }
}

TEST_CASE("a value outside the enum is reported as unknown, not as a crash") {
  // Proves describe() has a fallback for codes read from the wire or a newer peer.
  const auto stray = static_cast<errc>(9999);
  CHECK(errc_name(stray) == "unknown");
  CHECK(make_error_code(stray).message() == "unknown error");
}

TEST_CASE("make_error and Error::message join the code message and the detail") {
  // Proves the "<code message>: <detail>" format that operators grep for.
  const Error with_detail = make_error(errc::invalid_field, "name: missing");
  CHECK(with_detail.code == make_error_code(errc::invalid_field));
  CHECK(with_detail.detail == "name: missing");
  CHECK(with_detail.message() == "invalid field: name: missing");

  const Error bare = make_error(errc::auth_failed);
  CHECK(bare.detail.empty());
  CHECK(bare.message() == "peer authentication failed (wrong cluster key?)");
}

TEST_CASE("std::error_code compares with errc values directly") {
  // Proves errc is registered as an error code enum in the "plexus" category.
  const std::error_code code = errc::record_replayed;
  CHECK(code == errc::record_replayed);
  CHECK(code != errc::record_tampered);
  CHECK(code.value() == static_cast<int>(errc::record_replayed));
  CHECK(std::string(code.category().name()) == "plexus");
  CHECK(&code.category() == &plexus_category());
  CHECK(code != std::error_code(static_cast<int>(errc::record_replayed), std::generic_category()));
  CHECK_FALSE(std::error_code(errc::ok));
  CHECK(std::error_code(errc::io_error));
}

TEST_CASE("Result carries either a value or an Error") {
  // Proves ok(), value() and error() agree for both Result<T> and Result<void>.
  const Result<int> value = 7;
  REQUIRE(value.ok());
  CHECK(*value == 7);

  const Result<int> failed = make_error(errc::outbox_full, "peer n2");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == errc::outbox_full);

  const Result<void> done;
  CHECK(done.ok());
  const Result<void> refused = make_error(errc::shutting_down);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message() == "shutting down");
}

}  // namespace
}  // namespace plexus
