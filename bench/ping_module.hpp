// The trivial tenant module the tenant benchmarks measure against: the
// seed's MyTenant reduced to ping -> pong, with an empty state.
#pragma once

#include <string>

#include "plexus/tenants/module.hpp"

namespace plexus::tenants::bench {

class Ping final : public Module {
 public:
  std::string name() const override { return "ping"; }
  Outcome install(const Tenant&) override { return Outcome::ok("{}"); }
  RunOutcome run(const Tenant&, Bytes state) override { return RunOutcome::success(std::move(state)); }
  CallOutcome call(const Bytes&, From, const Tenant&, Bytes state) override {
    return CallOutcome::reply_with("pong", std::move(state));
  }
};

}  // namespace plexus::tenants::bench
