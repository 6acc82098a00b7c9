// Datastore options: a full document parses to what it says, and each kind of
// bad input is refused with the offending field named.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "plexus/context/options.hpp"
#include "plexus/core/errors.hpp"

namespace plexus::context {
namespace {

using nlohmann::json;

json good() {
  return json::parse(R"({
    "name": "app", "backend": "postgres:host=127.0.0.1 port=5432 dbname=postgres",
    "admin_credential": {"env": "PGPASSWORD"},
    "supervision": {"probe_interval_ms": 50, "park_failures_max": 5},
    "contexts": [
      {"name": "app_owner", "kind": "owner", "role": "app_owner", "description": "owns everything"},
      {"name": "app_api", "kind": "login", "role": "app_api", "credential": {"file": "/run/api.pw"},
       "pool_size": 6, "start": true, "access": "read_write", "registry": "global"},
      {"name": "app_ui", "kind": "login", "credential": {"env": "UI_PW"}, "start": false, "access": "read_only"},
      {"name": "app_reports", "kind": "nonlogin", "access": "read_only"}]})");
}

/// The detail of the refusal of `document`, which must be refused as invalid_field.
std::string refusal(const json& document) {
  auto parsed = parse_datastore_options(document);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == make_error_code(plexus::errc::invalid_field));
  return parsed.error().detail;
}

TEST_CASE("options: a full document parses field by field") {
  // Proves every field of the JSON lands in the options, with defaults where absent.
  auto parsed = parse_datastore_options(good());
  REQUIRE(parsed.ok());
  const DatastoreOptions& o = *parsed;
  CHECK(o.name == "app");
  CHECK(o.backend == BackendKind::postgres);
  CHECK(o.location == "host=127.0.0.1 port=5432 dbname=postgres");
  CHECK(o.admin_credential.from == CredentialSource::From::env);
  CHECK(o.supervision.probe_interval == std::chrono::milliseconds{50});
  CHECK(o.supervision.park_failures_max == 5);
  CHECK(o.supervision.backoff_max == SupervisionOptions{}.backoff_max);
  REQUIRE(o.contexts.size() == 4);
  CHECK(o.owner().name == "app_owner");
  CHECK(o.contexts[1].credential.from == CredentialSource::From::file);
  CHECK(o.contexts[1].credential.where == "/run/api.pw");
  CHECK(o.contexts[1].pool_size == 6);
  CHECK(o.contexts[1].registry == Scope::global);
  CHECK(o.contexts[2].registry == Scope::local);
  CHECK(o.contexts[2].role == "app_ui");  // role defaults to the context name
  CHECK_FALSE(o.contexts[2].start);
  CHECK(o.contexts[2].access == Access::read_only);
  CHECK(o.contexts[3].kind == Kind::nonlogin);
  CHECK(o.find("app_ui") == &o.contexts[2]);
  CHECK(o.find("nope") == nullptr);
}

