// Runtime: start and stop of the services, and the io loop (runtime.hpp).
#include "plexus/node/runtime.hpp"

#include <spdlog/spdlog.h>

#include "plexus/transport/run_loop.hpp"

namespace plexus::node {

Runtime::Runtime(std::size_t worker_threads, std::chrono::microseconds busy_poll)
    : workers_(std::make_shared<asio::thread_pool>(std::max<std::size_t>(1, worker_threads))), busy_poll_(busy_poll) {}

Runtime::~Runtime() {
  // Newest first: a later service may use an earlier one (presence the peer service).
  while (!services_.empty()) services_.pop_back();
  workers_->join();
}

void Runtime::add(std::unique_ptr<Service> service) { services_.push_back(std::move(service)); }

Result<void> Runtime::start() {
  for (; started_ < services_.size(); ++started_) {
    auto& service = *services_[started_];
    if (auto ok = service.start(*this); !ok) {
      spdlog::debug("runtime: service {} did not start", service.name());
      while (started_ > 0) services_[--started_]->stop([] {});
      return ok.error();
    }
  }
  for (auto& service : services_) service->started(*this);
  return {};
}

void Runtime::stop(std::function<void()> done) {
  // Each service holds the gate until it reports it stopped; the gate's
  // close callback is the one place that knows all of them did.
  for (std::size_t i = started_; i > 0; --i) {
    auto holder = gate_.try_enter();
    if (!holder) return;  // stop() ran before
    auto held = std::make_shared<Gate::Holder>(std::move(*holder));
    services_[i - 1]->stop([held] { held->release(); });
  }
  if (gate_.closed()) return;
  gate_.close([this, done = std::move(done)] {
    spdlog::debug("runtime: every service stopped");
    if (done) done();
  });
}

void Runtime::run() { transport::run_loop(io_, busy_poll_); }

}  // namespace plexus::node
