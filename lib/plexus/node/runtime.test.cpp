// node::Runtime: services start in order and stop newest first, stop()
// completes only when the last service reported it stopped (through the
// gate, no polling), and a service that fails to start stops the earlier ones.
#include <doctest/doctest.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "plexus/core/errors.hpp"
#include "plexus/node/runtime.hpp"

using namespace plexus;
using namespace plexus::node;

namespace {

/// A service that records its calls in `log`; its stop completes after `stop_delay` on the io thread.
class Recorder : public Service {
 public:
  Recorder(std::string name, std::vector<std::string>& log, std::chrono::milliseconds stop_delay = {},
           bool fail = false)
      : name_(std::move(name)), log_(log), stop_delay_(stop_delay), fail_(fail) {}
  std::string_view name() const override { return name_; }
  Result<void> start(Runtime& runtime) override {
    log_.push_back("start " + name_);
    runtime_ = &runtime;
    if (fail_) return make_error(errc::invalid_field, name_ + ": cannot start");
    return {};
  }
  void started(Runtime&) override { log_.push_back("started " + name_); }
  void stop(std::function<void()> done) override {
    log_.push_back("stop " + name_);
    if (stop_delay_.count() == 0) {
      log_.push_back("stopped " + name_);
      return done();
    }
    timer_ = std::make_unique<asio::steady_timer>(runtime_->io(), stop_delay_);
    timer_->async_wait([this, done = std::move(done)](std::error_code) {
      log_.push_back("stopped " + name_);
      done();
    });
  }

 private:
  std::string name_;
  std::vector<std::string>& log_;
  std::chrono::milliseconds stop_delay_;
  bool fail_;
  Runtime* runtime_ = nullptr;
  std::unique_ptr<asio::steady_timer> timer_;
};

}  // namespace

TEST_CASE("services start in order, learn that all started, and stop newest first; done waits for the slowest") {
  // Proves the start/stop order and that stop's completion comes after every asynchronous stop.
  std::vector<std::string> log;
  Runtime runtime(1, std::chrono::microseconds(0));
  runtime.add(std::make_unique<Recorder>("a", log, std::chrono::milliseconds(30)));
  runtime.add(std::make_unique<Recorder>("b", log));
  REQUIRE(runtime.start().ok());
  CHECK(log == std::vector<std::string>{"start a", "start b", "started a", "started b"});
  CHECK(runtime.find<Recorder>() != nullptr);
  log.clear();
  bool done = false;
  asio::post(runtime.io(), [&] {
    runtime.stop([&] {
      log.push_back("done");
      done = true;
      runtime.io().stop();
    });
  });
  // Bounded: the loop ends when done stops it; the guard timer ends it anyway after 5 s.
  asio::steady_timer guard(runtime.io(), std::chrono::seconds(5));
  guard.async_wait([&](std::error_code ec) {
    if (!ec) runtime.io().stop();
  });
  runtime.run();
  CHECK(done);
  CHECK(log == std::vector<std::string>{"stop b", "stopped b", "stop a", "stopped a", "done"});
  CHECK(runtime.gate().closed());
  CHECK(runtime.gate().inside() == 0);
}

TEST_CASE("a service that cannot start stops those started before it and its error is returned") {
  // Proves a failed start leaves nothing running: the earlier services are stopped, the later never started.
  std::vector<std::string> log;
  Runtime runtime(1, std::chrono::microseconds(0));
  runtime.add(std::make_unique<Recorder>("a", log));
  runtime.add(std::make_unique<Recorder>("b", log, std::chrono::milliseconds(0), true));
  runtime.add(std::make_unique<Recorder>("c", log));
  const auto started = runtime.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().detail == "b: cannot start");
  CHECK(log == std::vector<std::string>{"start a", "start b", "stop a", "stopped a"});
}

TEST_CASE("the runtime's worker pool is the one every service shares") {
  // Proves work posted to the pool runs (on a thread of its own) and the pool is joined by the runtime.
  std::atomic<int> ran{0};
  {
    Runtime runtime(2, std::chrono::microseconds(0));
    REQUIRE(runtime.workers() != nullptr);
    for (int i = 0; i < 8; ++i) asio::post(*runtime.workers(), [&] { ++ran; });
  }  // the destructor joins the pool: every posted task ran
  CHECK(ran == 8);
}
