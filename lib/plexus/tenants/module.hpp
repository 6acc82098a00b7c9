// The tenant module interface: JetPluginSDK.TenantMan's callbacks and result
// shapes in C++. A module is one class; the manager runs one instance of its
// state per tenant, one callback at a time (on the tenant's strand), and asks
// for async work to run elsewhere (on the node's pool).
//
//   install(tenant)                  -> ok(state) | async(work) | error(reason)
//   run(tenant, state)               -> ok(state[, extra]) | error(reason, state[, extra])
//   update({config, caps}, tenant, state), uninstall(tenant, state)   (optional)
//                                    -> ok(state[, extra]) | async(work[, extra]) | error(reason[, extra])
//   call(request, from, tenant, state) -> reply(r, state[, extra]) | noreply(state[, extra])
//                                       | stop(reason[, r], state)
//   cast / info / on_continue        -> noreply(state[, extra]) | stop(reason, state)
//   terminate(reason, tenant, state)
//   extra = continue_with(arg) | hibernate | timeout(ms)
//
// States, requests and replies are bytes (std::string); a module picks its
// encoding (to_bytes / parse_json help with JSON). A `noreply` call is
// answered later by listing {from, reply} in a later result's `replies`
// (results are values, so the manager stays sans-IO), or from outside a
// callback through the tenant's handle (Lifecycle::answer, GenServer.reply). Any result may ask for a
// snapshot of its state (`snapshot = true`); install and update results are
// always snapshotted, and a restart, handoff or failover runs with the last
// snapshot, never with nothing. See docs/tenants.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plexus/core/result.hpp"
#include "plexus/tenants/errors.hpp"

namespace plexus::tenants {

/// A tenant's state, a request or a reply: bytes the module encodes.
using Bytes = std::string;

/// What a tenant is configured with (the seed's {tenant_config, tenant_capabilities}).
struct Config {
  nlohmann::json config = nlohmann::json::object();
  nlohmann::json capabilities = nlohmann::json::object();
  friend bool operator==(const Config&, const Config&) = default;
};

/// The seed's tenant(): who the tenant is and what it is configured with.
struct Tenant {
  std::string id;
  std::string module;
  Config config;
  std::uint64_t generation = 0;  ///< bumped by every install and update in the registry
};

/// The seed's extra(): what the tenant does next, after the callback.
struct Extra {
  enum class Kind : std::uint8_t { none, continue_with, hibernate, timeout };
  Kind kind = Kind::none;
  Bytes arg;                           ///< continue_with's argument
  std::chrono::milliseconds after{0};  ///< timeout's delay

  static Extra none() { return {}; }
  /// Runs on_continue(arg) before any other message.
  static Extra continue_with(Bytes arg) { return {Kind::continue_with, std::move(arg), {}}; }
  /// The tenant may be compacted until its next message.
  static Extra hibernate() { return {Kind::hibernate, {}, {}}; }
  /// info(timeout) unless a message arrives within `after`.
  static Extra timeout(std::chrono::milliseconds after) { return {Kind::timeout, {}, after}; }
  friend bool operator==(const Extra&, const Extra&) = default;
};

/// Who to answer: the handle of one call (the seed's GenServer.from()).
struct From {
  std::uint64_t call = 0;
  friend bool operator==(const From&, const From&) = default;
};

/// An answer to an earlier `noreply` call.
struct LateReply {
  From to;
  Bytes reply;
};

/// What every callback result may carry besides its shape.
struct Effects {
  Extra extra;
  std::vector<LateReply> replies;  ///< answers to earlier noreply calls
  bool snapshot = false;           ///< persist this result's state
};

/// What async work ends with: ok(state) | error(reason).
struct AsyncResult {
  bool ok = true;
  Bytes state;
  std::string reason;
  static AsyncResult success(Bytes state) { return {true, std::move(state), {}}; }
  static AsyncResult failure(std::string reason) { return {false, {}, std::move(reason)}; }
};

/// Work that runs on the node's pool, off the tenant's strand. It must not
/// touch the tenant's live state (capture what it needs by value).
using AsyncWork = std::function<AsyncResult()>;

/// The result of install, update and uninstall.
struct Outcome : Effects {
  enum class Kind : std::uint8_t { ok, async, error };
  Kind kind = Kind::ok;
  Bytes state;
  AsyncWork work;
  std::string reason;

