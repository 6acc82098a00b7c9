#include "plexus/node/sink.hpp"

namespace plexus::node {

Sink::Sink(std::size_t capacity, std::size_t max_bytes) {
  counters_.capacity = capacity;
  counters_.max_bytes = max_bytes;
}

void Sink::push(const peer::Received& message) {
  std::lock_guard lock(mutex_);
  SinkMessage held{++counters_.last_seq, message.from,    message.from_instance,
                   message.channel,      message.cast,    message.payload,
                   std::chrono::system_clock::now()};
  ++counters_.received;
  counters_.received_bytes += held.payload.size();
  ++counters_.lifetime_received;
  counters_.lifetime_bytes += held.payload.size();
  counters_.held_bytes += held.payload.size();
  held_.push_back(std::move(held));
  while (held_.size() > counters_.capacity || (counters_.held_bytes > counters_.max_bytes && held_.size() > 1)) {
    counters_.held_bytes -= held_.front().payload.size();
    held_.pop_front();
    ++counters_.evicted;
  }
  counters_.held = held_.size();
}

std::vector<SinkMessage> Sink::read(std::uint64_t after, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<SinkMessage> out;
  for (const auto& message : held_) {
    if (out.size() >= limit) break;
    if (message.seq > after) out.push_back(message);
  }
  return out;
}

void Sink::clear() {
  std::lock_guard lock(mutex_);
  held_.clear();
  counters_.received = 0;
  counters_.received_bytes = 0;
  counters_.evicted = 0;
  counters_.held = 0;
  counters_.held_bytes = 0;
}

SinkCounters Sink::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace plexus::node
