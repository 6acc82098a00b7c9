// Named fault points (FoundationDB's BUGGIFY, ScyllaDB's error_injection):
// places in production code that may take a legal but rare path on purpose,
// so the simulator (lib/plexus/sim) can push the code into corners that real
// networks reach only once a year. Each point is a string literal:
//
//   if (PLEXUS_FAULT("delivery.ack_batcher.drop")) return false;
//
// With the meson option fault_points disabled (the default for release
// builds) PLEXUS_FAULT(name) is the constant false and the compiler removes
// the branch. Enabled, it asks the Injector installed on the CURRENT thread
// and is false when none is installed, so production processes built with
// fault points still never fire one. A point must only choose behaviour the
// surrounding code already allows (drop an ack, refuse a message that will be
// retransmitted, skip an optional step): fault points test robustness, they
// never break a contract.
#pragma once

#include "plexus/core/fault_config.hpp"

namespace plexus::fault {

/// Decides, per hit, whether a named point fires (the simulator's seeded one).
class Injector {
 public:
  virtual ~Injector() = default;
  /// `name` is the literal at the point. Must not throw.
  virtual bool fire(const char* name) noexcept = 0;
};

/// True when PLEXUS_FAULT compiles to a check (meson -Dfault_points).
inline constexpr bool compiled_in = PLEXUS_FAULT_POINTS != 0;

/// Install `injector` for the calling thread (nullptr removes it); returns the previous one.
Injector* install(Injector* injector) noexcept;
/// The installed injector's answer for `name`; false without one.
bool hit(const char* name) noexcept;

}  // namespace plexus::fault

#if PLEXUS_FAULT_POINTS
#define PLEXUS_FAULT(name) (::plexus::fault::hit(name))
#else
#define PLEXUS_FAULT(name) (false)
#endif
