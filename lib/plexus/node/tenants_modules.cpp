// The node's tenant modules (see tenants_modules.hpp): the built-ins
// (counter, kv) and the modules of the --module-lib libraries.
#include "plexus/node/tenants_modules.hpp"

#include "plexus/tenants/modules/builtin.hpp"

namespace plexus::node {

Result<std::shared_ptr<tenants::ModuleRegistry>> node_modules(const std::vector<std::string>& libs,
                                                              std::shared_ptr<tenants::KeySpaces> keyspaces) {
  return tenants::modules::build_module_registry(libs, tenants::ModuleHost{std::move(keyspaces)});
}

}  // namespace plexus::node
