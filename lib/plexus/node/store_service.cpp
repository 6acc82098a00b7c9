// The datastores of a node as a Service: their options, opening them at
// start (before the peer service: a datastore that cannot open stops the
// start before any other node sees this one), the key-space and key routes
// of the admin API, and their metrics.
#include <spdlog/spdlog.h>

#include "plexus/node/admin_server.hpp"
#include "plexus/node/metrics_text.hpp"
#include "plexus/node/node.hpp"
#include "plexus/node/runtime.hpp"
#include "plexus/node/services.hpp"
#include "plexus/store/datastore.hpp"

namespace plexus::node {
namespace {

using K = OptionKind;
using O = NodeOptions;

const OptionTable& store_options() {
  static const OptionTable table{"store", "The datastores (docs/store.md)", {
      option("--datastore", &O::datastore, K::list,
             "NAME=lmdb:PATH or NAME=postgres:CONNINFO (repeatable; default main=lmdb:DATA_DIR/store/main)")
          .details("a datastore: `NAME=lmdb:PATH` or `NAME=postgres:CONNINFO`, repeatable (an array of strings in the file). Names are a lowercase letter then up to 47 of `[a-z0-9_]` (on PostgreSQL, datastore `NAME` is the table `plexus_NAME`); `main` is the one the CLI and admin API use by default, added on LMDB in the data directory unless one is named `main` (without `--data-dir` and without a `main`, the node has no default datastore). A conninfo holding `password=` is refused: give the password with `passfile=PATH` in the conninfo, `PGPASSFILE` or `PGPASSWORD` (docs/store.md, \"PostgreSQL backend\")"),
      integer_option("--datastore-pool-size", &O::datastore_pool_size, 1, 256, "connections per PostgreSQL datastore")
          .details("connections of each PostgreSQL datastore"),
      integer_option("--lmdb-map-size-mb", &O::lmdb_map_size_mb, 1, 64 * 1024 * 1024,
                     "initial sparse map size of each LMDB datastore (grown when full)", "MiB")
          .details("initial map size of each LMDB datastore, MiB (sparse: disk is used as data grows; the map grows when full)"),
  }};
  return table;
}

// Per datastore: transactions by outcome, conflicts, retries, bytes, commit latency.
void render_store(MetricsText& e, const store::Datastores& stores) {
  const auto all = stores.all();
  const auto per_store = [&](const char* name, const char* type, const char* help, auto value_of) {
    e.family(name, type, help);
    for (const auto& d : all) e.sample(name, {{"datastore", d->spec.name}}, value_of(d->database->stats()));
  };
  e.family("plexus_store_transactions_total", "counter", "Transactions by outcome: committed, conflict, failed.");
  for (const auto& d : all) {
    const auto& s = d->database->stats();
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "committed"}},
             s.transactions_committed.load());
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "conflict"}}, s.conflicts.load());
    e.sample("plexus_store_transactions_total", {{"datastore", d->spec.name}, {"outcome", "failed"}},
             s.transactions_failed.load());
  }
  per_store("plexus_store_transactions_started_total", "counter", "Transactions begun.",
            [](const store::Stats& s) { return s.transactions_started.load(); });
  per_store("plexus_store_retries_total", "counter", "Transactions re-run by run() after a conflict.",
            [](const store::Stats& s) { return s.retries.load(); });
  per_store("plexus_store_read_bytes_total", "counter", "Key and value bytes read.",
            [](const store::Stats& s) { return s.bytes_read.load(); });
  per_store("plexus_store_written_bytes_total", "counter", "Key and value bytes written by committed transactions.",
            [](const store::Stats& s) { return s.bytes_written.load(); });
  const char* h = "plexus_store_commit_latency_microseconds";
  e.family(h, "histogram", "Commit latency of read-write transactions, microseconds.");
  for (const auto& d : all) {
    const auto& s = d->database->stats();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.commit_latency_buckets.size(); ++i) {
      cumulative += s.commit_latency_buckets[i].load();
      const auto le = i < s.commit_latency_bounds_us.size() ? std::to_string(s.commit_latency_bounds_us[i]) : "+Inf";
      e.sample(std::string(h) + "_bucket", {{"datastore", d->spec.name}, {"le", le}}, cumulative);
    }
    e.sample(std::string(h) + "_sum", {{"datastore", d->spec.name}}, s.commit_latency_us_sum.load());
    e.sample(std::string(h) + "_count", {{"datastore", d->spec.name}}, s.commit_latency_count.load());
  }
}

class Store final : public StoreService {
 public:
  explicit Store(const Settings& settings) : specs_(settings.datastores), options_(settings.datastore_options) {}

  std::string_view name() const override { return "store"; }

  Result<void> start(Runtime&) override {
    auto opened = store::Datastores::open(specs_, options_);
    if (!opened) return opened.error();
    datastores_ = std::move(*opened);
    return {};
  }

  // Logged once the whole node started (a failed start prints one line only).
  void started(Runtime&) override {
    for (const auto& d : datastores_->all()) spdlog::info("datastore {}: {}", d->spec.name, store::describe(d->spec));
  }

  void add_routes(AdminServer& admin) override {
    admin.provide(datastores_);
    add_store_routes(admin);
  }

  void write_metrics(MetricsText& out) override {
    if (datastores_) render_store(out, *datastores_);
  }

  const std::shared_ptr<store::Datastores>& datastores() const override { return datastores_; }

 private:
  std::vector<store::DatastoreSpec> specs_;
  store::DatastoreOptions options_;
  std::shared_ptr<store::Datastores> datastores_;
};

}  // namespace

const ServiceKind& store_service_kind() {
  static const ServiceKind kind{&store_options,
                                [](const Settings& settings) -> std::unique_ptr<Service> {
                                  return std::make_unique<Store>(settings);
                                }};
  return kind;
}

}  // namespace plexus::node
