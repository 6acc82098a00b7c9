// Test helper: the messages a server handler received, safe to read from the
// test thread while worker strands append.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "plexus/peer/peer_service.hpp"

namespace plexus::testing {

struct Inbox {
  std::mutex mutex;
  std::vector<peer::Received> messages;
  void push(const peer::Received& r) {
    std::lock_guard lock(mutex);
    messages.push_back(r);
  }
  std::vector<peer::Received> copy() {
    std::lock_guard lock(mutex);
    return messages;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
};

}  // namespace plexus::testing
