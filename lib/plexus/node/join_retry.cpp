#include "plexus/node/join_retry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "plexus/core/errors.hpp"

namespace plexus::node {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe(const JoinTarget& target) {
  if (const auto* spec = std::get_if<NodeSpec>(&target)) return spec->name;
  return to_string(std::get<ListenAddr>(target));
}

std::string reason(const Error& error) {
  const std::string message = error.message();
  return error.detail.empty() || error.detail == message ? message : message + ": " + error.detail;
}

// An up member listens on `address`: joining it again would change nothing.
bool up_member_at(const peer::PeerService& service, const ListenAddr& address) {
  for (const auto& member : service.member_status()) {
    if (member.self || !member.up) continue;
    for (const auto& listen : member.spec.listen_addrs) {
      if (listen == address) return true;
    }
  }
  return false;
}

bool member_up(const peer::PeerService& service, const std::string& name) {
  for (const auto& member : service.member_status()) {
    if (member.spec.name == name) return member.up;
  }
  return false;
}

bool is_member(const peer::PeerService& service, const std::string& name) {
  const auto names = service.members();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

peer::Millis join_retry_delay(const JoinRetryOptions& options, std::uint32_t attempt, std::mt19937_64& rng) {
  assert(attempt >= 1);
  assert(options.initial.count() >= 1 && options.max >= options.initial);
  std::int64_t base = options.initial.count();
  for (std::uint32_t i = 1; i < attempt && base < options.max.count(); ++i) base *= 2;
  base = std::min<std::int64_t>(base, options.max.count());
  const auto jitter = std::uniform_int_distribution<std::int64_t>(0, base / 2)(rng);
  return peer::Millis(base - jitter);
}

Joiner::Joiner(asio::any_io_executor io, std::weak_ptr<peer::PeerService> service, JoinRetryOptions options)
    : io_(std::move(io)), service_(std::move(service)), options_(options), rng_(std::random_device{}()) {}

void Joiner::add(const JoinTarget& target, Done first_outcome, Done joined) {
  const std::string text = describe(target);
  for (const auto& existing : targets_) {
    if (existing->text != text) continue;
    if (first_outcome) first_outcome(make_error(errc::timed_out, "already retrying " + text + ": " + existing->last_error));
    if (!joined) return;
    // Bounded: the oldest waiter's request was answered (at its deadline) long ago.
    if (existing->joined.size() >= joined_waiters_max) {
      auto oldest = std::move(existing->joined.front());
      existing->joined.erase(existing->joined.begin());
      oldest(make_error(errc::timed_out, "still retrying " + text));
    }
    existing->joined.push_back(std::move(joined));
    return;
  }
  if (stopped_) {
    if (first_outcome) first_outcome(make_error(errc::shutting_down, "the node is stopping"));
    return;
  }
  auto entry = std::make_shared<Target>();
  entry->target = target;
  entry->text = text;
  entry->timer = std::make_unique<asio::steady_timer>(io_);
  if (first_outcome) entry->first_outcome.push_back(std::move(first_outcome));
  if (joined) entry->joined.push_back(std::move(joined));
  targets_.push_back(entry);
  attempt(entry);
}

void Joiner::attempt(const TargetPtr& target) {
  auto service = service_.lock();
  if (stopped_ || !service) return;
  std::weak_ptr<Joiner> weak = weak_from_this();
  if (const auto* spec = std::get_if<NodeSpec>(&target->target)) {
    // join() once (again only if the member was dropped meanwhile): calling it with an old spec at
    // every step would undo the spec of a node that restarted since.
    if (!target->spec_added || !is_member(*service, spec->name)) {
      if (auto joined = service->join(*spec); !joined) return failed(target, reason(joined.error()), true);
      target->spec_added = true;
    }
    if (member_up(*service, spec->name)) return succeeded(target);
    // Its links dial it by themselves; a first check right after join() is too early to be news.
    return failed(target, "added, not up yet (its links keep dialing it)", target->attempts > 0);
  }
  const auto address = std::get<ListenAddr>(target->target);
  if (up_member_at(*service, address)) return succeeded(target);
  service->join_address(address, [weak, target](const Result<void>& answered) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (answered) return self->succeeded(target);
    self->failed(target, reason(answered.error()), true);
  });
}

void Joiner::failed(const TargetPtr& target, const std::string& why, bool log) {
  ++target->attempts;
  target->last_error = why;
  const auto delay = join_retry_delay(options_, target->attempts, rng_);
  target->due = Clock::now() + delay;
  if (log) {
    target->warned = true;
    spdlog::warn("join {}: {} (attempt {}; retrying in {} ms)", target->text, why, target->attempts, delay.count());
  }
  report_first(target, make_error(errc::timed_out, why));
  std::weak_ptr<Joiner> weak = weak_from_this();
  target->timer->expires_after(delay);
  target->timer->async_wait([weak, target](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->attempt(target);
  });
}

void Joiner::succeeded(const TargetPtr& target) {
  joined_any_ = true;
  if (target->warned) spdlog::info("join {}: joined after {} failed attempts", target->text, target->attempts);
  targets_.remove(target);
  report_first(target, {});
  for (auto& done : std::exchange(target->joined, {})) done({});
}

void Joiner::report_first(const TargetPtr& target, const Result<void>& outcome) {
  for (auto& done : std::exchange(target->first_outcome, {})) done(outcome);
}

std::vector<Joiner::Pending> Joiner::pending() const {
  std::vector<Pending> out;
  const auto now = Clock::now();
  for (const auto& target : targets_) {
    const auto left = std::chrono::duration_cast<peer::Millis>(target->due - now).count();
    out.push_back({target->text, target->attempts, target->last_error, std::max<std::int64_t>(0, left)});
  }
  return out;
}

void Joiner::stop() {
  stopped_ = true;
  for (const auto& target : std::exchange(targets_, {})) {
    target->timer->cancel();
    report_first(target, make_error(errc::shutting_down, "the node is stopping"));
    for (auto& done : std::exchange(target->joined, {})) done(make_error(errc::shutting_down, "the node is stopping"));
  }
}

}  // namespace plexus::node
