#include "plexus/transport/poll_window.hpp"

#include <algorithm>

namespace plexus::transport {

using std::chrono::microseconds;

PollWindow::PollWindow(PollWindowOptions options) : options_(options) {
  options_.start = std::clamp(options_.start, microseconds(1), std::max(options_.max, microseconds(1)));
}

microseconds PollWindow::window(Clock::time_point now) const {
  if (now < closed_until_) return microseconds(0);
  return current_;
}

void PollWindow::woke(std::chrono::nanoseconds gap) {
  if (options_.max.count() <= 0) return;
  if (gap > options_.max) {  // polling would not have caught it: shrink
    current_ = current_ / 2 < options_.start ? microseconds(0) : current_ / 2;
  } else if (gap > current_) {  // a longer window would have caught it: grow
    current_ = current_.count() == 0 ? options_.start : std::min(options_.max, current_ * 2);
  }
}

void PollWindow::contended(Clock::time_point now) {
  current_ = microseconds(0);
  closed_until_ = now + options_.contention_backoff;
}

}  // namespace plexus::transport
