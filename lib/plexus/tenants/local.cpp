// LocalTenants (local.hpp): stub bodies while the host is built; every
// command answers `unavailable` so a caller compiles and links against it.
#include "plexus/tenants/local.hpp"

namespace plexus::tenants {

struct LocalTenants::State {
  LocalOptions options;
};

namespace {
Error not_yet() { return make_error(errc::unavailable, "local tenant host: not built yet"); }
}  // namespace

Result<std::unique_ptr<LocalTenants>> LocalTenants::create(asio::any_io_executor, std::shared_ptr<store::Database>,
                                                           const ModuleRegistry&, LocalOptions options, const Clock&) {
  auto state = std::make_shared<State>();
  state->options = std::move(options);
  return std::unique_ptr<LocalTenants>(new LocalTenants(std::move(state)));
}
LocalTenants::LocalTenants(std::shared_ptr<State> state) : state_(std::move(state)) {}
LocalTenants::~LocalTenants() = default;
void LocalTenants::start(Tenant, StartMode, Time, CommandDone done) { done(not_yet()); }
void LocalTenants::update(const std::string&, Config, std::uint64_t, Time, CommandDone done) { done(not_yet()); }
void LocalTenants::uninstall(const std::string&, Time, CommandDone done) { done(not_yet()); }
void LocalTenants::call(const std::string&, Bytes, Time, CallDone done) { done(not_yet()); }
void LocalTenants::cast(const std::string&, Bytes) {}
void LocalTenants::info(const std::string&, Bytes) {}
void LocalTenants::answer(const std::string&, From, Bytes) {}
void LocalTenants::stop(const std::string&, std::string, Time, CommandDone done) { done(not_yet()); }
void LocalTenants::ack_event(const std::string&, std::uint64_t) {}
void LocalTenants::subscribe(EventSink) {}
Result<LocalStatus> LocalTenants::status(const std::string& id) const {
  return make_error(errc::tenant_not_found, "'" + id + "' is not on this node");
}
std::vector<LocalStatus> LocalTenants::list() const { return {}; }
LocalCounters LocalTenants::counters() const { return {}; }
std::size_t LocalTenants::size() const { return 0; }
const LocalOptions& LocalTenants::options() const { return state_->options; }

}  // namespace plexus::tenants
