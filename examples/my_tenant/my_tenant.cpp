// The seed's MyTenant (JetPluginSDK.TenantMan's example) as a Plexus module
// library: install -> ok(%{}), run -> ok(state), call(:ping) -> reply(:pong);
// update and uninstall keep the module interface's defaults (ok with the
// state unchanged), as the seed leaves them out. Built by meson as the shared
// library my_tenant.so; load it into a node with
//   plexusd ... --module-lib build/test/examples/my_tenant/my_tenant.so
// then install tenants of module "my_tenant" and call them with "ping".
#include "plexus/tenants/module_abi.hpp"

namespace {

using namespace plexus::tenants;

class MyTenant final : public Module {
 public:
  std::string name() const override { return "my_tenant"; }

  // handle_install(_tenant): {:ok, %{}}
  Outcome install(const Tenant&) override { return Outcome::ok("{}"); }

  // handle_run({_tenant, tenant_state}): {:ok, tenant_state}
  RunOutcome run(const Tenant&, Bytes state) override { return RunOutcome::success(std::move(state)); }

  // handle_call(:ping, _from, state): {:reply, :pong, state}. Any other
  // request has no clause in the seed (the GenServer crashes): stop.
  CallOutcome call(const Bytes& request, From, const Tenant&, Bytes state) override {
    if (request == "ping") return CallOutcome::reply_with("pong", std::move(state));
    return CallOutcome::stop("my_tenant: no clause for request '" + request + "'", std::move(state));
  }
};

}  // namespace

PLEXUS_TENANT_MODULE(MyTenant)
