// The node's modules: the built-ins (`counter`, `kv`) and the modules of the
// shared libraries given with plexusd's --module-lib PATH (module_loader.hpp),
// gathered in one ModuleRegistry and attached to what the host offers them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plexus/tenants/keyspace.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants::modules {

/// New instances of the built-in modules: counter, kv.
std::vector<std::shared_ptr<Module>> builtin_modules();

/// The built-ins, then the module of each library in `libs`, in order, each
/// attached to `host` (Module::attach) once registered. The first failure is
/// returned: a load_errc of load_module_library naming the path, or
/// load_errc::duplicate_name naming the module, the library and where the
/// name was registered first (a built-in or an earlier library).
Result<std::shared_ptr<ModuleRegistry>> build_module_registry(std::span<const std::string> libs,
                                                              const ModuleHost& host = {});

}  // namespace plexus::tenants::modules
