// The node's tenant modules (see tenants_modules.hpp): the built-ins
// (counter, kv) and the modules of the --module-lib libraries.
#include "plexus/node/tenants_modules.hpp"

#include "plexus/tenants/modules/builtin.hpp"

namespace plexus::node {

Result<std::shared_ptr<tenants::ModuleRegistry>> node_modules(const std::vector<std::string>& libs) {
  // Key spaces (the kv module's `keyspace` capability) are not bound by the node yet: no ModuleHost offer.
  return tenants::modules::build_module_registry(libs);
}

}  // namespace plexus::node
