#include "plexus/transport/run_loop.hpp"

namespace plexus::transport {

std::size_t run_loop(asio::io_context& io, std::chrono::microseconds busy_poll) {
  if (busy_poll.count() <= 0) return io.run();
  using Clock = std::chrono::steady_clock;
  std::size_t handled = 0;
  auto last_work = Clock::now();
  while (!io.stopped()) {  // out of work, poll() and run_one() stop the context
    if (const std::size_t n = io.poll(); n > 0) {
      handled += n;
      last_work = Clock::now();
      continue;
    }
    if (Clock::now() - last_work < busy_poll) continue;
    handled += io.run_one();  // quiet for the whole window: block
    last_work = Clock::now();
  }
  return handled;
}

}  // namespace plexus::transport
