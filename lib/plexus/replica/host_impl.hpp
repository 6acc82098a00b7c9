// The definitions of replica::Host's members (included by host.hpp): start
// and registration, drain, the one timer, received messages and peer events.
#pragma once

#include <utility>

namespace plexus::replica {

template <Core C, class O>
Result<std::shared_ptr<Host<C, O>>> Host<C, O>::start(asio::any_io_executor executor,
                                                std::shared_ptr<peer::PeerService> service, HostOptions options,
                                                std::vector<std::unique_ptr<C>> cores, OutputHandler on_output) {
  if (!service->spec().channels.contains(options.channel)) {
    return make_error(plexus::errc::invalid_field, "channel: the peer service does not serve '" +
                                                       options.channel + "' (add it to peer::Config::channels)");
  }
  if (options.servers.size() != cores.size()) {
    return make_error(plexus::errc::invalid_field, "servers: one server name per core (" +
                                                       std::to_string(options.servers.size()) + " names, " +
                                                       std::to_string(cores.size()) + " cores)");
  }
  std::shared_ptr<Host> host(
      new Host(std::move(executor), std::move(service), std::move(options), std::move(cores), std::move(on_output)));
  for (std::uint32_t i = 0; i < host->size(); ++i) {
    peer::ForwardOptions forward;
    forward.channel = host->options_.channel;
    forward.partition_key = i;
    host->forward_.push_back(std::move(forward));
  }
  if (auto connected = host->connect(); !connected) {
    host->stop();
    return connected.error();
  }
  for (std::uint32_t i = 0; i < host->size(); ++i) host->arm(host->cores_[i]->next_deadline());
  return host;
}

template <Core C, class O>
Result<void> Host<C, O>::connect() {
  for (std::uint32_t i = 0; i < size(); ++i) {
    std::weak_ptr<Host> weak = this->weak_from_this();
    auto on_message = [weak, i, ex = executor_](const peer::Received& r) {
      // On a worker strand or, placed inline, on the service executor: either
      // way post to the executor, where the cores live (never wait for it).
      asio::post(ex, [weak, i, from = r.from, payload = r.payload] {
        if (auto self = weak.lock()) self->receive(i, from, payload);
      });
    };
    auto registered = service_->register_server(options_.servers[i], std::move(on_message));
    if (!registered) return registered.error();
    registered_.push_back(options_.servers[i]);
  }
  std::weak_ptr<Host> weak = this->weak_from_this();
  watches_.push_back(service_->on_up("", [weak](const std::string& node, const std::string&) {
    if (auto self = weak.lock()) self->peer_event(node, true);
  }, options_.channel));
  watches_.push_back(service_->on_down("", [weak](const std::string& node, const std::string&) {
    if (auto self = weak.lock()) self->peer_event(node, false);
  }, options_.channel));
  // Peers already connected count as coming up now.
  for (const auto& member : service_->member_status()) {
    if (member.self || !member.up) continue;
    const auto it = member.channels_up.find(options_.channel);
    if (it != member.channels_up.end() && it->second) peer_event(member.spec.name, true);
  }
  return {};
}

template <Core C, class O>
void Host<C, O>::drain(std::uint32_t index) {
  Output out = cores_[index]->take();
  for (const auto& send : out.sends) {
    if (!service_->forward_message(send.to, options_.servers[index], payload_of(send.bytes), forward_[index])) {
      ++send_failures_;
    }
  }
  for (auto& error : out.errors) {
    spdlog::error("{}.{}: {}", options_.log_name, index, error.message());
    errors_.push_back(std::move(error));
    if (errors_.size() > options_.recent_errors_max) errors_.pop_front();
  }
  emit(index, out);
  arm(cores_[index]->next_deadline());
}

template <Core C, class O>
void Host<C, O>::emit(std::uint32_t index, Output& out) {
  // A std::function may be empty; a plain function object is always called.
  if constexpr (std::is_constructible_v<bool, const O&>) {
    if (!on_output_) return;
  }
  on_output_(index, out);
}

template <Core C, class O>
void Host<C, O>::arm(TimePoint deadline) {
  if (stopped_ || (armed_at_ && *armed_at_ <= deadline)) return;
  armed_at_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([weak = this->weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec == asio::error::operation_aborted) return;
    self->armed_at_.reset();
    self->tick();
  });
}

template <Core C, class O>
void Host<C, O>::tick() {
  if (stopped_) return;
  const TimePoint t = now();
  for (std::uint32_t i = 0; i < size(); ++i) {
    cores_[i]->on_tick(t);
    drain(i);
  }
}

template <Core C, class O>
void Host<C, O>::receive(std::uint32_t index, const std::string& from, const std::vector<std::uint8_t>& payload) {
  if (stopped_) return;
  cores_[index]->on_message(from, payload, now());
  drain(index);
}

template <Core C, class O>
void Host<C, O>::peer_event(const std::string& node, bool up) {
  if (stopped_) return;
  const TimePoint t = now();
  for (std::uint32_t i = 0; i < size(); ++i) {
    if (up) {
      cores_[i]->on_peer_up(node, t);
    } else {
      cores_[i]->on_peer_down(node, t);
    }
    drain(i);
  }
}

template <Core C, class O>
void Host<C, O>::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  for (const auto& name : registered_) service_->unregister_server(name);
  for (const auto id : watches_) service_->remove_watch(id);
  watches_.clear();
}

}  // namespace plexus::replica
