// Dispatcher: see dispatch.hpp.
#include "plexus/peer/dispatch.hpp"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

#include "plexus/core/errors.hpp"

namespace plexus::peer {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Batch = std::vector<Received>;

// Run `taken` inline, timing each call; the calls left when one was slow.
std::size_t run_timed(HandlerPlacement& placement, const Handler& handler, const Batch& taken) {
  for (std::size_t i = 0; i < taken.size(); ++i) {
    const auto start = SteadyClock::now();
    handler(taken[i]);
    if (!placement.ran_inline(SteadyClock::now() - start)) return i + 1;
  }
  return taken.size();
}

// `placement` (adaptive servers only) is told how long the batch took;
// `posted` counts the batch's messages until its handler calls are done.
void post_to_strand(Dispatcher::Strand& strand, Handler handler, Batch taken,
                    std::shared_ptr<HandlerPlacement> placement, std::shared_ptr<std::atomic<std::size_t>> posted) {
  if (placement) placement->posted();
  posted->fetch_add(taken.size(), std::memory_order_relaxed);
  asio::post(strand, [handler = std::move(handler), taken = std::move(taken), placement = std::move(placement),
                      posted = std::move(posted)] {
    const auto start = placement ? SteadyClock::now() : SteadyClock::time_point{};
    for (const auto& received : taken) handler(received);
    posted->fetch_sub(taken.size(), std::memory_order_relaxed);
    if (!placement) return;
    placement->ran_on_strand(taken.size(), SteadyClock::now() - start);
    placement->strand_done();
  });
}

}  // namespace

Dispatcher::Dispatcher(asio::thread_pool& workers, std::function<void(const char*)> drop)
    : workers_(workers),
      drop_(std::move(drop)),
      message_strand_(std::make_shared<Strand>(asio::make_strand(workers.get_executor()))) {}

Result<void> Dispatcher::add_server(const std::string& name, Handler handler, const ServerOptions& options) {
  if (name.empty()) return make_error(errc::invalid_field, "server name: empty");
  if (!handler) return make_error(errc::invalid_field, "server " + name + ": no handler");
  if (servers_.count(name)) return make_error(errc::invalid_field, "server " + name + ": already registered");
  using Placement = ServerOptions::Placement;
  auto strand = options.placement == Placement::service_executor
                    ? nullptr
                    : std::make_shared<Strand>(asio::make_strand(workers_.get_executor()));
  auto placement = options.placement == Placement::adaptive
                       ? std::make_shared<HandlerPlacement>(PlacementOptions{.budget = options.inline_budget})
                       : nullptr;
  servers_[name] = Server{std::move(handler), std::move(strand), std::move(placement)};
  return {};
}

std::vector<std::string> Dispatcher::server_names() const {
  std::vector<std::string> names;
  for (const auto& [name, server] : servers_) names.push_back(name);
  return names;
}

void Dispatcher::queue(wire::Message& message) {
  // The server is looked up when the run of messages to one server starts;
  // remove_server() ends the run (round() drops what a removal left queued).
  if (!last_ || last_server_ != message.server) {
    if (!message.server.empty() && !servers_.count(message.server)) return drop_("unknown_server");
    last_ = &queue_[message.server];
    last_server_ = message.server;
  }
  ++queued_;
  last_->push_back(Received{std::move(message.origin), message.origin_instance, std::move(message.channel),
                            message.cast, std::move(message.payload)});
}

bool Dispatcher::flush() {
  if (flushing_) return false;  // an inline handler re-entered: the loop below picks up what it queued
  flushing_ = true;
  bool pending = true;
  for (int pass = 0; pass < 8 && pending; ++pass) pending = round();
  flushing_ = false;
  return pending;
}

bool Dispatcher::round() {
  bool ran_inline = false;
  for (auto& [name, batch] : queue_) {  // handlers may add entries, never erase them
    if (batch.empty()) continue;
    Handler handler;
    std::shared_ptr<Strand> strand;
    std::shared_ptr<HandlerPlacement> placement;
    bool known = false;
    if (name.empty()) {
      handler = message_handler_;
      strand = message_strand_;
      known = static_cast<bool>(handler);
    } else if (auto it = servers_.find(name); it != servers_.end()) {
      handler = it->second.handler;
      strand = it->second.strand;
      placement = it->second.placement;
      known = true;
    }
    queued_ -= batch.size();
    if (!known) {  // one drop per message, as queue() counts them
      for (std::size_t i = 0; i < batch.size(); ++i) drop_(name.empty() ? "no_message_handler" : "unknown_server");
      batch.clear();
      continue;
    }
    auto taken = std::move(batch);
    batch = {};
    if (!strand) {
      for (const auto& received : taken) handler(received);
      ran_inline = true;
      continue;
    }
    if (placement && placement->run_inline(taken.size())) {
      ran_inline = true;
      const std::size_t ran = run_timed(*placement, handler, taken);
      if (ran == taken.size()) continue;
      spdlog::debug("server {}: a call took over its inline budget; its calls go to the worker pool", name);
      taken.erase(taken.begin(), taken.begin() + std::ptrdiff_t(ran));
    }
    post_to_strand(*strand, std::move(handler), std::move(taken), std::move(placement), posted_);
  }
  return ran_inline;
}

}  // namespace plexus::peer
