// A node's datastores and their contexts, as the node runtime, the admin API
// and the CLI see them: loaded from a datastore config file, started
// together, driven by name (create, drop, start, stop a datastore; start,
// stop, whereis a context), reported as JSON without any credential, and
// rendered as Prometheus metrics per context. A started context's name is
// registered in its `registry` scope through a Registrar, which the node
// backs with the global registry's replica::Host; LocalRegistrar is a
// registry core with no peers (both scopes then stay on this node).
//
// Config file: {"datastores": [<datastore options>, ...]} (options.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/context/context.hpp"
#include "plexus/context/registry.hpp"

namespace plexus::context {

/// Most datastores one config declares.
inline constexpr std::size_t datastores_max = 64;

/// Parses {"datastores": [...]}: invalid_field naming the datastore's index
/// and field ("datastores[1].contexts[0].kind: ..."), or invalid_json.
Result<std::vector<DatastoreOptions>> parse_datastore_config(std::string_view text);
/// Reads and parses a config file (io_error naming the path when unreadable).
Result<std::vector<DatastoreOptions>> load_datastore_config(const std::filesystem::path& path);

/// Where started contexts are registered. Thread-safe implementations only.
class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual Result<void> add(const std::string& name, const std::string& datastore, const std::string& context,
                           Scope scope) = 0;
  virtual Result<void> remove(const std::string& name, Scope scope) = 0;
  [[nodiscard]] virtual Result<Registration> whereis(const std::string& name) const = 0;
};

/// A Registry core without peers, behind a mutex.
class LocalRegistrar final : public Registrar {
 public:
  explicit LocalRegistrar(std::string node);
  Result<void> add(const std::string& name, const std::string& datastore, const std::string& context,
                   Scope scope) override;
  Result<void> remove(const std::string& name, Scope scope) override;
  [[nodiscard]] Result<Registration> whereis(const std::string& name) const override;

 private:
  mutable std::mutex mutex_;
  Registry registry_;
};

class Contexts {
 public:
  Contexts(std::vector<DatastoreOptions> datastores, std::shared_ptr<Registrar> registrar);
  ~Contexts();

  /// Starts every datastore (Datastore::start) and registers its running
  /// contexts. Returns, per datastore, its outcome as start() gives it, or
  /// {"error": message, "code": "none_started" (the code's name)}.
  nlohmann::json start_all();
  /// Datastore calls by name; context_not_found names the datastores there are.
  Result<void> create(std::string_view datastore);
  /// Drops a stopped datastore; one declared at run time (declare()) is forgotten too.
  Result<void> drop(std::string_view datastore);
  /// Declares a datastore at run time (not in the config file; forgotten when
  /// the node stops): its options are checked (validate(): invalid_field naming
  /// the field), its name must be new here (already_declared), datastores_max
  /// at most. `create` then provisions it (create_datastore), and the
  /// declaration is withdrawn if that fails.
  Result<void> declare(DatastoreOptions options, bool create);
  Result<nlohmann::json> start(std::string_view datastore);
  Result<void> stop(std::string_view datastore);
  Result<void> start_context(std::string_view datastore, std::string_view context);
  Result<void> stop_context(std::string_view datastore, std::string_view context);
  [[nodiscard]] Result<Registration> whereis(const std::string& name) const;
  /// A context of a running datastore, to work through (context::open): not_started
  /// when the datastore is stopped, context_not_found when it has no such context.
  [[nodiscard]] Result<std::shared_ptr<Context>> context(std::string_view datastore, std::string_view context) const;

  /// Every datastore: name, backend (host/port/dbname or path only), running,
  /// and each context's kind, access, pool_size, registry, state and reason.
  [[nodiscard]] nlohmann::json status_json() const;
  /// One datastore's contexts as in status_json().
  [[nodiscard]] Result<nlohmann::json> contexts_json(std::string_view datastore) const;
  /// Prometheus text (format 0.0.4) of every running context, labelled by datastore and context.
  [[nodiscard]] std::string metrics_text() const;

 private:
  struct Entry {
    DatastoreOptions options;
    std::shared_ptr<Datastore> running;
    /// Declared through declare(), not the config file.
    bool runtime = false;
  };
  Result<Entry*> find(std::string_view datastore);
  Result<const Entry*> find(std::string_view datastore) const;
  void register_running(const Entry& entry, const std::string& context);
  void unregister(const Entry& entry, const std::string& context);
  nlohmann::json entry_json(const Entry& entry) const;

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::shared_ptr<Registrar> registrar_;
  /// Registration failures of started contexts (context -> reason), shown in status.
  std::map<std::string, std::string> registration_errors_;
};

}  // namespace plexus::context
