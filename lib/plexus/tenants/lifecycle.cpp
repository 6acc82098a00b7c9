// Lifecycle, part 1: commands and the mailbox. A command is checked against
// the status (the seed's already_exists / tenant_not_found), bounded by
// mailbox_max, and queued; pump() hands the next processable message to one
// callback at a time. See lifecycle.hpp for the status machine.
#include "plexus/tenants/lifecycle.hpp"

#include <algorithm>

namespace plexus::tenants {

std::string_view status_name(Status status) noexcept {
  switch (status) {
    case Status::pending: return "pending";
    case Status::installing: return "installing";
    case Status::running: return "running";
    case Status::updating: return "updating";
    case Status::uninstalling: return "uninstalling";
    case Status::error_occurred: return "error_occurred";
    case Status::uninstalled: return "uninstalled";
  }
  return "unknown";
}

std::string_view callback_name(Callback callback) noexcept {
  switch (callback) {
    case Callback::install: return "install";
    case Callback::run: return "run";
    case Callback::update: return "update";
    case Callback::uninstall: return "uninstall";
    case Callback::call: return "call";
    case Callback::cast: return "cast";
    case Callback::info: return "info";
    case Callback::on_continue: return "continue";
    case Callback::terminate: return "terminate";
  }
  return "unknown";
}

std::string_view event_kind_name(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::install: return "install";
    case EventKind::update: return "update";
    case EventKind::uninstall: return "uninstall";
    case EventKind::error_occurred: return "error_occurred";
  }
  return "unknown";
}

Lifecycle::Lifecycle(Tenant tenant, std::shared_ptr<const LifecycleOptions> options, std::uint64_t incarnation,
                     std::uint64_t seed)
    : tenant_(std::move(tenant)),
      options_(options ? std::move(options) : std::make_shared<const LifecycleOptions>()),
      incarnation_(incarnation),
      jitter_state_(seed) {}

void Lifecycle::install(std::uint64_t call, Time deadline, Time now) {
  if (status_ != Status::pending || alive_ || in_flight_) {  // pending but alive: resuming
    return refuse(call, errc::already_exists, "tenant '" + tenant_.id + "' is " + std::string(status_name(status_)));
  }
  if (deadline <= now) return refuse(call, errc::timeout, "install: deadline already passed");
  status_ = Status::installing;
  waiting_calls_[call] = deadline;
  InFlight command(Callback::install, call, true);
  invoke(Invoke(Callback::install), command);
}

void Lifecycle::resume(Bytes snapshot, Time now) {
  if (status_ != Status::pending || alive_ || in_flight_) {
    return out().errors.push_back(make_error(errc::invalid_argument, "resume: tenant '" + tenant_.id + "' is not pending"));
  }
  set_state(std::move(snapshot), false);
  last_snapshot_ = state_;
  alive_ = true;
  invoke(Invoke(Callback::run, state_), InFlight(Callback::run));
  pump(now);
}

void Lifecycle::update(Config next, std::uint64_t generation, std::uint64_t call, Time deadline, Time now) {
  if (refuse_if_moved(call, "update")) return;
  if (status_ == Status::uninstalled || status_ == Status::uninstalling || never_installed()) {
    return refuse(call, errc::tenant_not_found, "update: tenant '" + tenant_.id + "' is " + std::string(status_name(status_)));
  }
  if (parked_ && !last_snapshot_) {
    return refuse(call, errc::unavailable, "update: tenant '" + tenant_.id + "' never installed: " + last_error_);
  }
  if (outbox_.size() >= options_->outbox_max) {
    return refuse(call, errc::outbox_full, "update: " + std::to_string(outbox_.size()) + " events unacknowledged");
  }
  Message message(Kind::update, call, deadline);
  message.next = std::move(next);
  message.generation = generation;
  if (admit(std::move(message), now)) pump(now);
}

void Lifecycle::uninstall(std::uint64_t call, Time deadline, Time now) {
  if (refuse_if_moved(call, "uninstall")) return;
  if (status_ == Status::uninstalled || status_ == Status::uninstalling || never_installed()) {
    return refuse(call, errc::tenant_not_found, "uninstall: tenant '" + tenant_.id + "' is " + std::string(status_name(status_)));
  }
  if (outbox_.size() >= options_->outbox_max) {
    return refuse(call, errc::outbox_full, "uninstall: " + std::to_string(outbox_.size()) + " events unacknowledged");
  }
  if (admit(Message(Kind::uninstall, call, deadline), now)) pump(now);
}

