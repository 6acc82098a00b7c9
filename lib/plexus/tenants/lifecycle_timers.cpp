// Lifecycle, part 3: time and failure. Crashes and the restart budget
// (jittered exponential backoff, parking), deadlines (timeout, or `async`
// for a slow life cycle callback), async work that overruns, and the event
// outbox (re-emitted with backoff until acknowledged).
#include "plexus/tenants/lifecycle.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace plexus::tenants {

void Lifecycle::crash(std::string reason, Time now) {
  ++counters_.crashes;
  last_error_ = reason;
  alive_ = false;
  continue_.reset();
  timeout_at_.reset();
  // Calls the dead actor took but never answered (noreply) are lost with it.
  fail_waiting_calls(errc::stopped, "tenant '" + tenant_.id + "' crashed: " + reason, false);
  schedule_restart(now);
}

void Lifecycle::schedule_restart(Time now) {
  const Time window = options_->restart_window;
  std::erase_if(crashes_, [&](Time crashed) { return crashed + window <= now; });
  crashes_.push_back(now);
  if (crashes_.size() > options_->restarts_max) {
    return park("restart budget spent: " + std::to_string(crashes_.size()) + " crashes within " +
                    std::to_string(options_->restart_window.count()) + " ms; last: " + last_error_,
                now);
  }
  // initial x 2^(n-1), capped, shortened by a random fraction below restart_jitter.
  const auto shift = std::min<std::size_t>(crashes_.size() - 1, 30);
  const auto raw = options_->restart_backoff_initial * (std::int64_t{1} << shift);
  const auto capped = std::min<std::chrono::milliseconds>(raw, options_->restart_backoff_max);
  const double unit = next_unit();
  const auto delay = std::chrono::duration_cast<Time>(capped) -
                     std::chrono::duration_cast<Time>(std::chrono::duration<double, std::milli>(
                         static_cast<double>(capped.count()) * options_->restart_jitter * unit));
  restart_at_ = now + delay;
}

