// Loading tenant modules from shared libraries (module_loader.hpp).
#include "plexus/tenants/module_loader.hpp"

#include <dlfcn.h>

#include <cstring>
#include <exception>
#include <filesystem>

#include "plexus/core/error_category.hpp"
#include "plexus/tenants/module_abi.hpp"

namespace plexus::tenants {
namespace {

ErrorText describe(load_errc e) noexcept {
  switch (e) {
    case load_errc::ok: return {"ok", "success"};
    case load_errc::file_missing: return {"file_missing", "module library not found"};
    case load_errc::open_failed: return {"open_failed", "module library could not be loaded"};
    case load_errc::symbol_missing: return {"symbol_missing", "not a Plexus module library (no entry point)"};
    case load_errc::abi_mismatch: return {"abi_mismatch", "module library built for another module ABI version"};
    case load_errc::cxx_abi_mismatch: return {"cxx_abi_mismatch", "module library built with another C++ library ABI"};
    case load_errc::null_entry: return {"null_entry", "module library entry point returned null"};
    case load_errc::null_factory: return {"null_factory", "module library has no factory"};
    case load_errc::factory_threw: return {"factory_threw", "module library factory threw"};
    case load_errc::null_module: return {"null_module", "module library factory returned null"};
    case load_errc::invalid_name: return {"invalid_name", "module has an invalid name"};
    case load_errc::duplicate_name: return {"duplicate_name", "module name already registered"};
  }
  return {"unknown", "unknown module load error"};
}

Error load_error(load_errc code, std::string detail) { return Error{make_error_code(code), std::move(detail)}; }

/// The module and the library its code lives in: the module is freed (by the
/// library's destroy) before the library handle is closed.
struct LoadedModule {
  std::shared_ptr<void> library;
  Module* module = nullptr;
  void (*destroy)(Module*) = nullptr;
  LoadedModule(std::shared_ptr<void> lib, Module* created, void (*free)(Module*))
      : library(std::move(lib)), module(created), destroy(free) {}
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;
  ~LoadedModule() { destroy(module); }
};

/// Opens the library: RTLD_NOW reports missing symbols here, not at a later
/// call; RTLD_LOCAL keeps its symbols to itself; RTLD_NODELETE keeps its code
/// mapped after the last close, since functions it made (async work, error
/// categories) may outlive the module in the node's queues.
Result<std::shared_ptr<void>> open_library(const std::string& path) {
  ::dlerror();
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return load_error(load_errc::open_failed, "'" + path + "': " + (why ? why : "dlopen failed"));
  }
  return std::shared_ptr<void>(handle, [](void* h) { ::dlclose(h); });
}

/// The entry the library declares, checked against this build's ABI.
Result<const plexus_module_v1*> checked_entry(void* handle, const std::string& path) {
  ::dlerror();
  void* symbol = ::dlsym(handle, plexus_module_entry_symbol);
  if (symbol == nullptr) {
    return load_error(load_errc::symbol_missing, "'" + path + "' has no symbol '" + plexus_module_entry_symbol +
                                                     "' (export one with PLEXUS_TENANT_MODULE(ClassName))");
  }
  const auto entry_fn = reinterpret_cast<plexus_module_entry_fn>(symbol);
  const plexus_module_v1* entry = entry_fn();
  if (entry == nullptr) return load_error(load_errc::null_entry, "'" + path + "': plexus_module_entry() returned null");
  if (entry->abi_version != PLEXUS_TENANT_MODULE_ABI_VERSION) {
    return load_error(load_errc::abi_mismatch,
                      "'" + path + "' is built for module ABI version " + std::to_string(entry->abi_version) +
                          ", this node loads version " + std::to_string(PLEXUS_TENANT_MODULE_ABI_VERSION) +
                          ": rebuild it against Plexus " + PLEXUS_VERSION_STRING);
  }
  const char* cxx = entry->cxx_abi ? entry->cxx_abi : "(none)";
  if (std::strcmp(cxx, PLEXUS_TENANT_MODULE_CXX_ABI) != 0) {
    return load_error(load_errc::cxx_abi_mismatch, "'" + path + "' is built with C++ library ABI '" + cxx +
                                                       "', this node with '" + PLEXUS_TENANT_MODULE_CXX_ABI + "'");
  }
  if (entry->create == nullptr || entry->destroy == nullptr) {
    return load_error(load_errc::null_factory, "'" + path + "': the entry's " +
                                                   (entry->create == nullptr ? "create" : "destroy") + " is null");
  }
  return entry;
}

/// Calls the factory and the module's name(); exceptions become factory_threw.
Result<Module*> create_module(const plexus_module_v1& entry, const std::string& path) {
  Module* module = nullptr;
  try {
    module = entry.create();
    if (module == nullptr) return load_error(load_errc::null_module, "'" + path + "': create() returned null");
    if (module->name().empty()) {
      entry.destroy(module);
      return load_error(load_errc::invalid_name, "'" + path + "': the module's name() is empty");
    }
    return module;
  } catch (const std::exception& error) {
    if (module != nullptr) entry.destroy(module);
    return load_error(load_errc::factory_threw, "'" + path + "': " + error.what());
  } catch (...) {
    if (module != nullptr) entry.destroy(module);
    return load_error(load_errc::factory_threw, "'" + path + "': an exception that is not a std::exception");
  }
}

}  // namespace

const std::error_category& load_category() noexcept {
  static const DescribedCategory<load_errc, describe> category("plexus.tenants.module_load");
  return category;
}

std::error_code make_error_code(load_errc e) noexcept { return {static_cast<int>(e), load_category()}; }

std::string_view load_errc_name(load_errc e) noexcept { return describe(e).name; }

Result<std::shared_ptr<Module>> load_module_library(const std::string& given) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(given, ec);
  const std::string path = ec ? given : absolute.string();
  if (given.empty() || !std::filesystem::exists(path, ec)) {
    return load_error(load_errc::file_missing, "'" + given + "': no such file");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return load_error(load_errc::file_missing, "'" + given + "': not a regular file");
  }
  auto library = open_library(path);
  if (!library) return library.error();
  auto entry = checked_entry(library->get(), path);
  if (!entry) return entry.error();
  auto module = create_module(**entry, path);
  if (!module) return module.error();
  auto loaded = std::make_shared<LoadedModule>(std::move(*library), *module, (*entry)->destroy);
  return std::shared_ptr<Module>(loaded, loaded->module);
}

}  // namespace plexus::tenants
