// Lifecycle, part 2: applying what a callback (or its async work) returned:
// the seed's result shapes mapped onto status, replies, events, snapshots and
// the next callback. See lifecycle.hpp for the status machine.
#include "plexus/tenants/lifecycle.hpp"

namespace plexus::tenants {
namespace {

EventKind event_of(Callback callback) {
  if (callback == Callback::update) return EventKind::update;
  if (callback == Callback::uninstall) return EventKind::uninstall;
  return EventKind::install;
}

bool is_command(Callback callback) {
  return callback == Callback::install || callback == Callback::update || callback == Callback::uninstall;
}

}  // namespace

bool Lifecycle::expect(Callback callback, std::string_view fed) {
  if (in_flight_ && (in_flight_->callback == callback || (callback == Callback::install && is_command(in_flight_->callback)))) {
    return true;
  }
  const std::string running = in_flight_ ? std::string(callback_name(in_flight_->callback)) : "none";
  out().errors.push_back(make_error(errc::invalid_argument,
                                   std::string(fed) + " fed while callback in flight is " + running + "; ignored"));
  return false;
}

void Lifecycle::on_outcome(Outcome outcome, Time now) {
  if (!expect(Callback::install, "on_outcome")) return;
  const InFlight command = std::move(*in_flight_);
  in_flight_.reset();
  switch (outcome.kind) {
    case Outcome::Kind::ok:
      if (command.callback == Callback::install) installed(command, std::move(outcome.state), std::move(outcome), now);
      if (command.callback == Callback::update) updated(command, std::move(outcome.state), std::move(outcome), now);
      if (command.callback == Callback::uninstall) {
        apply_effects(outcome, now);
        uninstall_done(command, std::move(outcome.state), now);
      }
      break;
    case Outcome::Kind::async: start_async(command, std::move(outcome), now); break;
    case Outcome::Kind::error:
      if (command.callback == Callback::install) {
        install_failed(command, std::move(outcome.reason), errc::module_error, now);
      } else {
        apply_effects(outcome, now);
        command_failed(command, std::move(outcome.reason), errc::module_error, now);
      }
      break;
  }
  pump(now);
}

void Lifecycle::installed(const InFlight& command, Bytes state, Effects effects, Time now) {
  set_state(std::move(state), true);
  alive_ = true;
  answer_command(command, Reply::Kind::ok);
  emit(EventKind::install, true, {}, now);
  effects.snapshot = false;
  apply_effects(std::move(effects), now);
  invoke(Invoke(Callback::run, state_), InFlight(Callback::run));
}

void Lifecycle::install_failed(const InFlight& command, std::string reason, errc code, Time now) {
  last_error_ = reason;
  // Still waiting: the caller hears the error now and nothing stays installed.
  const bool sync = waiting_calls_.contains(command.call);
  answer_command(command, Reply::Kind::error, make_error(code, reason));
  emit(EventKind::install, false, reason, now);
  alive_ = false;
  if (sync) {
    status_ = Status::uninstalled;
    fail_waiting_calls(errc::tenant_not_found, "install of '" + tenant_.id + "' failed: " + reason, true);
    end_actor();
    return;
  }
  status_ = Status::error_occurred;
  parked_ = true;
  fail_waiting_calls(errc::unavailable, "install failed: " + reason, true);
}

void Lifecycle::updated(const InFlight& command, Bytes state, Effects effects, Time now) {
  if (command.next) tenant_.config = *command.next;
  tenant_.generation = command.generation;
  set_state(std::move(state), true);
  answer_command(command, Reply::Kind::ok);
  emit(EventKind::update, true, {}, now);
  status_ = Status::running;
  effects.snapshot = false;
  apply_effects(std::move(effects), now);
  if (parked_) {
    // An update is how an operator repairs a parked tenant: a fresh budget and a run.
    parked_ = false;
    crashes_.clear();
    alive_ = true;
    invoke(Invoke(Callback::run, state_), InFlight(Callback::run));
  }
}

void Lifecycle::uninstall_done(const InFlight& command, std::optional<Bytes> state, Time now) {
  if (state) state_ = std::move(*state);
  if (alive_ && !in_flight_) return terminate_then("uninstall", InFlight::After::uninstall, command);
  finish_uninstall(command, now);
}

void Lifecycle::finish_uninstall(const InFlight& command, Time now) {
  answer_command(command, Reply::Kind::ok);
  emit(EventKind::uninstall, true, {}, now);
  status_ = Status::uninstalled;
  parked_ = false;
  fail_waiting_calls(errc::tenant_not_found, "tenant '" + tenant_.id + "' uninstalled", true);
  end_actor();
}

void Lifecycle::command_failed(const InFlight& command, std::string reason, errc code, Time now) {
  last_error_ = reason;
  answer_command(command, Reply::Kind::error, make_error(code, reason));
  emit(event_of(command.callback), false, std::move(reason), now);
  // A tenant parked while the command's async work ran stays parked.
  status_ = parked_ ? Status::error_occurred : command.before;
}

void Lifecycle::start_async(InFlight command, Outcome outcome, Time now) {
  answer_command(command, Reply::Kind::async);
  const std::uint64_t id = next_async_id_++;
  Effects effects = outcome;
  async_ = std::make_unique<Async>(Async{id, std::move(command), now + options_->async_timeout, std::move(effects)});
  out().async.push_back(StartAsync{id, std::move(outcome.work)});
}

void Lifecycle::on_async_done(std::uint64_t id, AsyncResult result, Time now) {
  if (!async_ || async_->id != id) {
    return out().errors.push_back(make_error(errc::invalid_argument, "async work " + std::to_string(id) + " is not awaited; ignored"));
  }
  if (in_flight_) {
    async_done_ = std::make_unique<std::pair<std::uint64_t, AsyncResult>>(id, std::move(result));  // applied on the strand once the callback returns
    return;
  }
  auto async = std::move(*async_);
  async_.reset();
  apply_async(std::move(async), std::move(result), now);
  pump(now);
}

void Lifecycle::apply_async(Async async, AsyncResult result, Time now) {
  const InFlight& command = async.command;
  if (!result.ok) {
    if (command.callback == Callback::install) return install_failed(command, std::move(result.reason), errc::module_error, now);
    return command_failed(command, std::move(result.reason), errc::module_error, now);
  }
  if (command.callback == Callback::install) {
    return installed(command, std::move(result.state), std::move(async.effects), now);
  }
  if (command.callback == Callback::update) return updated(command, std::move(result.state), std::move(async.effects), now);
  apply_effects(std::move(async.effects), now);
  uninstall_done(command, std::move(result.state), now);
}

void Lifecycle::on_run(RunOutcome outcome, Time now) {
  if (!expect(Callback::run, "on_run")) return;
  in_flight_.reset();
  set_state(std::move(outcome.state), false);
  const bool busy = status_ == Status::updating || status_ == Status::uninstalling;
  if (outcome.ok) {
    if (!busy) status_ = Status::running;
  } else {
    last_error_ = outcome.reason;
    if (!busy) status_ = Status::error_occurred;
    emit(EventKind::error_occurred, false, std::move(outcome.reason), now);
  }
  apply_effects(std::move(outcome), now);
  pump(now);
}

void Lifecycle::on_call(CallOutcome outcome, Time now) {
  if (!expect(Callback::call, "on_call")) return;
  const InFlight command = std::move(*in_flight_);
  in_flight_.reset();
  set_state(std::move(outcome.state), false);
  if (outcome.reply) reply(command.call, Reply::Kind::ok, std::move(*outcome.reply));
  if (outcome.kind == CallOutcome::Kind::stop) {
    outcome.extra = Extra::none();  // a stopping tenant continues nothing
    apply_effects(std::move(outcome), now);
    return stop_result(std::move(outcome.reason), now);
  }
  apply_effects(std::move(outcome), now);
  pump(now);
}

void Lifecycle::on_message(MessageOutcome outcome, Time now) {
  const bool message_in_flight =
      in_flight_ && (in_flight_->callback == Callback::cast || in_flight_->callback == Callback::info ||
                     in_flight_->callback == Callback::on_continue);
  if (!message_in_flight) {
    expect(Callback::cast, "on_message");  // reports the mismatch
    return;
  }
  in_flight_.reset();
  set_state(std::move(outcome.state), false);
  if (outcome.stop) {
    outcome.extra = Extra::none();
    apply_effects(std::move(outcome), now);
    return stop_result(std::move(outcome.reason), now);
  }
  apply_effects(std::move(outcome), now);
  pump(now);
}

void Lifecycle::stop_result(std::string reason, Time) {
  // GenServer runs terminate on stop; the tenant then restarts (its desired state is running).
  last_error_ = reason;
  terminate_then(std::move(reason), InFlight::After::restart, InFlight());
}

void Lifecycle::on_terminated(Time now) {
  if (!expect(Callback::terminate, "on_terminated")) return;
  const InFlight command = std::move(*in_flight_);
  in_flight_.reset();
  switch (command.after) {
    case InFlight::After::uninstall: finish_uninstall(command, now); break;
    case InFlight::After::stop: finish_stop(now); break;
    case InFlight::After::restart: crash(last_error_, now); break;
  }
  pump(now);
}

void Lifecycle::on_threw(std::string what, Time now) {
  if (!in_flight_) return out().errors.push_back(make_error(errc::invalid_argument, "on_threw with no callback in flight"));
  if (in_flight_->callback == Callback::terminate) return on_terminated(now);  // it was ending anyway
  const InFlight command = std::move(*in_flight_);
  in_flight_.reset();
  const std::string reason = std::string(callback_name(command.callback)) + " threw: " + what;
  if (command.callback == Callback::install) {
    install_failed(command, reason, errc::callback_threw, now);
  } else {
    if (command.has_caller) answer_command(command, Reply::Kind::error, make_error(errc::callback_threw, reason));
    if (command.callback == Callback::update || command.callback == Callback::uninstall) {
      emit(event_of(command.callback), false, reason, now);
      status_ = parked_ ? Status::error_occurred : command.before;
    }
    // A parked tenant's update or uninstall ran on its snapshot, not in an actor: nothing to restart.
    if (alive_) crash(reason, now);
  }
  pump(now);
}

void Lifecycle::apply_effects(Effects effects, Time now) {
  for (auto& late : effects.replies) reply(late.to.call, Reply::Kind::ok, std::move(late.reply));
  switch (effects.extra.kind) {
    case Extra::Kind::none: break;
    case Extra::Kind::continue_with: continue_ = std::move(effects.extra.arg); break;
    case Extra::Kind::hibernate: out().hibernate = true; break;
    case Extra::Kind::timeout: timeout_at_ = now + effects.extra.after; break;
  }
  if (effects.snapshot) {
    last_snapshot_ = state_;
    out().snapshots.push_back(state_);
  }
}

void Lifecycle::set_state(Bytes state, bool snapshot) {
  state_ = std::move(state);
  if (!snapshot) return;
  last_snapshot_ = state_;
  out().snapshots.push_back(state_);
}

}  // namespace plexus::tenants
