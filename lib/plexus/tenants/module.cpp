// The module interface's result constructors, default callbacks, the module
// registry and the JSON helpers.
#include "plexus/tenants/module.hpp"

namespace plexus::tenants {

Outcome Outcome::ok(Bytes state, Extra extra) {
  Outcome out;
  out.kind = Kind::ok;
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

Outcome Outcome::async(AsyncWork work, Extra extra) {
  Outcome out;
  out.kind = Kind::async;
  out.work = std::move(work);
  out.extra = std::move(extra);
  return out;
}

Outcome Outcome::error(std::string reason, Extra extra) {
  Outcome out;
  out.kind = Kind::error;
  out.reason = std::move(reason);
  out.extra = std::move(extra);
  return out;
}

RunOutcome RunOutcome::success(Bytes state, Extra extra) {
  RunOutcome out;
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

RunOutcome RunOutcome::failure(std::string reason, Bytes state, Extra extra) {
  RunOutcome out;
  out.ok = false;
  out.reason = std::move(reason);
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

CallOutcome CallOutcome::reply_with(Bytes reply, Bytes state, Extra extra) {
  CallOutcome out;
  out.kind = Kind::reply;
  out.reply = std::move(reply);
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

CallOutcome CallOutcome::noreply(Bytes state, Extra extra) {
  CallOutcome out;
  out.kind = Kind::noreply;
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

CallOutcome CallOutcome::stop(std::string reason, Bytes state) {
  CallOutcome out;
  out.kind = Kind::stop;
  out.reason = std::move(reason);
  out.state = std::move(state);
  return out;
}

CallOutcome CallOutcome::stop(std::string reason, Bytes reply, Bytes state) {
  CallOutcome out = stop(std::move(reason), std::move(state));
  out.reply = std::move(reply);
  return out;
}

MessageOutcome MessageOutcome::noreply(Bytes state, Extra extra) {
  MessageOutcome out;
  out.state = std::move(state);
  out.extra = std::move(extra);
  return out;
}

MessageOutcome MessageOutcome::stopping(std::string reason, Bytes state) {
  MessageOutcome out;
  out.stop = true;
  out.reason = std::move(reason);
  out.state = std::move(state);
  return out;
}

Outcome Module::update(const Config&, const Tenant&, Bytes state) { return Outcome::ok(std::move(state)); }

Outcome Module::uninstall(const Tenant&, Bytes state) { return Outcome::ok(std::move(state)); }

CallOutcome Module::call(const Bytes&, From, const Tenant& tenant, Bytes state) {
  return CallOutcome::stop("module '" + tenant.module + "' handles no calls", std::move(state));
}

MessageOutcome Module::cast(const Bytes&, const Tenant& tenant, Bytes state) {
  return MessageOutcome::stopping("module '" + tenant.module + "' handles no casts", std::move(state));
}

MessageOutcome Module::info(const Info&, const Tenant&, Bytes state) { return MessageOutcome::noreply(std::move(state)); }

MessageOutcome Module::on_continue(const Bytes&, const Tenant& tenant, Bytes state) {
  return MessageOutcome::stopping("module '" + tenant.module + "' handles no continue", std::move(state));
}

void Module::terminate(std::string_view, const Tenant&, const Bytes&) {}

void Module::attach(const ModuleHost&) {}

Result<void> ModuleRegistry::add(std::shared_ptr<Module> module) {
  if (!module) return make_error(errc::invalid_argument, "module: null");
  auto name = module->name();
  if (name.empty()) return make_error(errc::invalid_argument, "module name: empty");
  if (modules_.contains(name)) return make_error(errc::invalid_argument, "module name '" + name + "': taken");
  modules_.emplace(std::move(name), std::move(module));
  return {};
}

Result<std::shared_ptr<Module>> ModuleRegistry::find(std::string_view name) const {
  const auto it = modules_.find(name);
  if (it == modules_.end()) return make_error(errc::unknown_module, "module '" + std::string(name) + "'");
  return it->second;
}

std::vector<std::string> ModuleRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, module] : modules_) out.push_back(name);
  return out;
}

Bytes to_bytes(const nlohmann::json& value) { return value.dump(); }

Result<nlohmann::json> parse_json(std::string_view bytes, std::string_view what) {
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& error) {
    // nlohmann counts bytes read (1-based); an offset is 0-based.
    const std::size_t offset = error.byte == 0 ? 0 : error.byte - 1;
    return make_error(errc::invalid_argument,
                      std::string(what) + ": invalid JSON at offset " + std::to_string(offset) + ": " + error.what());
  } catch (const nlohmann::json::exception& error) {
    // Well-formed text nlohmann still refuses with another exception: a number
    // past a double's range ("1e400") is out_of_range 406, with no offset.
    return make_error(errc::invalid_argument, std::string(what) + ": invalid JSON: " + error.what());
  }
}

namespace {

Result<nlohmann::json> parse_object(std::string_view text, std::string_view field) {
  auto parsed = parse_json(text, field);
  if (!parsed) return parsed;
  if (!parsed->is_object()) {
    return make_error(errc::invalid_argument,
                      std::string(field) + ": must be a JSON object, not " + parsed->type_name());
  }
  return parsed;
}

}  // namespace

Result<Config> parse_config(std::string_view config_json, std::string_view capabilities_json) {
  auto config = parse_object(config_json, "config");
  if (!config) return config.error();
  auto capabilities = parse_object(capabilities_json, "capabilities");
  if (!capabilities) return capabilities.error();
  return Config{std::move(*config), std::move(*capabilities)};
}

}  // namespace plexus::tenants