TEST_CASE("options: each bad field is refused by name") {
  // Proves the refusal names the exact field for every kind of mistake.
  struct Case {
    std::function<void(json&)> spoil;
    std::string field;
  };
  const std::vector<Case> cases{
      {[](json& j) { j.erase("name"); }, "name: required"},
      {[](json& j) { j["name"] = "App-1"; }, "name: must match"},
      {[](json& j) { j["backend"] = "mysql:x"; }, "backend: must be"},
      {[](json& j) { j["backend"] = "postgres:host=x password=secret"; }, "backend: a postgres conninfo must not hold a password"},
      {[](json& j) { j["colour"] = 1; }, "colour: unknown field"},
      {[](json& j) { j["contexts"][1]["kind"] = "admin"; }, "contexts[1].kind: must be owner, login or nonlogin"},
      {[](json& j) { j["contexts"][1]["pool_size"] = 0; }, "contexts[1].pool_size: must be 1..256"},
      {[](json& j) { j["contexts"][1]["pool_size"] = -3; }, "contexts[1].pool_size: must be an integer"},
      {[](json& j) { j["contexts"][1]["access"] = "write"; }, "contexts[1].access: must be read_write or read_only"},
      {[](json& j) { j["contexts"][1]["start"] = "yes"; }, "contexts[1].start: must be true or false"},
      {[](json& j) { j["contexts"][1]["registry"] = "cluster"; }, "contexts[1].registry: must be none, local or global"},
      {[](json& j) { j["contexts"][1].erase("credential"); }, "contexts[1].credential: required for a postgres login"},
      {[](json& j) { j["contexts"][1]["credential"] = {{"file", "a"}, {"env", "B"}}; }, "contexts[1].credential: must have exactly one"},
      {[](json& j) { j["contexts"][1]["credential"] = {{"vault", "a"}}; }, "contexts[1].credential.vault: unknown field"},
      {[](json& j) { j["contexts"][0]["credential"] = {{"env", "X"}}; }, "contexts[0].credential: an owner context cannot log in"},
      {[](json& j) { j["contexts"][2]["name"] = "app_api"; }, "contexts[2].name: duplicate context name"},
      {[](json& j) { j["contexts"][2]["role"] = "app_api"; }, "contexts[2].role: duplicate role"},
      {[](json& j) { j["contexts"][1]["kind"] = "owner"; j["contexts"][1].erase("credential"); },
       "contexts: must hold exactly one owner context (has 2)"},
      {[](json& j) { j["contexts"].erase(0); }, "contexts: must hold exactly one owner context (has 0)"},
      {[](json& j) { j["contexts"] = json::object(); }, "contexts: must be an array"},
      {[](json& j) { j["supervision"]["probe_interval_ms"] = 0; }, "supervision.probe_interval_ms: must be 1..3600000"},
      {[](json& j) { j["supervision"]["backoff_initial_ms"] = 9000; }, "supervision.backoff_initial_ms: over backoff_max_ms"},
      {[](json& j) { j["supervision"]["park_failures_max"] = 0; }, "supervision.park_failures_max: must be 1..100000"},
  };
  for (const auto& c : cases) {
    json document = good();
    c.spoil(document);
    const std::string detail = refusal(document);
    INFO("expected: ", c.field, "\ngot: ", detail);
    CHECK(detail.starts_with(c.field));
  }
}

TEST_CASE("options: lmdb takes no credential, and text that is not JSON is refused") {
  // Proves backend-specific checks and the text entry point.
  json document = good();
  document["backend"] = "lmdb:/tmp/x";
  CHECK(refusal(document).starts_with("contexts[1].credential: lmdb has no roles"));
  auto parsed = parse_datastore_options(std::string_view("{not json"));
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == make_error_code(plexus::errc::invalid_json));
}

TEST_CASE("options: a credential is read from its source and never echoed") {
  // Proves read_credential reads env and file sources and names only the source on failure.
  ::setenv("PLEXUS_CONTEXT_TEST_PW", "s3cret-env", 1);
  auto from_env = read_credential({CredentialSource::From::env, "PLEXUS_CONTEXT_TEST_PW"}, "contexts[1].credential");
  REQUIRE(from_env.ok());
  CHECK(*from_env == "s3cret-env");
  auto missing = read_credential({CredentialSource::From::env, "PLEXUS_CONTEXT_TEST_UNSET"}, "contexts[1].credential");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().detail.starts_with("contexts[1].credential.env: variable PLEXUS_CONTEXT_TEST_UNSET is not set"));
  auto no_file = read_credential({CredentialSource::From::file, "/nonexistent/pw"}, "admin_credential");
  REQUIRE_FALSE(no_file.ok());
  CHECK(no_file.error().detail.starts_with("admin_credential.file: cannot read /nonexistent/pw"));
}

}  // namespace
}  // namespace plexus::context