  static Outcome ok(Bytes state, Extra extra = {});
  static Outcome async(AsyncWork work, Extra extra = {});
  static Outcome error(std::string reason, Extra extra = {});
};

/// The result of run: the tenant lives on either way (error: in error_occurred).
struct RunOutcome : Effects {
  bool ok = true;
  Bytes state;
  std::string reason;

  static RunOutcome success(Bytes state, Extra extra = {});
  static RunOutcome failure(std::string reason, Bytes state, Extra extra = {});
};

/// The result of call.
struct CallOutcome : Effects {
  enum class Kind : std::uint8_t { reply, noreply, stop };
  Kind kind = Kind::reply;
  Bytes state;
  std::optional<Bytes> reply;  ///< reply, and stop with a reply
  std::string reason;          ///< stop

  static CallOutcome reply_with(Bytes reply, Bytes state, Extra extra = {});
  static CallOutcome noreply(Bytes state, Extra extra = {});
  static CallOutcome stop(std::string reason, Bytes state);
  static CallOutcome stop(std::string reason, Bytes reply, Bytes state);
};

/// The result of cast, info and on_continue.
struct MessageOutcome : Effects {
  bool stop = false;
  Bytes state;
  std::string reason;  ///< stop

  static MessageOutcome noreply(Bytes state, Extra extra = {});
  static MessageOutcome stopping(std::string reason, Bytes state);
};

/// What info receives: the timeout of an Extra::timeout, or a user message.
struct Info {
  bool timeout = false;
  Bytes message;
};

struct ModuleHost;  // keyspace.hpp

/// A tenant module (see the file comment). Callbacks run on the tenant's
/// strand, one at a time; a callback that throws crashes the tenant (it is
/// restarted with backoff), never the node. Must be safe to use from several
/// strands at once for different tenants (keep per-tenant data in the state).
class Module {
 public:
  virtual ~Module() = default;
  /// The name tenants are installed under; unique in a ModuleRegistry.
  [[nodiscard]] virtual std::string name() const = 0;

  virtual Outcome install(const Tenant& tenant) = 0;
  virtual RunOutcome run(const Tenant& tenant, Bytes state) = 0;
  /// Optional: by default the new config is taken with the state unchanged.
  virtual Outcome update(const Config& next, const Tenant& tenant, Bytes state);
  /// Optional: by default the tenant is removed at once.
  virtual Outcome uninstall(const Tenant& tenant, Bytes state);
  /// Optional: by default a call stops the tenant (GenServer raises).
  virtual CallOutcome call(const Bytes& request, From from, const Tenant& tenant, Bytes state);
  /// Optional: by default a cast stops the tenant (GenServer raises).
  virtual MessageOutcome cast(const Bytes& request, const Tenant& tenant, Bytes state);
  /// Optional: by default ignored.
  virtual MessageOutcome info(const Info& message, const Tenant& tenant, Bytes state);
  /// Optional (the seed's handle_continue): by default stops the tenant.
  virtual MessageOutcome on_continue(const Bytes& arg, const Tenant& tenant, Bytes state);
  /// Optional: the tenant stops with `reason` ("normal", "shutdown", "uninstall", ...).
  virtual void terminate(std::string_view reason, const Tenant& tenant, const Bytes& state);
  /// Optional: called once by the host, before any tenant of the module runs,
  /// with what the host offers modules (tenants' key spaces: keyspace.hpp).
  /// A module keeps the parts it uses (they are shared_ptrs). By default ignored.
  virtual void attach(const ModuleHost& host);
};

/// Modules by name, filled at start and read-only afterwards (thread-safe then).
class ModuleRegistry {
 public:
  /// invalid_argument when the module is null, its name empty or taken.
  Result<void> add(std::shared_ptr<Module> module);
  /// unknown_module naming `name` when none is registered under it.
  [[nodiscard]] Result<std::shared_ptr<Module>> find(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<Module>, std::less<>> modules_;
};

// ---- JSON helpers ----

/// JSON text as bytes (compact, keys sorted: equal values, equal bytes).
Bytes to_bytes(const nlohmann::json& value);
/// Parses `bytes` as JSON; invalid_argument naming `what` and the 0-based byte offset.
Result<nlohmann::json> parse_json(std::string_view bytes, std::string_view what);
/// Parses config and capabilities JSON texts, each of which must be an object;
/// invalid_argument naming the field ("config", "capabilities") and the offset.
Result<Config> parse_config(std::string_view config_json, std::string_view capabilities_json);

}  // namespace plexus::tenants
