// The tenant modules a node hosts: the built-in ones and those of its
// --module-lib libraries (tenants_modules.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/tenants/keyspace.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::node {

/// The node's ModuleRegistry, its modules offered `keyspaces` (the local
/// host binds them); an error names the library that failed.
Result<std::shared_ptr<tenants::ModuleRegistry>> node_modules(const std::vector<std::string>& libs,
                                                              std::shared_ptr<tenants::KeySpaces> keyspaces);

}  // namespace plexus::node
