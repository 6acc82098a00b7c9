// Join targets that are retried until they join (internal to plexus::node):
// the --join targets of plexusd and the admin API's joins by address. Nodes
// start in any order, so a target that does not answer yet is tried again
// after a jittered, exponentially growing delay (Consul's and Serf's
// retry_join), each failure logged once per step. A target joined when:
//  - an address: the node there answered with its spec (join_address);
//  - a spec: join(spec) succeeded and the member is up.
// Runs on the io thread, like the peer service it drives.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "plexus/node/node.hpp"

namespace plexus::node {

/// The delay before retry number `attempt` (1 after the first failure):
/// initial * 2^(attempt-1), capped at max, of which a uniform random part
/// of up to half is taken off ("equal jitter"), so that nodes started
/// together do not retry in step.
peer::Millis join_retry_delay(const JoinRetryOptions& options, std::uint32_t attempt, std::mt19937_64& rng);

class Joiner : public std::enable_shared_from_this<Joiner> {
 public:
  using Done = std::function<void(const Result<void>&)>;
  /// `joined` callbacks kept per target; past it the oldest gets timed_out.
  static constexpr std::size_t joined_waiters_max = 64;

  /// What status shows of a target not joined yet.
  struct Pending {
    std::string target;
    std::uint32_t attempts = 0;
    std::string last_error;
    std::int64_t next_attempt_in_ms = 0;
  };

  Joiner(asio::any_io_executor io, std::weak_ptr<peer::PeerService> service, JoinRetryOptions options);

  /// Try `target` now and again until it joins. `first_outcome` runs after
  /// the first attempt (ok, or its error while retrying goes on); `joined`
  /// once it joined. A target already pending is not tried twice: the
  /// callbacks join the waiting ones (`first_outcome` then runs at once with
  /// the last error).
  void add(const JoinTarget& target, Done first_outcome = {}, Done joined = {});
  [[nodiscard]] std::vector<Pending> pending() const;
  /// Some target joined since start.
  [[nodiscard]] bool joined_any() const noexcept { return joined_any_; }
  /// Stop retrying; waiters get shutting_down.
  void stop();

 private:
  struct Target {
    JoinTarget target;
    std::string text;
    std::uint32_t attempts = 0;
    std::string last_error;
    bool spec_added = false;
    bool warned = false;  // a failure was logged: its success is too
    std::chrono::steady_clock::time_point due{};
    std::unique_ptr<asio::steady_timer> timer;
    std::vector<Done> first_outcome;
    std::vector<Done> joined;
  };
  using TargetPtr = std::shared_ptr<Target>;

  void attempt(const TargetPtr& target);
  void failed(const TargetPtr& target, const std::string& why, bool log);
  void succeeded(const TargetPtr& target);
  void report_first(const TargetPtr& target, const Result<void>& outcome);

  asio::any_io_executor io_;
  std::weak_ptr<peer::PeerService> service_;
  JoinRetryOptions options_;
  std::mt19937_64 rng_;
  std::list<TargetPtr> targets_;
  bool joined_any_ = false;
  bool stopped_ = false;
};

}  // namespace plexus::node
