// The built-in `kv` module: a tenant is a key space. Install the tenant with
// the capability {"keyspace": {"datastore": "<name>", "context"?: "<name>"}};
// the host opens the tenant's key space there and binds it in the KeySpaces
// it gave the module (keyspace.hpp); every call is one transaction through
// it, fenced by the host's lease when the datastore is shared.
//
// Requests (JSON objects; keys and values: kv_request.hpp) and replies, the
// same shapes as the admin API's /v1/kv routes:
//   {"op": "get", "key": K}                    -> {"key", "found": true|false, "value": V | null}
//   {"op": "set", "key": K, "value": V}        -> {"key", "set": true}
//   {"op": "clear", "key": K}                  -> {"key", "cleared": true}
//   {"op": "range", "prefix"?: K, "limit"?: 1..10000 (100), "reverse"?: false}
//                                              -> {"rows": [{"key", "value"}...], "more": true|false}
// A bad request, or a refusal of the datastore (fenced: another owner holds
// the lease; reserved_key: a key under "__plexus"; key_too_large ...), is
// answered {"error": "<code name>", "detail": "..."}; only that call fails.
// The module keeps no state of its own (its state is "{}"); uninstall
// clears the tenant's keys (not the manager's lease and snapshot).
#pragma once

#include <memory>
#include <string>

#include "plexus/tenants/keyspace.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants::modules {

/// The `kv` module.
class KvModule final : public Module {
 public:
  KvModule() = default;
  /// With the key spaces at once (tests; the host otherwise calls attach()).
  explicit KvModule(std::shared_ptr<KeySpaces> keyspaces) : keyspaces_(std::move(keyspaces)) {}

  [[nodiscard]] std::string name() const override { return "kv"; }
  /// ok("{}") when the capabilities name a key space; error naming the field otherwise.
  Outcome install(const Tenant& tenant) override;
  RunOutcome run(const Tenant& tenant, Bytes state) override;
  /// Clears the tenant's keys; error(reason) when the datastore refuses.
  Outcome uninstall(const Tenant& tenant, Bytes state) override;
  CallOutcome call(const Bytes& request, From from, const Tenant& tenant, Bytes state) override;
  /// Keeps the host's key spaces.
  void attach(const ModuleHost& host) override;

 private:
  std::shared_ptr<KeySpaces> keyspaces_;
};

}  // namespace plexus::tenants::modules
