// Tests of loading modules from shared libraries: each fixture library
// (fixture_module.cpp, built once per defect) is refused with its own
// load_errc and a detail naming the path, and build_module_registry gathers
// the built-ins and libraries, refusing a duplicate name.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "plexus/tenants/module_abi.hpp"
#include "plexus/tenants/module_loader.hpp"
#include "plexus/tenants/modules/builtin.hpp"

namespace plexus::tenants {
namespace {

Error load_failure(const std::string& path, load_errc code) {
  auto loaded = load_module_library(path);
  REQUIRE_FALSE(loaded.ok());
  REQUIRE_MESSAGE(is(loaded.error(), code), loaded.error().message());
  CHECK(loaded.error().detail.find(path) != std::string::npos);
  return loaded.error();
}

TEST_CASE("module loader: a well-formed library loads, and its module works and outlives the name it was loaded by") {
  // Proves the entry point, the factory and the module's callbacks across the library boundary.
  std::shared_ptr<Module> module;
  {
    auto loaded = load_module_library(FIXTURE_PATH_NAMED_COUNTER);
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message());
    module = std::move(*loaded);
  }
  CHECK(module->name() == "counter");
  auto installed = module->install(Tenant{"t", "counter", {}, 1});
  CHECK((installed.kind == Outcome::Kind::ok && installed.state == "{}"));
  CHECK(module->run(Tenant{"t", "counter", {}, 1}, "s").state == "s");
  auto again = load_module_library(FIXTURE_PATH_NAMED_COUNTER);  // a second instance of the same library
  REQUIRE(again.ok());
  CHECK(again->get() != module.get());
}

TEST_CASE("module loader: a missing file, a file that is not a library and a library without the entry are refused") {
  // Proves file_missing, open_failed (with dlerror's text) and symbol_missing.
  const auto dir = std::filesystem::temp_directory_path() / ("plexus-loader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto missing = (dir / "absent.so").string();
  CHECK(load_failure(missing, load_errc::file_missing).detail == "'" + missing + "': no such file");
  CHECK(load_failure(dir.string(), load_errc::file_missing).detail == "'" + dir.string() + "': not a regular file");
  const auto text = (dir / "text.so").string();
  std::ofstream(text) << std::string(256, 'x');  // longer than an ELF header, so dlopen reads it
  auto garbage = load_failure(text, load_errc::open_failed);
  CHECK(garbage.detail.find("invalid ELF header") != std::string::npos);
  auto no_entry = load_failure(FIXTURE_PATH_NO_ENTRY, load_errc::symbol_missing);
  CHECK(no_entry.detail.find("has no symbol 'plexus_module_entry'") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("module loader: a library built for another ABI is refused naming both versions") {
  // Proves the version check runs before any of the library's C++ objects are touched.
  auto wrong = load_failure(FIXTURE_PATH_WRONG_ABI, load_errc::abi_mismatch);
  CHECK(wrong.detail == std::string("'") + FIXTURE_PATH_WRONG_ABI +
                            "' is built for module ABI version 999, this node loads version 1: rebuild it against Plexus " +
                            PLEXUS_VERSION_STRING);
  CHECK(wrong.message().rfind("module library built for another module ABI version: ", 0) == 0);
  auto cxx = load_failure(FIXTURE_PATH_WRONG_CXX_ABI, load_errc::cxx_abi_mismatch);
  CHECK(cxx.detail.find("built with C++ library ABI 'libc++ 1', this node with '" PLEXUS_TENANT_MODULE_CXX_ABI "'") !=
        std::string::npos);
}

TEST_CASE("module loader: a null entry, a null factory, a throwing or null-returning factory and an empty name are refused") {
  // Proves each defect of the entry or the factory has its own code, and a throw is caught with its what().
  load_failure(FIXTURE_PATH_NULL_ENTRY, load_errc::null_entry);
  CHECK(load_failure(FIXTURE_PATH_NULL_FACTORY, load_errc::null_factory).detail.find("the entry's create is null") !=
        std::string::npos);
  CHECK(load_failure(FIXTURE_PATH_THROWS, load_errc::factory_threw).detail ==
        std::string("'") + FIXTURE_PATH_THROWS + "': fixture: refusing to start");
  load_failure(FIXTURE_PATH_NULL_MODULE, load_errc::null_module);
  load_failure(FIXTURE_PATH_EMPTY_NAME, load_errc::invalid_name);
}

TEST_CASE("module registry: the built-ins, plus libraries, attached to the host; a duplicate name is refused") {
  // Proves build_module_registry's contents, its first-failure error and the duplicate_name detail.
  const std::vector<std::string> none;
  auto host = ModuleHost{std::make_shared<KeySpaces>()};
  auto builtins = modules::build_module_registry(none, host);
  REQUIRE(builtins.ok());
  CHECK((*builtins)->names() == std::vector<std::string>{"counter", "kv"});
  const std::vector<std::string> duplicate{FIXTURE_PATH_NAMED_COUNTER};
  auto refused = modules::build_module_registry(duplicate, host);
  REQUIRE_FALSE(refused.ok());
  REQUIRE(is(refused.error(), load_errc::duplicate_name));
  CHECK(refused.error().detail == std::string("'") + FIXTURE_PATH_NAMED_COUNTER +
                                      "' provides module 'counter', already registered by the built-in module");
  const std::vector<std::string> bad{FIXTURE_PATH_WRONG_ABI};
  auto wrong = modules::build_module_registry(bad, host);
  REQUIRE_FALSE(wrong.ok());
  CHECK(is(wrong.error(), load_errc::abi_mismatch));
  CHECK(load_errc_name(load_errc::duplicate_name) == "duplicate_name");
}

}  // namespace
}  // namespace plexus::tenants
