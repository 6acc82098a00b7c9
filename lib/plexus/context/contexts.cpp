// The datastore config file, the local registrar, and a node's datastores
// driven by name (contexts.hpp). Rendering is in contexts_render.cpp.
#include "plexus/context/contexts.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "plexus/core/errors.hpp"
#include "plexus/context/errors.hpp"
#include "plexus/core/json_path.hpp"

namespace plexus::context {

using nlohmann::json;

Result<std::vector<DatastoreOptions>> parse_datastore_config(std::string_view text) {
  const json document = json::parse(text, nullptr, false);
  if (document.is_discarded()) return plexus::make_error(plexus::errc::invalid_json, "datastore config: not valid JSON");
  if (!document.is_object()) return json_path::field_error(json_path::root, "must be an object");
  for (const auto& [key, value] : document.items()) {
    if (key != "datastores") return json_path::field_error(json_path::printable(key), "unknown field");
  }
  const auto list = document.find("datastores");
  if (list == document.end() || !list->is_array()) return json_path::field_error("datastores", "must be an array");
  if (list->size() > datastores_max) {
    return json_path::field_error("datastores", "at most " + std::to_string(datastores_max));
  }
  std::vector<DatastoreOptions> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = json_path::index("datastores", i);
    auto parsed = parse_datastore_options((*list)[i]);
    if (!parsed) return Error{parsed.error().code, path + "." + parsed.error().detail};
    if (!names.insert(parsed->name).second) return json_path::field_error(path + ".name", "duplicate datastore " + parsed->name);
    out.push_back(std::move(*parsed));
  }
  return out;
}

Result<std::vector<DatastoreOptions>> load_datastore_config(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return plexus::make_error(plexus::errc::io_error, "cannot read datastore config " + path.string());
  std::ostringstream text;
  text << file.rdbuf();
  auto parsed = parse_datastore_config(text.str());
  if (!parsed) return Error{parsed.error().code, path.string() + ": " + parsed.error().detail};
  return parsed;
}

LocalRegistrar::LocalRegistrar(std::string node) : registry_(std::move(node), replica::TimePoint{}) {}

Result<void> LocalRegistrar::add(const std::string& name, const std::string& datastore, const std::string& context,
                                 Scope scope) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::lock_guard lock(mutex_);
  return registry_.register_context(name, datastore, context, scope, static_cast<std::uint64_t>(now_ms.count()));
}

Result<void> LocalRegistrar::remove(const std::string& name, Scope scope) {
  std::lock_guard lock(mutex_);
  return registry_.unregister_context(name, scope);
}

Result<Registration> LocalRegistrar::whereis(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return registry_.whereis(name);
}

Contexts::Contexts(std::vector<DatastoreOptions> datastores, std::shared_ptr<Registrar> registrar)
    : registrar_(std::move(registrar)) {
  for (auto& options : datastores) entries_.push_back(Entry{std::move(options), nullptr});
}

Contexts::~Contexts() {
  for (auto& entry : entries_) {
    if (entry.running) entry.running->stop();
  }
}

Result<Contexts::Entry*> Contexts::find(std::string_view datastore) {
  for (auto& entry : entries_) {
    if (entry.options.name == datastore) return &entry;
  }
  std::string known;
  for (const auto& entry : entries_) known += (known.empty() ? "" : ", ") + entry.options.name;
  return make_error(errc::context_not_found, "no datastore " + std::string(datastore) + " (there are: " +
                                                 (known.empty() ? "none" : known) + ")");
}

Result<const Contexts::Entry*> Contexts::find(std::string_view datastore) const {
  auto found = const_cast<Contexts*>(this)->find(datastore);
  if (!found) return found.error();
  return static_cast<const Entry*>(*found);
}

void Contexts::register_running(const Entry& entry, const std::string& context) {
  const ContextOptions* options = entry.options.find(context);
  if (options == nullptr || options->registry == Scope::none || !registrar_) return;
  auto added = registrar_->add(context, entry.options.name, context, options->registry);
  if (added) {
    registration_errors_.erase(entry.options.name + "/" + context);
  } else {
    registration_errors_[entry.options.name + "/" + context] = added.error().message();
  }
}

