#include "presence_node.hpp"

#include <CLI/CLI.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "node_events.hpp"
#include "peer_protocol.hpp"
#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/presence/presence.hpp"
#include "plexus/secure/cluster_key.hpp"
#include "plexus/transport/run_loop.hpp"
#include "presence_protocol.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;
using peer::PeerService;

// CPU time of the calling thread (the io thread): on a loaded machine, work
// per CPU second says what the code costs, whatever the scheduler gave us.
std::int64_t thread_cpu_ns() noexcept {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

struct Await {
  std::string id, kind;
  std::size_t members = 0;
  PresenceDigest digest;
};

// A run of tracks or untracks, done in bursts so timers and messages run in between.
struct Run {
  bool track = true;
  std::string topic, prefix;
  std::uint64_t topics = 1, next = 0, end = 0, count = 0, errors = 0;
  std::int64_t first_ns = 0, last_ns = 0, cpu_start_ns = 0;
};

constexpr std::uint64_t burst = 1024;

class Node {
 public:
  Node(asio::io_context& io, std::shared_ptr<PeerService> service, std::shared_ptr<presence::Tracker>* tracker)
      : io_(io), service_(std::move(service)), tracker_(tracker), poll_(io) {}

  void start(const std::string& channel) {
    owner_ = (*tracker_)->open_owner();
    // When peers come up on the tracker's channel: splits the heal time into
    // the peer service's reconnection and the tracker's exchange.
    service_->on_up("", [](const std::string& node, const std::string&) {
      emit({{"event", "peer_up"}, {"node", node}});
    }, channel);
  }

  // handle_diff: keep the digest of what this node lists.
  void on_diff(const presence::Diff& diff) {
    for (const auto& [topic, change] : diff) {
      for (const auto& p : change.joins) digest_.add(presence_hash(p.owner.node, topic, p.key));
      for (const auto& p : change.leaves) digest_.remove(presence_hash(p.owner.node, topic, p.key));
    }
    check("diff");
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    try {
      if (verb == "join") return join(line.substr(std::min(line.size(), verb.size() + 1)));
      if (verb == "await") return await(in);
      if (verb == "track" || verb == "untrack") return start_run(verb == "track", in);
      if (verb == "list") return list(in);
      if (verb == "partition") return partition(in);
      if (verb == "heal") return heal();
      if (verb == "metrics") return metrics();
      emit_error(verb, "unknown command");
    } catch (const std::exception& e) {
      emit_error(verb, e.what());
    }
  }

 private:
  presence::Tracker& tracker() { return **tracker_; }

  void join(const std::string& text) { join_from_text(*service_, text); }

  void await(std::istringstream& in) {
    Await a;
    in >> a.id >> a.kind;
    if (a.kind == "converged") in >> a.members;
    else in >> a.digest.count >> a.digest.sum;
    if (!in || (a.kind != "converged" && a.kind != "digest")) {
      return emit_error("await", "expected: await ID converged N | digest COUNT SUM");
    }
    emit({{"event", "armed"}, {"id", a.id}});
    awaits_.push_back(std::move(a));
    check("armed");
    if (!awaits_.empty()) arm_poll();
  }

  bool holds(const Await& a) const {
    if (a.kind == "digest") return digest_ == a.digest;
    const auto status = service_->member_status();
    if (status.size() != a.members) return false;
    for (const auto& m : status) {
      if (!m.up) return false;
      for (const auto& [channel, up] : m.channels_up) if (!up) return false;
    }
    return true;
  }

  void check(const char* via) {
    if (awaits_.empty()) return;
    const auto t = monotonic_ns();
    for (auto it = awaits_.begin(); it != awaits_.end();) {
      if (holds(*it)) {
        emit({{"event", "await"}, {"id", it->id}, {"via", via}, {"t_ns", t}});
        it = awaits_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Membership has no event here: converged awaits are polled (every 5 ms).
  void arm_poll() {
    if (polling_) return;
    polling_ = true;
    poll_.expires_after(std::chrono::milliseconds(5));
    poll_.async_wait([this](std::error_code ec) {
      polling_ = false;
      if (ec) return;
      check("poll");
      if (!awaits_.empty()) arm_poll();
    });
  }

  void start_run(bool track, std::istringstream& in) {
    Run r;
    r.track = track;
    std::uint64_t from = 0, count = 0;
    in >> r.topic >> r.topics >> r.prefix >> from >> count;
    if (!in || r.prefix.size() != 1 || r.topics == 0) {
      return emit_error(track ? "track" : "untrack", "expected: TOPIC TOPICS PREFIX FROM COUNT");
    }
    r.next = from;
    r.end = from + count;
    run_ = r;
    step();
  }

  void step() {
    static const nlohmann::json meta = {{"status", "online"}};
    Run& r = run_;
    const std::uint64_t stop = std::min(r.end, r.next + burst);
    for (; r.next < stop; ++r.next) {
      const auto key = presence_key(r.prefix[0], r.next);
      const auto topic = presence_topic(r.topic, r.next, r.topics);
      if (r.first_ns == 0) {
        r.first_ns = monotonic_ns();
        r.cpu_start_ns = thread_cpu_ns();
      }
      const bool ok = r.track ? tracker().track(owner_, topic, key, meta).ok() : tracker().untrack(owner_, topic, key).ok();
      r.errors += ok ? 0 : 1;
      ++r.count;
    }
    if (r.next < r.end) {
      asio::post(io_, [this] { step(); });
      return;
    }
    r.last_ns = monotonic_ns();
    // The io thread's CPU over the run: the calls, and the deltas sent between bursts.
    emit({{"event", r.track ? "track" : "untrack"}, {"count", r.count}, {"errors", r.errors},
          {"first_ns", r.first_ns}, {"last_ns", r.last_ns}, {"io_cpu_ns", thread_cpu_ns() - r.cpu_start_ns}});
  }

  void list(std::istringstream& in) {
    std::string topic;
    std::size_t repeat = 0;
    in >> topic >> repeat;
    if (!in || repeat == 0) return emit_error("list", "expected: list TOPIC REPEAT");
    std::vector<std::int64_t> times;
    std::size_t count = 0;
    for (std::size_t i = 0; i < repeat; ++i) {
      const auto t0 = monotonic_ns();
      const auto presences = tracker().list(topic);
      times.push_back(monotonic_ns() - t0);
      count = presences.size();
    }
    std::sort(times.begin(), times.end());
    // for_each: the same walk without building the vector (keys and metas not copied).
    std::vector<std::int64_t> visits;
    std::size_t visited = 0;
    for (std::size_t i = 0; i < repeat; ++i) {
      visited = 0;
      const auto t0 = monotonic_ns();
      tracker().for_each(topic, [&visited](std::string_view, const presence::MetaPtr&, presence::Ref) { ++visited; });
      visits.push_back(monotonic_ns() - t0);
    }
    std::sort(visits.begin(), visits.end());
    emit({{"event", "list"}, {"count", count}, {"median_ns", times[times.size() / 2]}, {"min_ns", times.front()},
          {"for_each_median_ns", visits[visits.size() / 2]}, {"for_each_min_ns", visits.front()},
          {"for_each_count", visited}});
  }

  void partition(std::istringstream& in) {
    std::string node;
    in >> node;
    refs_.push_back(service_->inject_partition(node, std::nullopt, peer::Direction::both));
    emit({{"event", "partition"}, {"node", node}});
  }

  void heal() {
    const auto t = monotonic_ns();
    for (const auto ref : refs_) (void)service_->resolve_partition(ref);
    refs_.clear();
    emit({{"event", "heal"}, {"t_ns", t}});
  }

  void metrics() {
    const auto m = tracker().metrics();
    emit({{"event", "metrics"}, {"presences", m.presences}, {"local_presences", m.local_presences},
          {"deltas_sent", m.deltas_sent}, {"deltas_merged", m.deltas_merged}, {"gaps", m.gaps},
          {"transfer_requests_sent", m.transfer_requests_sent}, {"transfers_sent_delta", m.transfers_sent_delta},
          {"transfers_sent_full", m.transfers_sent_full}, {"heartbeats_sent", m.heartbeats_sent},
          {"send_failures", m.send_failures}, {"digest_count", digest_.count}});
  }

  asio::io_context& io_;
  std::shared_ptr<PeerService> service_;
  std::shared_ptr<presence::Tracker>* tracker_;
  presence::Owner owner_;
  PresenceDigest digest_;
  std::vector<Await> awaits_;
  bool polling_ = false;
  asio::steady_timer poll_;
  Run run_;
  std::vector<std::uint64_t> refs_;
};

}  // namespace

int run_presence_node(int argc, char** argv) {
  std::string name, log_level = "warn";
  std::vector<std::string> channels;
  bool insecure = false;
  int cpu = -1;
  pid_t parent = 0;
  presence::Options options;  // the defaults Plexus ships, unless a run asks otherwise
  int broadcast_ms = int(options.broadcast_period.count());
  CLI::App app{"bench_presence node (started by bench_presence itself)"};
  app.add_option("--name", name)->required();
  app.add_option("--channel", channels, "ignored: the tracker's channel is added");
  app.add_flag("--insecure", insecure);
  app.add_option("--cpu", cpu);
  app.add_option("--parent", parent, "exit if this is not our parent");
  app.add_option("--log-level", log_level);
  app.add_option("--pool-size", options.pool_size);
  app.add_option("--broadcast-period-ms", broadcast_ms);
  CLI11_PARSE(app, argc, argv);
  options.broadcast_period = presence::Millis(broadcast_ms);

  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (parent != 0 && ::getppid() != parent) return 3;
  spdlog::set_default_logger(spdlog::stderr_color_mt(name));
  spdlog::set_level(spdlog::level::from_str(log_level));
  const char* key_hex = std::getenv(key_environment_variable);
  auto key = secure::cluster_key_from_hex(key_hex ? key_hex : "");
  if (!key) {
    emit_error("start", std::string(key_environment_variable) + ": " + key.error().message());
    return 2;
  }
  peer::Config config;
  config.name = name;
  config.key = *key;
  config.insecure = insecure;
  config.channels[options.channel] = ChannelSpec{std::min(options.pool_size, channel_parallelism_max), false};
  asio::io_context io(1);
  auto started = PeerService::start(io.get_executor(), config);
  pthread_setname_np(pthread_self(), "node-io");
  if (!started) {
    emit_error("start", started.error().message());
    return 2;
  }
  std::shared_ptr<presence::Tracker> tracker;
  Node node(io, *started, &tracker);
  auto tracking = presence::Tracker::start(io.get_executor(), *started, options,
                                           [&node](const presence::Diff& diff) { node.on_diff(diff); });
  if (!tracking) {
    emit_error("start", tracking.error().message());
    return 2;
  }
  tracker = *tracking;
  node.start(options.channel);
  emit({{"event", "ready"}, {"spec", to_json((*started)->spec())}, {"pid", ::getpid()}});
  std::thread input([&io, &node] {
    for (std::string line; std::getline(std::cin, line);) {
      asio::post(io, [&node, line] { node.command(line); });
    }
    std::fflush(stdout);
    std::_Exit(0);
  });
  pthread_setname_np(input.native_handle(), "node-stdin");
  input.detach();
  auto guard = asio::make_work_guard(io);
  transport::run_loop(io);  // as plexusd runs its service thread (adaptive polling)
  return 0;
}

}  // namespace plexus::bench