void Lifecycle::call(Bytes request, std::uint64_t call, Time deadline, Time now) {
  if (refuse_if_moved(call, "call")) return;
  if (status_ == Status::uninstalled) return refuse(call, errc::tenant_not_found, "call: tenant '" + tenant_.id + "'");
  if (parked_) return refuse(call, errc::unavailable, "call: tenant '" + tenant_.id + "' is parked: " + last_error_);
  if (admit(Message(Kind::call, call, deadline, std::move(request)), now)) pump(now);
}

void Lifecycle::cast(Bytes request, Time now) {
  if (status_ == Status::uninstalled || parked_ || gone_) {
    return out().errors.push_back(make_error(status_ == Status::uninstalled ? errc::tenant_not_found : errc::unavailable,
                                            "cast to tenant '" + tenant_.id + "' dropped"));
  }
  if (admit(Message(Kind::cast, 0, Time::max(), std::move(request)), now)) pump(now);
}

void Lifecycle::info(Bytes message, Time now) {
  if (status_ == Status::uninstalled || parked_ || gone_) return;
  if (admit(Message(Kind::info, 0, Time::max(), std::move(message)), now)) pump(now);
}

void Lifecycle::answer(From to, Bytes reply_bytes, Time) {
  // Only a call the actor took (not one still queued) can have been told `noreply`.
  const bool queued = std::any_of(mailbox_.begin(), mailbox_.end(), [&](const Message& m) { return m.call == to.call; });
  const bool in_callback = in_flight_ && in_flight_->has_caller && in_flight_->call == to.call;
  if (!queued && !in_callback) reply(to.call, Reply::Kind::ok, std::move(reply_bytes));
}

void Lifecycle::stop(std::string reason, Time now) {
  if (gone_ || stop_requested_) return;
  stop_requested_ = std::move(reason);
  restart_at_.reset();
  pump(now);
}

bool Lifecycle::admit(Message message, Time now) {
  const bool has_caller = message.kind == Kind::call || message.kind == Kind::update || message.kind == Kind::uninstall;
  if (mailbox_.size() >= options_->mailbox_max) {
    if (has_caller) refuse(message.call, errc::mailbox_full, std::to_string(mailbox_.size()) + " messages queued");
    if (!has_caller) out().errors.push_back(make_error(errc::mailbox_full, "tenant '" + tenant_.id + "': message dropped"));
    return false;
  }
  // Calls the actor took and left unanswered (noreply) count too: both are bounded by mailbox_max.
  if (has_caller && waiting_calls_.size() >= options_->mailbox_max) {
    refuse(message.call, errc::mailbox_full, std::to_string(waiting_calls_.size()) + " calls waiting for a reply");
    return false;
  }
  if (has_caller && message.deadline <= now) {
    refuse(message.call, errc::timeout, "deadline already passed");
    return false;
  }
  if (has_caller) waiting_calls_[message.call] = message.deadline;
  timeout_at_.reset();  // GenServer: a message arriving cancels the timeout
  mailbox_.push_back(std::move(message));
  return true;
}

void Lifecycle::pump(Time now) {
  // Each step starts one callback or drops one stale message, so the mailbox bounds the loop.
  const std::size_t steps_max = mailbox_.size() + 4;
  for (std::size_t i = 0; i < steps_max && !in_flight_; ++i) {
    if (!step(now)) return;
  }
}

