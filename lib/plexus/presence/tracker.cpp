// presence::Tracker and Owner: the public calls, each routed to the topic's
// shard and followed by a drain of that shard's effects.
#include <asio/post.hpp>

#include <random>

#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/tracker_impl.hpp"

namespace plexus::presence {
namespace {

std::uint64_t random_instance() {
  // The shell is where randomness is allowed: the cores take the instance as a parameter.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t value = 0;
  while (value == 0) value = rng();
  return value;
}

}  // namespace

Owner::~Owner() { close(); }

Owner::Owner(Owner&& other) noexcept
    : tracker_(std::move(other.tracker_)), id_(std::exchange(other.id_, 0)) {}

Owner& Owner::operator=(Owner&& other) noexcept {
  if (this != &other) {
    close();
    tracker_ = std::move(other.tracker_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void Owner::close() {
  const std::uint64_t id = std::exchange(id_, 0);
  auto tracker = tracker_.lock();
  tracker_.reset();
  if (id == 0 || !tracker) return;
  auto impl = std::static_pointer_cast<Tracker::Impl>(tracker);
  if (!impl->stopped()) impl->close_owner(id);
}

Result<std::shared_ptr<Tracker>> Tracker::start(asio::any_io_executor executor,
                                                std::shared_ptr<peer::PeerService> service, Options options,
                                                DiffHandler handle_diff) {
  if (auto valid = validate(options); !valid) return valid.error();
  if (!service->spec().channels.contains(options.channel)) {
    return make_error(errc::invalid_option, "channel: the peer service does not serve '" + options.channel +
                                                "' (add it to peer::Config::channels)");
  }
  auto impl = std::make_shared<Impl>(executor, options, std::move(handle_diff));
  // Owner ids count up from a random start, so an id kept from a previous life
  // of this node (an admin client's, a presence's owner) names no owner of this
  // one. Below 2^52: JSON clients read them exactly.
  impl->next_owner = (random_instance() & ((std::uint64_t{1} << 31) - 1)) << 21;
  const TimePoint now = Impl::now();
  std::vector<std::unique_ptr<Shard>> shards;
  replica::HostOptions host_options{options.channel, {}, "presence " + options.name};
  for (std::uint32_t i = 0; i < options.pool_size; ++i) {
    shards.push_back(std::make_unique<Shard>(options, service->spec().name, i, random_instance(), now));
    shards.back()->set_report_diffs(static_cast<bool>(impl->handle_diff));
    host_options.servers.push_back(name_for_number(options.name, i));
  }
  // The host lives inside impl and is stopped with it, so the handler's raw
  // pointer never outlives what it points at.
  auto host = Impl::Host::start(executor, std::move(service), std::move(host_options), std::move(shards),
                                Impl::TakeDiff{impl.get()});
  if (!host) return host.error();
  impl->host = std::move(*host);
  return std::shared_ptr<Tracker>(new Tracker(std::move(impl)));
}

Tracker::Tracker(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracker::~Tracker() { stop(); }

Owner Tracker::open_owner() { return Owner(impl_, ++impl_->next_owner); }

namespace {
Result<void> check_owner(const Owner& owner) {
  if (!owner.is_open()) return make_error(errc::closed_owner, "owner is closed");
  return {};
}
}  // namespace

Result<Ref> Tracker::track(const Owner& owner, std::string_view topic, std::string_view key,
                           const nlohmann::json& meta) {
  if (auto ok = check_owner(owner); !ok) return ok.error();
  auto ref = impl_->shard_of(topic).track(owner.id(), topic, key, meta, Impl::now());
  impl_->drain_topic(topic);
  return ref;
}

Result<void> Tracker::untrack(const Owner& owner, std::string_view topic, std::string_view key) {
  if (auto ok = check_owner(owner); !ok) return ok;
  auto done = impl_->shard_of(topic).untrack(owner.id(), topic, key, Impl::now());
  impl_->drain_topic(topic);
  return done;
}

std::size_t Tracker::untrack(const Owner& owner) {
  if (!owner.is_open()) return 0;
  return impl_->close_owner(owner.id());
}

Result<Ref> Tracker::update(const Owner& owner, std::string_view topic, std::string_view key,
                            const nlohmann::json& meta) {
  if (auto ok = check_owner(owner); !ok) return ok.error();
  auto ref = impl_->shard_of(topic).update(owner.id(), topic, key, meta, Impl::now());
  impl_->drain_topic(topic);
  return ref;
}

Result<Ref> Tracker::update(const Owner& owner, std::string_view topic, std::string_view key, const MetaFn& fn) {
  if (auto ok = check_owner(owner); !ok) return ok.error();
  auto ref = impl_->shard_of(topic).update(owner.id(), topic, key, fn, Impl::now());
  impl_->drain_topic(topic);
  return ref;
}

std::vector<Listed> Tracker::list(std::string_view topic) const { return impl_->shard_of(topic).state().list(topic); }

void Tracker::for_each(std::string_view topic, const Visitor& visit) const {
  impl_->shard_of(topic).state().for_each(
      topic, [&](std::string_view key, const MetaPtr& meta, Ref ref, const Replica&, std::uint64_t) {
        visit(key, meta, ref);
      });
}

std::vector<Presence> Tracker::get_by_key(std::string_view topic, std::string_view key) const {
  return impl_->shard_of(topic).state().get_by_key(topic, key);
}

void Tracker::graceful_permdown() {
  const TimePoint now = Impl::now();
  for (std::uint32_t i = 0; i < impl_->host->size(); ++i) {
    impl_->shard(i).graceful_permdown(now);
    impl_->drain(i);
  }
}

void Tracker::stop() { impl_->stop(); }

const Options& Tracker::options() const noexcept { return impl_->options; }

std::uint32_t Tracker::shard_for(std::string_view topic) const noexcept {
  return shard_for_topic(topic, impl_->options.pool_size);
}

TrackerMetrics Tracker::metrics() const {
  TrackerMetrics m;
  for (std::uint32_t i = 0; i < impl_->host->size(); ++i) {
    const Shard& shard = impl_->shard(i);
    const auto& c = shard.counters();
    m.presences += shard.state().size();
    m.local_presences += shard.state().replicas().front().size;
    m.deltas_sent += c.deltas_sent;
    m.deltas_merged += c.deltas_merged;
    m.gaps += c.gaps;
    m.transfer_requests_sent += c.transfer_requests_sent;
    m.transfers_sent_delta += c.transfers_sent_delta;
    m.transfers_sent_full += c.transfers_sent_full;
    m.heartbeats_sent += c.heartbeats_sent;
    m.bad_messages += c.bad_messages;
    m.pool_size_mismatches += c.pool_size_mismatches;
  }
  m.send_failures = impl_->host->send_failures();
  return m;
}

std::vector<Error> Tracker::recent_errors() const { return impl_->host->recent_errors(); }

}  // namespace plexus::presence
