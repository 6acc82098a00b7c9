// Loading tenant modules from shared libraries (module_abi.hpp): dlopen the
// file, find `plexus_module_entry`, check the ABI it declares, create the
// module. Every failure is its own code of "plexus.tenants.module_load" with
// a detail naming the path (and both versions on a mismatch). The library
// stays loaded as long as its module (or anything holding the module) lives.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "plexus/core/result.hpp"
#include "plexus/tenants/module.hpp"

namespace plexus::tenants {

enum class load_errc : int {
  ok = 0,
  file_missing = 1,  ///< no file at the path
  open_failed,       ///< dlopen refused it; the detail carries dlerror()
  symbol_missing,    ///< no `plexus_module_entry` in it (not a Plexus module)
  abi_mismatch,      ///< built for another module ABI version (the detail names both)
  cxx_abi_mismatch,  ///< built with another C++ standard library ABI (the detail names both)
  null_entry,        ///< the entry point returned null
  null_factory,      ///< the entry's create or destroy is null
  factory_threw,     ///< create (or the module's name()) threw; the detail is what()
  null_module,       ///< create returned null
  invalid_name,      ///< the module's name is empty
  duplicate_name,    ///< a module of that name is already registered (built-in or earlier library)
};

/// The "plexus.tenants.module_load" error category.
const std::error_category& load_category() noexcept;
std::error_code make_error_code(load_errc e) noexcept;
/// Stable short name ("abi_mismatch").
std::string_view load_errc_name(load_errc e) noexcept;
/// True when `error` is this category's `e`.
inline bool is(const Error& error, load_errc e) noexcept { return error.code == make_error_code(e); }

/// Loads the module of the shared library at `path` (made absolute first, so
/// it is never searched for on the library path). Loading the same file twice
/// gives two module objects sharing one loaded library.
Result<std::shared_ptr<Module>> load_module_library(const std::string& path);

}  // namespace plexus::tenants

template <>
struct std::is_error_code_enum<plexus::tenants::load_errc> : std::true_type {};
