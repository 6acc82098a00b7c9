// The node's tenant modules (see tenants_modules.hpp). Until the built-in
// modules land (tenant-modules), a node hosts none and refuses --module-lib.
#include "plexus/node/tenants_modules.hpp"

#include "plexus/core/errors.hpp"

namespace plexus::node {

Result<std::shared_ptr<tenants::ModuleRegistry>> node_modules(const std::vector<std::string>& libs) {
  if (!libs.empty()) return make_error(errc::invalid_field, "module libraries are not supported by this build yet");
  return std::make_shared<tenants::ModuleRegistry>();
}

}  // namespace plexus::node
