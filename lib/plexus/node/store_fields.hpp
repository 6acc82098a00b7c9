// Reading and answering datastore requests of the admin API (internal to
// plexus::node): store errors as HTTP answers, values and key tuples from
// request fields, and the bridge that runs a datastore call on the request's
// own thread. Used by admin_store.cpp (key spaces) and admin_kv.cpp (keys).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "plexus/node/admin_server.hpp"
#include "plexus/store/datastore.hpp"
#include "plexus/store/tuple.hpp"

namespace plexus::node {

/// A store error as an HTTP answer: {"error", "code"} with the status its code maps to.
Reply store_error(const Error& error);
/// A value as JSON: a string when it is valid UTF-8, else {"bytes": hex}.
nlohmann::json value_json(const std::string& value);
/// The request's "value": a string, or {"bytes": "<hex>"}; BadRequest otherwise.
std::string value_field(const Fields& fields);
/// A tuple from a field: a JSON array in a body, or its JSON text in a query.
store::Tuple tuple_field(const Fields& fields, std::string_view name, bool required);
std::string tenant_field(const Fields& fields);
/// "datastore", default "main".
std::string datastore_field(const Fields& fields);
/// Runs `fn` on this request's thread with the request's "tenant" opened
/// (created first when `create`) through the datastore context named by its
/// "context" field (and "datastore", needed only when several declare it):
/// the calls work as that context's role (admin_contexts.cpp).
Reply with_context_tenant(AdminServer& admin, const Fields& fields, bool create,
                          std::function<Reply(store::Tenant&)> fn);
/// Runs `fn` with the named datastore on this request's thread.
Reply with_store(AdminServer& admin, const std::string& name, std::function<Reply(store::Datastore&)> fn);

}  // namespace plexus::node