double Lifecycle::next_unit() {
  // splitmix64 (Steele, Lea, Flood): tiny state, good enough for jitter.
  std::uint64_t x = (jitter_state_ += 0x9e3779b97f4a7c15ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

void Lifecycle::park(std::string reason, Time now) {
  parked_ = true;
  alive_ = false;
  restart_at_.reset();
  last_error_ = reason;
  if (status_ != Status::updating && status_ != Status::uninstalling) status_ = Status::error_occurred;
  emit(EventKind::error_occurred, false, std::move(reason), now);
  fail_waiting_calls(errc::unavailable, "tenant '" + tenant_.id + "' is parked: " + last_error_, true);
}

void Lifecycle::finish_stop(Time) {
  if (alive_) {
    last_snapshot_ = state_;
    out().snapshots.push_back(state_);  // the next owner resumes from here
  }
  stop_requested_.reset();
  fail_waiting_calls(errc::stopped, "tenant '" + tenant_.id + "' stopped on this node", true);
  end_actor();
}

void Lifecycle::end_actor() {
  gone_ = true;
  alive_ = false;
  restart_at_.reset();
  continue_.reset();
  timeout_at_.reset();
  async_.reset();  // its caller heard `async`; a completion arriving later is reported and ignored
  async_done_.reset();
  mailbox_.clear();
  // Whatever still waits (commands queued on a parked tenant) hears it now.
  const errc code = status_ == Status::uninstalled ? errc::tenant_not_found : errc::unavailable;
  for (const auto& [call, deadline] : waiting_calls_) {
    out().replies.push_back(Reply{call, Reply::Kind::error, {}, make_error(code, "tenant '" + tenant_.id + "' ended here")});
  }
  waiting_calls_.clear();
  out().stopped = true;
}

void Lifecycle::on_tick(Time now) {
  expire(now);
  if (restart_at_ && now >= *restart_at_ && !in_flight_) {
    restart_at_.reset();
    ++counters_.restarts;
    alive_ = true;
    state_ = last_snapshot_.value_or(Bytes{});
    invoke(Invoke(Callback::run, state_), InFlight(Callback::run));
  }
  if (async_ && now >= async_->deadline && !in_flight_) {
    auto async = std::move(*async_);
    async_.reset();
    async_done_.reset();
    const auto ms = options_->async_timeout.count();
    apply_async(std::move(async), AsyncResult::failure("async work timed out after " + std::to_string(ms) + " ms"), now);
  }
  retry_events(now);
  pump(now);
}

void Lifecycle::expire(Time now) {
  for (auto it = waiting_calls_.begin(); it != waiting_calls_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    const std::uint64_t call = it->first;
    it = waiting_calls_.erase(it);
    const bool slow_command = in_flight_ && in_flight_->has_caller && in_flight_->call == call &&
                              in_flight_->callback != Callback::call;
    if (slow_command) {
      // The callback is still working: the caller hears `async`, the outcome comes as an event.
      out().replies.push_back(Reply{call, Reply::Kind::async, {}, {}});
      continue;
    }
    ++counters_.calls_timed_out;
    out().replies.push_back(Reply{call, Reply::Kind::error, {}, make_error(errc::timeout, "no reply by the deadline")});
    std::erase_if(mailbox_, [&](const Message& m) { return m.call == call && m.kind != Kind::cast && m.kind != Kind::info; });
  }
}

void Lifecycle::retry_events(Time now) {
  for (auto& outgoing : outbox_) {
    if (outgoing.next_try > now) continue;
    ++counters_.event_retries;
    out().events.push_back(outgoing.event);
    outgoing.backoff = std::min(outgoing.backoff * 2, options_->event_retry_max);
    outgoing.next_try = now + outgoing.backoff;
  }
}

void Lifecycle::emit(EventKind kind, bool ok, std::string reason, Time now) {
  const std::uint64_t seq = next_seq_++;
  Event event{tenant_.id + ":" + std::to_string(incarnation_) + ":" + std::to_string(seq), seq, tenant_.id,
              tenant_.generation, kind, ok, std::move(reason)};
  out().events.push_back(event);
  outbox_.push_back(Outgoing{std::move(event), now + options_->event_retry_initial, options_->event_retry_initial});
}

void Lifecycle::on_event_acked(std::uint64_t seq, Time) {
  std::erase_if(outbox_, [&](const Outgoing& outgoing) { return outgoing.event.seq == seq; });
  if (outbox_.empty()) std::vector<Outgoing>().swap(outbox_);
}

void Lifecycle::reply(std::uint64_t call, Reply::Kind kind, Bytes value, Error error) {
  // Only a caller still waiting is answered: one reply per call, none after its timeout.
  if (waiting_calls_.erase(call) == 0) return;
  out().replies.push_back(Reply{call, kind, std::move(value), std::move(error)});
}

void Lifecycle::answer_command(const InFlight& command, Reply::Kind kind, Error error) {
  if (command.has_caller) reply(command.call, kind, {}, std::move(error));
}

void Lifecycle::fail_waiting_calls(errc code, const std::string& why, bool queued_too) {
  // Kept: calls still queued (unless queued_too), and queued update/uninstall
  // commands of a parked tenant, which can still run on its last snapshot.
  std::set<std::uint64_t> keep;
  for (const auto& m : mailbox_) {
    const bool command = m.kind == Kind::update || m.kind == Kind::uninstall;
    if (!queued_too || (command && parked_ && status_ != Status::uninstalled)) keep.insert(m.call);
  }
  for (auto it = waiting_calls_.begin(); it != waiting_calls_.end();) {
    if (keep.contains(it->first)) {
      ++it;
      continue;
    }
    out().replies.push_back(Reply{it->first, Reply::Kind::error, {}, make_error(code, why)});
    it = waiting_calls_.erase(it);
  }
  if (queued_too) {
    std::erase_if(mailbox_, [&](const Message& m) {
      return m.kind == Kind::cast || m.kind == Kind::info || !keep.contains(m.call);
    });
  }
}

Time Lifecycle::next_deadline() const {
  Time next = Time::max();
  for (const auto& [call, deadline] : waiting_calls_) next = std::min(next, deadline);
  if (restart_at_) next = std::min(next, *restart_at_);
  if (async_) next = std::min(next, async_->deadline);
  if (timeout_at_ && alive_) next = std::min(next, *timeout_at_);
  for (const auto& outgoing : outbox_) next = std::min(next, outgoing.next_try);
  return next;
}

}  // namespace plexus::tenants
