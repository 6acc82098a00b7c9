// For authors of tenant modules in shared libraries (plexusd --module-lib
// PATH.so). Write a tenants::Module subclass with a default constructor, then
// export it once, at namespace scope of one source file:
//
//   #include "plexus/tenants/module_abi.hpp"
//   class MyTenant final : public plexus::tenants::Module { ... };
//   PLEXUS_TENANT_MODULE(MyTenant)
//
// and build a shared library against the same Plexus headers as the node
// (meson: shared_module(..., dependencies: plexus_tenants_dep); examples/my_tenant).
// The macro defines the library's one entry point, the C symbol
// `plexus_module_entry`, which returns a plexus_module_v1 naming the ABI
// version and the Plexus version the library was built against, the C++
// standard library ABI it was built with, and a factory. The node's loader
// (module_loader.hpp) refuses the library with a precise error when the ABI
// version or the C++ library ABI differs from its own — the way Redis
// modules and PostgreSQL extensions are checked at load — because the module
// is a C++ object whose layout only matches when both sides agree.
//
// A module object lives as long as the node holds it and must be safe to use
// from several strands at once (module.hpp); key spaces reach it through
// Module::attach (keyspace.hpp).
#pragma once

#include <cstdint>

#include "plexus/tenants/keyspace.hpp"
#include "plexus/tenants/module.hpp"
#include "plexus/tenants/version.hpp"

/// The module ABI version this header describes. Bumped whenever Module, the
/// types its callbacks take or return, or plexus_module_v1 change in a way a
/// library built against the older headers could not work with.
#define PLEXUS_TENANT_MODULE_ABI_VERSION 1u

#define PLEXUS_TENANT_MODULE_STR2(x) #x
#define PLEXUS_TENANT_MODULE_STR(x) PLEXUS_TENANT_MODULE_STR2(x)
/// The C++ standard library and its string ABI: "libstdc++ cxx11=1", "libc++ 16000".
#if defined(_LIBCPP_VERSION)
#define PLEXUS_TENANT_MODULE_CXX_ABI "libc++ " PLEXUS_TENANT_MODULE_STR(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define PLEXUS_TENANT_MODULE_CXX_ABI "libstdc++ cxx11=" PLEXUS_TENANT_MODULE_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define PLEXUS_TENANT_MODULE_CXX_ABI "unknown"
#endif

extern "C" {

/// What a module library's entry point returns. `abi_version` stays the first
/// member in every version, so a loader can always read it before anything else.
struct plexus_module_v1 {
  std::uint32_t abi_version;   ///< PLEXUS_TENANT_MODULE_ABI_VERSION when built
  const char* plexus_version;  ///< PLEXUS_VERSION_STRING when built ("0.1.0")
  const char* cxx_abi;         ///< PLEXUS_TENANT_MODULE_CXX_ABI when built
  /// A new module, owned by the caller (freed with `destroy`); may throw.
  plexus::tenants::Module* (*create)();
  /// Frees what `create` returned, in the library that allocated it.
  void (*destroy)(plexus::tenants::Module*);
};

/// The entry point's type; its symbol is named by plexus_module_entry_symbol.
using plexus_module_entry_fn = const plexus_module_v1* (*)();
}

namespace plexus::tenants {
/// The symbol the loader looks up in a module library.
inline constexpr const char* plexus_module_entry_symbol = "plexus_module_entry";
}  // namespace plexus::tenants

/// Exports `ClassName` (a Module with a default constructor) as this shared
/// library's module. Use once per library, at global namespace scope.
#define PLEXUS_TENANT_MODULE(ClassName)                                                              \
  extern "C" __attribute__((visibility("default"))) const plexus_module_v1* plexus_module_entry() {  \
    static const plexus_module_v1 entry{                                                             \
        PLEXUS_TENANT_MODULE_ABI_VERSION, PLEXUS_VERSION_STRING, PLEXUS_TENANT_MODULE_CXX_ABI,       \
        []() -> ::plexus::tenants::Module* { return new ClassName(); },                              \
        [](::plexus::tenants::Module* module) { delete module; }};                                   \
    return &entry;                                                                                   \
  }
