// The per-thread injector behind PLEXUS_FAULT (fault.hpp).
#include "plexus/core/fault.hpp"

namespace plexus::fault {
namespace {
// Per thread, so simulation runs on several threads each drive their own.
thread_local Injector* installed = nullptr;
}  // namespace

Injector* install(Injector* injector) noexcept {
  Injector* previous = installed;
  installed = injector;
  return previous;
}

bool hit(const char* name) noexcept { return installed != nullptr && installed->fire(name); }

}  // namespace plexus::fault
