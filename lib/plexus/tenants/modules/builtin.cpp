// Building the node's ModuleRegistry from the built-ins and module libraries (builtin.hpp).
#include "plexus/tenants/modules/builtin.hpp"

#include <map>

#include "plexus/tenants/module_loader.hpp"
#include "plexus/tenants/modules/counter.hpp"
#include "plexus/tenants/modules/kv.hpp"

namespace plexus::tenants::modules {

std::vector<std::shared_ptr<Module>> builtin_modules() {
  return {std::make_shared<CounterModule>(), std::make_shared<KvModule>()};
}

Result<std::shared_ptr<ModuleRegistry>> build_module_registry(std::span<const std::string> libs,
                                                              const ModuleHost& host) {
  auto registry = std::make_shared<ModuleRegistry>();
  std::map<std::string, std::string, std::less<>> origin;  // module name -> where it came from
  std::vector<std::shared_ptr<Module>> added;
  for (auto& module : builtin_modules()) {
    origin.emplace(module->name(), "the built-in module");
    if (auto ok = registry->add(module); !ok) return ok.error();
    added.push_back(std::move(module));
  }
  for (const auto& path : libs) {
    auto module = load_module_library(path);
    if (!module) return module.error();
    const auto name = (*module)->name();
    if (const auto it = origin.find(name); it != origin.end()) {
      return Error{make_error_code(load_errc::duplicate_name),
                   "'" + path + "' provides module '" + name + "', already registered by " + it->second};
    }
    origin.emplace(name, "'" + path + "'");
    if (auto ok = registry->add(*module); !ok) return ok.error();
    added.push_back(std::move(*module));
  }
  for (const auto& module : added) module->attach(host);
  return registry;
}

}  // namespace plexus::tenants::modules
