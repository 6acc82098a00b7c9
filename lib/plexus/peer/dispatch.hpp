// Dispatch of received messages to the servers registered on this node (and
// to the message handler of send_message): batched per server, run inline on
// the service executor or posted to the server's strand on the worker pool
// (ServerOptions::Placement). Internal to the peer service shell; it owns the
// server table, the handler strands and the queue, and nothing else.
#pragma once

#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plexus/core/result.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/peer/placement.hpp"
#include "plexus/wire/message.hpp"

namespace plexus::peer {

class Dispatcher {
 public:
  using Strand = asio::strand<asio::thread_pool::executor_type>;
  /// `workers`: the pool the strands run on (it must outlive this);
  /// `drop`: counts a message that found no handler, by reason.
  Dispatcher(asio::thread_pool& workers, std::function<void(const char*)> drop);

  Result<void> add_server(const std::string& name, Handler handler, const ServerOptions& options);
  void remove_server(const std::string& name) {
    servers_.erase(name);
    last_ = nullptr;  // queue() looks the next server up again
  }
  [[nodiscard]] bool serves(std::string_view name) const { return servers_.count(name) != 0; }
  [[nodiscard]] std::vector<std::string> server_names() const;
  void set_message_handler(Handler handler) { message_handler_ = std::move(handler); }

  /// Queue `message` for its server (taken apart: a Message is big, and this
  /// runs for every one received). An unknown server drops it.
  void queue(wire::Message& message);
  /// Hand each server its batch: one post per server per call, not per
  /// message. True when inline handlers kept queueing (call again after other
  /// work). A call from inside a handler returns at once: the running one
  /// picks up what it queued.
  bool flush();
  /// Messages queued and not yet handed on, plus those posted to a strand
  /// whose handler has not run yet (Config::dispatch_queue_max bounds it).
  [[nodiscard]] std::size_t backlog() const noexcept {
    return queued_ + posted_->load(std::memory_order_relaxed);
  }

 private:
  struct Server {
    Handler handler;
    std::shared_ptr<Strand> strand;  ///< null: inline on the service executor
    std::shared_ptr<HandlerPlacement> placement;  ///< Placement::adaptive only
  };
  /// One pass over the queue; true when an inline handler ran (it may have queued more).
  bool round();

  asio::thread_pool& workers_;
  std::function<void(const char*)> drop_;
  std::map<std::string, Server, std::less<>> servers_;
  Handler message_handler_;
  std::shared_ptr<Strand> message_strand_;
  std::map<std::string, std::vector<Received>, std::less<>> queue_;
  // The entry of queue_ used last (entries are never erased): a run of
  // messages to one server skips the map lookup.
  std::vector<Received>* last_ = nullptr;
  std::string last_server_;
  std::size_t queued_ = 0;  ///< in queue_ (service executor only)
  /// Posted to strands, not yet run: counted per batch, shared with the
  /// posted work, which may outlive this.
  std::shared_ptr<std::atomic<std::size_t>> posted_ = std::make_shared<std::atomic<std::size_t>>(0);
  bool flushing_ = false;
};

}  // namespace plexus::peer
