// Datastore contexts on LMDB (real environment files): create makes the
// environment and drop removes it; a read-only context reads but its writes
// fail permission_denied; contexts stop and start again.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "plexus/context/context.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::context {
namespace {

namespace fs = std::filesystem;

DatastoreOptions lmdb_options(const fs::path& dir) {
  DatastoreOptions o;
  o.name = "local";
  o.backend = BackendKind::lmdb;
  o.location = dir.string();
  ContextOptions owner, rw, ro;
  owner.name = owner.role = "local_owner";
  owner.kind = Kind::owner;
  rw.name = rw.role = "local_rw";
  ro.name = ro.role = "local_ro";
  ro.access = Access::read_only;
  o.contexts = {owner, rw, ro};
  return o;
}

fs::path fresh_dir() {
  std::mt19937_64 random{std::random_device{}()};
  return fs::temp_directory_path() / ("plexus_ctx_lmdb_" + std::to_string(random()));
}

TEST_CASE("lmdb contexts: create and drop the environment; read_only refuses writes; stop and start") {
  // Proves the LMDB life cycle and access modes through contexts.
  const fs::path dir = fresh_dir();
  const DatastoreOptions options = lmdb_options(dir);
  REQUIRE(create_datastore(options).ok());
  CHECK(fs::exists(dir / "data.mdb"));
  {
    auto started = Datastore::start(options);
    REQUIRE(started.ok());
    CHECK(started->outcome == StartOutcome::all_started);
    auto& running = *started->datastore;
    auto rw = *running.context("local_rw");
    auto ro = *running.context("local_ro");
    CHECK(rw->state() == State::ready);
    CHECK(running.state("local_owner") == State::not_started);

    auto writer = open_or_create(*rw, "t");
    REQUIRE(writer.ok());
    REQUIRE(writer->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"k"}, "v"); }).ok());
    auto reader = open(*ro, "t");
    REQUIRE(reader.ok());
    auto snapshot = reader->begin(store::Mode::snapshot);
    REQUIRE(snapshot.ok());
    CHECK(*snapshot->get(store::Tuple{"k"}) == std::optional<std::string>("v"));
    snapshot->cancel();
    auto refused = reader->run([](store::TenantTransaction& t) { return t.set(store::Tuple{"k"}, "x"); });
    REQUIRE_FALSE(refused.ok());
    CHECK(store::is(refused.error(), store::errc::permission_denied));

    REQUIRE(running.stop_context("local_ro").ok());
    auto stopped = reader->begin(store::Mode::snapshot);
    REQUIRE_FALSE(stopped.ok());
    CHECK(store::is(stopped.error(), store::errc::unavailable));
    REQUIRE(running.start_context("local_ro").ok());
    auto again = reader->begin(store::Mode::snapshot);
    REQUIRE(again.ok());
    CHECK(*again->get(store::Tuple{"k"}) == std::optional<std::string>("v"));
    again->cancel();
    CHECK(is(running.context("nope").error(), errc::context_not_found));
    CHECK(is(running.start_context("local_owner").error(), errc::not_login));
  }
  REQUIRE(drop_datastore(options).ok());
  CHECK_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace plexus::context
