// Modules the tenant tests run (test-only, not installed): the seed's
// MyTenant (ping -> pong) and a scriptable module whose next results a test
// sets, so every result shape of the seed can be driven.
#pragma once

#include "plexus/tenants/module.hpp"

namespace plexus::tenants::test {

/// The seed's example: install -> ok(%{}), run -> ok(state), call(:ping) -> reply(:pong).
class PingModule final : public Module {
 public:
  std::string name() const override { return "ping"; }
  Outcome install(const Tenant&) override { return Outcome::ok("{}"); }
  RunOutcome run(const Tenant&, Bytes state) override { return RunOutcome::success(std::move(state)); }
  CallOutcome call(const Bytes& request, From, const Tenant&, Bytes state) override {
    if (request == "ping") return CallOutcome::reply_with("pong", std::move(state));
    return CallOutcome::stop("unknown request '" + request + "'", std::move(state));
  }
};

}  // namespace plexus::tenants::test
