// A node's datastores driven by name (Contexts) on real LMDB environments:
// the config file's errors name the datastore and field, start/stop/drop by
// name, contexts registered while they run, the status JSON and /metrics text,
// and a datastore declared at run time.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "plexus/context/contexts.hpp"
#include "plexus/core/errors.hpp"

namespace plexus::context {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json datastore_json(const std::string& name, const fs::path& dir, const std::string& shared_context) {
  return json{{"name", name},
              {"backend", "lmdb:" + dir.string()},
              {"contexts", json::array({json{{"name", name + "_owner"}, {"kind", "owner"}},
                                        json{{"name", name + "_rw"}, {"kind", "login"}},
                                        json{{"name", shared_context}, {"kind", "login"}, {"access", "read_only"}}})}};
}

TEST_CASE("contexts config: errors name the datastore and the field; duplicates refused") {
  // Proves parse_datastore_config prefixes each datastore's field errors with its index.
  json config{{"datastores", json::array({datastore_json("a", "/tmp/a", "a_ro"), datastore_json("b", "/tmp/b", "b_ro")})}};
  REQUIRE(parse_datastore_config(config.dump()).ok());
  json bad = config;
  bad["datastores"][1]["contexts"][1]["kind"] = "superuser";
  auto refused = parse_datastore_config(bad.dump());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().detail == "datastores[1].contexts[1].kind: must be owner, login or nonlogin");
  bad = config;
  bad["datastores"][1]["name"] = "a";
  CHECK(parse_datastore_config(bad.dump()).error().detail.starts_with("datastores[1].name: duplicate datastore a"));
  CHECK(parse_datastore_config(R"({"stores": []})").error().detail.starts_with("stores: unknown field"));
  CHECK(parse_datastore_config("[").error().code == make_error_code(plexus::errc::invalid_json));
  CHECK(load_datastore_config("/nonexistent/ds.json").error().code == make_error_code(plexus::errc::io_error));
}

TEST_CASE("contexts: start, register, report, stop and drop datastores by name") {
  // Proves the node-facing manager over two real LMDB datastores, including a registry name clash.
  std::mt19937_64 random{std::random_device{}()};
  const fs::path root = fs::temp_directory_path() / ("plexus_contexts_" + std::to_string(random()));
  json config{{"datastores", json::array({datastore_json("a", root / "a", "reports"),
                                          datastore_json("b", root / "b", "reports")})}};
  auto parsed = parse_datastore_config(config.dump());
  REQUIRE(parsed.ok());
  auto registrar = std::make_shared<LocalRegistrar>("node1");
  {
    Contexts contexts(*parsed, registrar);
    REQUIRE(contexts.create("a").ok());
    REQUIRE(contexts.create("b").ok());
    CHECK(is(contexts.create("c").error(), errc::context_not_found));
    const json started = contexts.start_all();
    CHECK(started["a"]["outcome"] == "all_started");
    CHECK(started["b"]["outcome"] == "all_started");

    auto where = contexts.whereis("a_rw");
    REQUIRE(where.ok());
    CHECK(where->node == "node1");
    CHECK(where->datastore == "a");
    // "reports" exists in both datastores: the second registration is refused and shown.
    CHECK(contexts.whereis("reports")->datastore == "a");
    const json status = contexts.status_json();
    CHECK(status[1]["contexts"][2].value("registration_error", "").find("already registered") != std::string::npos);
    CHECK(status[0]["contexts"][1]["state"] == "ready");
    CHECK(status[0]["contexts"][0]["state"] == "not_started");
    CHECK(status[0]["backend"] == "lmdb:" + (root / "a").string());

    const std::string metrics = contexts.metrics_text();
    CHECK(metrics.find("plexus_context_state{datastore=\"a\",context=\"a_rw\",state=\"ready\"} 1") != std::string::npos);
    CHECK(metrics.find("plexus_context_state{datastore=\"a\",context=\"a_rw\",state=\"not_ready\"} 0") != std::string::npos);
    CHECK(metrics.find("# TYPE plexus_context_probes_total counter") != std::string::npos);

    REQUIRE(contexts.stop_context("a", "a_rw").ok());
    CHECK(is(contexts.whereis("a_rw").error(), errc::context_not_found));
    CHECK((*contexts.contexts_json("a"))[1]["state"] == "not_started");
    REQUIRE(contexts.start_context("a", "a_rw").ok());
    CHECK(contexts.whereis("a_rw").ok());

    CHECK(is(contexts.drop("a").error(), errc::already_started));
    REQUIRE(contexts.stop("a").ok());
    CHECK(is(contexts.whereis("reports").error(), errc::context_not_found));
    REQUIRE(contexts.drop("a").ok());
    CHECK_FALSE(fs::exists(root / "a"));
  }
  REQUIRE(drop_datastore((*parsed)[1]).ok());
  fs::remove_all(root);
}

TEST_CASE("contexts: a datastore declared at run time is checked, created, started, and forgotten when dropped") {
  // Proves Contexts::declare on a real LMDB environment: a taken name refused, create and start work, drop forgets it.
  std::mt19937_64 random{std::random_device{}()};
  const fs::path root = fs::temp_directory_path() / ("plexus_contexts_rt_" + std::to_string(random()));
  Contexts contexts({}, std::make_shared<LocalRegistrar>("n"));
  auto options = parse_datastore_options(datastore_json("rt", root / "rt", "rt_ro"));
  REQUIRE(options.ok());
  DatastoreOptions bad = *options;
  bad.contexts[1].pool_size = 0;
  auto refused = contexts.declare(bad, true);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().detail.starts_with("contexts[1].pool_size: "));
  CHECK(contexts.status_json().empty());
  REQUIRE(contexts.declare(*options, true).ok());
  CHECK(fs::exists(root / "rt" / "data.mdb"));
  auto taken = contexts.declare(*options, false);
  REQUIRE_FALSE(taken.ok());
  CHECK(is(taken.error(), errc::already_declared));
  CHECK(taken.error().detail.starts_with("name: "));
  auto started = contexts.start("rt");
  REQUIRE(started.ok());
  CHECK((*started)["outcome"] == "all_started");
  CHECK(contexts.whereis("rt_rw")->datastore == "rt");
  CHECK(is(contexts.drop("rt").error(), errc::already_started));
  REQUIRE(contexts.stop("rt").ok());
  REQUIRE(contexts.drop("rt").ok());
  CHECK(contexts.status_json().empty());
  CHECK_FALSE(fs::exists(root / "rt" / "data.mdb"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace plexus::context