bool Lifecycle::step(Time now) {
  if (async_done_) {
    auto [id, result] = std::move(*async_done_);
    async_done_.reset();
    auto async = std::move(*async_);
    async_.reset();
    apply_async(std::move(async), std::move(result), now);
    return true;
  }
  if (stop_requested_) {
    if (!alive_) {
      finish_stop(now);
      return false;
    }
    terminate_then(*stop_requested_, InFlight::After::stop, InFlight());
    return false;
  }
  if (alive_ && continue_) {
    Bytes arg = std::move(*continue_);
    continue_.reset();
    invoke(Invoke(Callback::on_continue, std::move(state_), std::move(arg)), InFlight(Callback::on_continue));
    return false;
  }
  const auto next = std::find_if(mailbox_.begin(), mailbox_.end(), [&](const Message& m) { return processable(m); });
  if (next != mailbox_.end()) {
    Message message = std::move(*next);
    mailbox_.erase(next);
    dispatch(std::move(message), now);
    return true;
  }
  if (alive_ && timeout_at_ && now >= *timeout_at_) {
    timeout_at_.reset();
    Invoke what{Callback::info, std::move(state_)};
    what.timeout = true;
    invoke(std::move(what), InFlight(Callback::info));
  }
  return false;
}

bool Lifecycle::processable(const Message& message) const {
  if (message.kind == Kind::update || message.kind == Kind::uninstall) return !async_ && (alive_ || parked_);
  return alive_;
}

// call, cast, info and continue take the state by move: their results always
// hand it back (a throw loses it, and the restart runs from the last snapshot).
// update and uninstall copy it: an async result carries no state.
void Lifecycle::dispatch(Message message, Time now) {
  const bool has_caller = message.kind == Kind::call || message.kind == Kind::update || message.kind == Kind::uninstall;
  // A command whose caller already got `timeout` is not run behind its back.
  if (has_caller && !waiting_calls_.contains(message.call)) return;
  switch (message.kind) {
    case Kind::update: return begin_update(std::move(message));
    case Kind::uninstall: return begin_uninstall(std::move(message), now);
    case Kind::call: {
      Invoke what{Callback::call, std::move(state_), std::move(message.bytes)};
      what.from = From{message.call};
      return invoke(std::move(what), InFlight(Callback::call, message.call, true));
    }
    case Kind::cast: return invoke(Invoke(Callback::cast, std::move(state_), std::move(message.bytes)), InFlight(Callback::cast));
    case Kind::info: return invoke(Invoke(Callback::info, std::move(state_), std::move(message.bytes)), InFlight(Callback::info));
  }
}

void Lifecycle::invoke(Invoke what, InFlight in_flight) {
  in_flight_ = std::move(in_flight);
  out().invoke = std::move(what);
}

void Lifecycle::begin_update(Message message) {
  InFlight command(Callback::update, message.call, true);
  command.next = message.next;
  command.generation = message.generation;
  command.before = status_;
  status_ = Status::updating;
  Invoke what{Callback::update, alive_ ? state_ : *last_snapshot_};
  what.next = std::move(message.next);
  invoke(std::move(what), std::move(command));
}

void Lifecycle::begin_uninstall(Message message, Time now) {
  InFlight command(Callback::uninstall, message.call, true);
  command.before = status_;
  status_ = Status::uninstalling;
  if (!alive_ && !last_snapshot_) return uninstall_done(command, std::nullopt, now);
  invoke(Invoke(Callback::uninstall, alive_ ? state_ : *last_snapshot_), std::move(command));
}

void Lifecycle::terminate_then(std::string reason, InFlight::After after, const InFlight& command) {
  InFlight in_flight = command;
  in_flight.callback = Callback::terminate;
  in_flight.after = after;
  Invoke what{Callback::terminate, state_};
  what.reason = std::move(reason);
  invoke(std::move(what), std::move(in_flight));
}

bool Lifecycle::refuse_if_moved(std::uint64_t call, std::string_view what) {
  if (!gone_ || status_ == Status::uninstalled) return false;  // uninstalled: the status checks answer
  refuse(call, errc::unavailable, std::string(what) + ": tenant '" + tenant_.id + "' stopped on this node");
  return true;
}

void Lifecycle::refuse(std::uint64_t call, errc code, std::string detail) {
  out().replies.push_back(Reply{call, Reply::Kind::error, {}, make_error(code, std::move(detail))});
}

LifecycleOutput Lifecycle::take() {
  // Idle tenants keep no output buffer and no mailbox capacity: a node holds
  // 100,000 of them (docs/tenants.md, "Local host").
  if (mailbox_.empty() && mailbox_.capacity() != 0) std::vector<Message>().swap(mailbox_);
  if (!out_) return {};
  LifecycleOutput taken = std::move(*out_);
  out_.reset();
  return taken;
}

}  // namespace plexus::tenants