void Contexts::unregister(const Entry& entry, const std::string& context) {
  const ContextOptions* options = entry.options.find(context);
  if (options == nullptr || options->registry == Scope::none || !registrar_) return;
  (void)registrar_->remove(context, options->registry);  // context_not_found when it never registered
  registration_errors_.erase(entry.options.name + "/" + context);
}

json Contexts::start_all() {
  json out = json::object();
  for (auto& entry : entries_) {
    auto started = start(entry.options.name);
    if (started) {
      out[entry.options.name] = *started;
      continue;
    }
    const auto& error = started.error();
    const bool ours = error.code.category() == context_category();
    out[entry.options.name] = json{{"error", error.message()},
                                   {"code", ours ? std::string(errc_name(static_cast<errc>(error.code.value())))
                                                 : std::string(error.code.category().name())}};
  }
  return out;
}

Result<json> Contexts::start(std::string_view datastore) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if ((*entry)->running) return make_error(errc::already_started, "datastore " + std::string(datastore));
  auto started = Datastore::start((*entry)->options);
  if (!started) return started.error();
  (*entry)->running = started->datastore;
  for (const auto& status : started->contexts) {
    if (status.state == State::ready || status.state == State::not_ready) register_running(**entry, status.name);
  }
  json out = entry_json(**entry);
  out["outcome"] = to_string(started->outcome);
  return out;
}

Result<void> Contexts::stop(std::string_view datastore) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if (!(*entry)->running) return make_error(errc::not_started, "datastore " + std::string(datastore));
  for (const auto& c : (*entry)->options.contexts) unregister(**entry, c.name);
  (*entry)->running->stop();
  (*entry)->running.reset();
  return {};
}

Result<void> Contexts::create(std::string_view datastore) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  return create_datastore((*entry)->options);
}

Result<void> Contexts::drop(std::string_view datastore) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if ((*entry)->running) return make_error(errc::already_started, "stop datastore " + std::string(datastore) + " first");
  if (auto dropped = drop_datastore((*entry)->options); !dropped) return dropped;
  if ((*entry)->runtime) entries_.erase(entries_.begin() + (*entry - entries_.data()));
  return {};
}

Result<void> Contexts::declare(DatastoreOptions options, bool create) {
  if (auto ok = validate(options); !ok) return ok;
  std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    if (entry.options.name == options.name) {
      return make_error(errc::already_declared, "name: datastore " + options.name + " is already declared");
    }
  }
  if (entries_.size() >= datastores_max) {
    return plexus::make_error(plexus::errc::invalid_field,
                              "a node has at most " + std::to_string(datastores_max) + " datastores");
  }
  if (create) {
    if (auto created = create_datastore(options); !created) return created;
  }
  entries_.push_back(Entry{std::move(options), nullptr, true});
  return {};
}

Result<void> Contexts::start_context(std::string_view datastore, std::string_view context) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if (!(*entry)->running) return make_error(errc::not_started, "datastore " + std::string(datastore));
  if (auto ok = (*entry)->running->start_context(context); !ok) return ok;
  register_running(**entry, std::string(context));
  return {};
}

Result<void> Contexts::stop_context(std::string_view datastore, std::string_view context) {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if (!(*entry)->running) return make_error(errc::not_started, "datastore " + std::string(datastore));
  if (auto ok = (*entry)->running->stop_context(context); !ok) return ok;
  unregister(**entry, std::string(context));
  return {};
}

Result<std::shared_ptr<Context>> Contexts::context(std::string_view datastore, std::string_view context) const {
  std::lock_guard lock(mutex_);
  auto entry = find(datastore);
  if (!entry) return entry.error();
  if (!(*entry)->running) return make_error(errc::not_started, "datastore " + std::string(datastore));
  return (*entry)->running->context(context);
}

Result<Registration> Contexts::whereis(const std::string& name) const {
  if (!registrar_) return make_error(errc::context_not_found, "no registry");
  return registrar_->whereis(name);
}

}  // namespace plexus::context
