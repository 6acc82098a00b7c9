// Test fixtures: module libraries that are each wrong in one way, built from
// this file with one -DFIXTURE_<NAME> (modules/meson.build), so that the
// loader's refusal of each is tested on a real shared library.
#include <stdexcept>

#include "plexus/tenants/module_abi.hpp"

namespace {

class FixtureModule final : public plexus::tenants::Module {
 public:
  std::string name() const override {
#if defined(FIXTURE_EMPTY_NAME)
    return "";
#elif defined(FIXTURE_NAMED_COUNTER)
    return "counter";
#else
    return "fixture";
#endif
  }
  plexus::tenants::Outcome install(const plexus::tenants::Tenant&) override { return plexus::tenants::Outcome::ok("{}"); }
  plexus::tenants::RunOutcome run(const plexus::tenants::Tenant&, plexus::tenants::Bytes state) override {
    return plexus::tenants::RunOutcome::success(std::move(state));
  }
};

[[maybe_unused]] plexus::tenants::Module* create() {
#if defined(FIXTURE_THROWS)
  throw std::runtime_error("fixture: refusing to start");
#elif defined(FIXTURE_NULL_MODULE)
  return nullptr;
#else
  return new FixtureModule();
#endif
}

[[maybe_unused]] void destroy(plexus::tenants::Module* module) { delete module; }

}  // namespace

#if defined(FIXTURE_NO_ENTRY)
// Exports something, but not the entry point.
extern "C" __attribute__((visibility("default"))) int plexus_not_a_module() { return 1; }
#elif defined(FIXTURE_NULL_ENTRY)
extern "C" __attribute__((visibility("default"))) const plexus_module_v1* plexus_module_entry() { return nullptr; }
#else
extern "C" __attribute__((visibility("default"))) const plexus_module_v1* plexus_module_entry() {
#if defined(FIXTURE_WRONG_ABI)
  static const plexus_module_v1 entry{PLEXUS_TENANT_MODULE_ABI_VERSION + 998, "9.9.9", PLEXUS_TENANT_MODULE_CXX_ABI,
                                      create, destroy};
#elif defined(FIXTURE_WRONG_CXX_ABI)
  static const plexus_module_v1 entry{PLEXUS_TENANT_MODULE_ABI_VERSION, PLEXUS_VERSION_STRING, "libc++ 1", create, destroy};
#elif defined(FIXTURE_NULL_FACTORY)
  static const plexus_module_v1 entry{PLEXUS_TENANT_MODULE_ABI_VERSION, PLEXUS_VERSION_STRING,
                                      PLEXUS_TENANT_MODULE_CXX_ABI, nullptr, destroy};
#else
  static const plexus_module_v1 entry{PLEXUS_TENANT_MODULE_ABI_VERSION, PLEXUS_VERSION_STRING,
                                      PLEXUS_TENANT_MODULE_CXX_ABI, create, destroy};
#endif
  return &entry;
}
#endif
