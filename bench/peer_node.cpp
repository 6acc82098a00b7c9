#include "peer_node.hpp"

#include <CLI/CLI.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cpu_usage.hpp"
#include "node_events.hpp"
#include "peer_protocol.hpp"
#include "plexus/core/errors.hpp"
#include "plexus/peer/peer_service.hpp"
#include "plexus/transport/run_loop.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::bench {
namespace {

using nlohmann::json;
using peer::PeerService;
using namespace std::chrono_literals;

std::uint64_t read_sequence(const std::vector<std::uint8_t>& payload) {
  std::uint64_t sequence = 0;
  if (payload.size() >= 8) std::memcpy(&sequence, payload.data(), 8);
  return sequence;
}

// A ping payload carries its timeline after the sequence number (all
// CLOCK_MONOTONIC ns): sent by the pinger's io thread, seen by the echo
// handler (a worker), forwarded back by the echo node's io thread.
enum Stamp : std::size_t { ping_sent = 1, echo_handler = 2, echo_forward = 3, stamps = 4 };

void put_stamp(std::vector<std::uint8_t>& payload, Stamp which, std::int64_t t) {
  if (payload.size() >= 8 * (which + 1)) std::memcpy(payload.data() + 8 * which, &t, 8);
}

std::int64_t get_stamp(const std::vector<std::uint8_t>& payload, Stamp which) {
  std::int64_t t = 0;
  if (payload.size() >= 8 * (which + 1)) std::memcpy(&t, payload.data() + 8 * which, 8);
  return t;
}

// What the "sink" server saw. Written only on its strand, read on the io thread.
struct Sink {
  std::atomic<std::uint64_t> messages{0}, bytes{0}, broken{0};
  std::uint64_t expected = 0;  // next sequence of the current stream
};

struct Await {
  std::string id, kind, argument;
  std::size_t count = 0;
};

// A sender that keeps forward_message busy; backs off on refusal.
struct Blast {
  bool running = false;
  std::string node;
  peer::ForwardOptions options;
  std::vector<std::uint8_t> payload;
  std::int64_t started_ns = 0, deadline_ns = 0;
  std::uint64_t max_messages = 0, sent = 0, refused = 0, bytes = 0;
  std::map<std::string, std::uint64_t> refusals;  // by error code name
};

struct Ping {
  bool running = false;
  std::string node;
  std::string server = "echo";  ///< "echo_inline", "echo_worker": other placements
  peer::ForwardOptions options;
  std::vector<std::uint8_t> payload;
  std::uint64_t count = 0, warmup = 0, done = 0, sequence = 0, errors = 0, mismatched = 0;
  std::int64_t started_ns = 0, sent_ns = 0, deadline_ns = 0;
  std::vector<std::int64_t> rtt_ns;
  /// Per round trip: to the echo handler, its hop back to the io thread, back to our handler.
  std::array<std::vector<std::int64_t>, 3> legs_ns;
};

// Blast bursts are bounded so commands, reads and ticks run in between: a
// burst is one 64 KiB message, or up to 64 KiB of smaller ones, as an
// application sending what it produces each turn would. (Bursts of 256 KiB
// held a reply up to 50 µs behind the stream's own encoding.)
constexpr std::size_t burst_messages_max = 4096;
constexpr std::size_t burst_bytes_max = 64 * 1024;
constexpr auto refused_backoff = 200us;
constexpr auto await_poll_interval = 200ms;

class Node {
 public:
  Node(asio::io_context& io, std::shared_ptr<PeerService> service)
      : io_(io), service_(std::move(service)), blast_timer_(io), ping_timer_(io), poll_timer_(io) {
    register_servers();
    // Every transition fires once: the sets below follow the cluster as this node sees it.
    service_->on_up("", [this](const std::string& node, const std::string&) {
      up_nodes_.insert(node);
      schedule_check();
    });
    service_->on_down("", [this](const std::string& node, const std::string&) {
      up_nodes_.erase(node);
      schedule_check();
    });
    for (const auto& [channel, spec] : service_->spec().channels) {
      service_->on_up("", [this](const std::string& node, const std::string& c) {
        up_channels_.insert({node, c});
        schedule_check();
      }, channel);
      service_->on_down("", [this](const std::string& node, const std::string& c) {
        up_channels_.erase({node, c});
        schedule_check();
      }, channel);
    }
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    try {
      dispatch(verb, in, line);
    } catch (const std::exception& e) {
      emit_error(verb, e.what());
    }
  }

 private:
  void dispatch(const std::string& verb, std::istringstream& in, const std::string& line) {
    if (verb == "join") return join(line.substr(std::min(line.size(), verb.size() + 1)));
    if (verb == "await") return await(in);
    if (verb == "leave") {
      const auto t = monotonic_ns();
      service_->leave();
      return emit({{"event", "leave"}, {"t_ns", t}});
    }
    if (verb == "count") return count();
    if (verb == "blast") return start_blast(in);
    if (verb == "stop_blast") {
      if (blast_.running) finish_blast("stopped");
      return emit({{"event", "stop_blast"}});
    }
    if (verb == "ping") return start_ping(in);
    if (verb == "metrics") return metrics();
    emit_error(verb, "unknown command");
  }

  void register_servers() {
    auto sink = sink_;
    (void)service_->register_server("sink", [sink](const peer::Received& r) {
      const auto sequence = read_sequence(r.payload);
      // A stream starts at 1; each blast starts a new one.
      if (sequence != 1 && sequence != sink->expected) sink->broken.store(sink->broken.load() + 1);
      sink->expected = sequence + 1;
      sink->messages.store(sink->messages.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      sink->bytes.store(sink->bytes.load(std::memory_order_relaxed) + r.payload.size(), std::memory_order_relaxed);
    });
    using Placement = peer::ServerOptions::Placement;
    register_ping_pair("", {}, true);  // the default placement (adaptive)
    register_ping_pair("_worker", {.placement = Placement::worker}, true);
    register_ping_pair("_inline", {.placement = Placement::service_executor}, false);
  }

  // Servers "echo" + suffix and "pong" + suffix. The echo answers on the
  // channel it was asked on. `posting`: the handlers may run on a worker, so
  // they hop to the io thread to call the service (and the stamps show that hop).
  void register_ping_pair(const std::string& suffix, peer::ServerOptions options, bool posting) {
    const std::string pong = "pong" + suffix;
    (void)service_->register_server("echo" + suffix, [this, posting, pong](const peer::Received& r) {
      auto payload = r.payload;
      put_stamp(payload, echo_handler, monotonic_ns());
      auto answer = [this, pong, from = r.from, channel = r.channel, payload = std::move(payload)]() mutable {
        peer::ForwardOptions options;
        options.channel = channel;
        put_stamp(payload, echo_forward, monotonic_ns());
        if (!service_->forward_message(from, pong, payload, options)) ++echo_errors_;
      };
      if (posting) asio::post(io_, std::move(answer));
      else answer();
    }, options);
    (void)service_->register_server(pong, [this, posting](const peer::Received& r) {
      const auto t = monotonic_ns();  // the reply reached the application
      if (posting) asio::post(io_, [this, t, payload = r.payload] { on_pong(t, payload); });
      else on_pong(t, r.payload);
    }, options);
  }

  void join(const std::string& text) { join_from_text(*service_, text); }

  // ---- awaits ----

  void await(std::istringstream& in) {
    Await a;
    in >> a.id >> a.kind;
    if (a.kind == "converged") in >> a.count;
    else in >> a.argument;
    if (!in || (a.kind != "converged" && a.kind != "down" && a.kind != "gone")) {
      return emit_error("await", "expected: await ID converged N | down NAME | gone NAME");
    }
    emit({{"event", "armed"}, {"id", a.id}});
    awaits_.push_back(std::move(a));
    check_awaits("armed");
    if (!awaits_.empty() && !polling_) arm_poll();
  }

  // From the up/down events (cheap: checked after every event), or from
  // member_status(), which copies every spec (the poll's cross-check).
  bool holds(const Await& a, bool from_events) const {
    const auto names = service_->members();
    if (a.kind == "gone") return std::find(names.begin(), names.end(), a.argument) == names.end();
    if (from_events) {
      if (a.kind == "down") return up_nodes_.count(a.argument) == 0;
      if (names.size() != a.count || up_nodes_.size() + 1 != a.count ||
          up_channels_.size() != (a.count - 1) * service_->spec().channels.size()) {
        return false;
      }
      for (const auto& name : names) {
        if (name != service_->spec().name && !up_nodes_.count(name)) return false;
      }
      return true;
    }
    const auto status = service_->member_status();
    if (a.kind == "down") {
      for (const auto& m : status) if (m.spec.name == a.argument) return !m.up;
      return true;
    }
    if (status.size() != a.count) return false;
    for (const auto& m : status) {
      if (!m.up) return false;
      for (const auto& [channel, up] : m.channels_up) if (!up) return false;
    }
    return true;
  }

  // Up/down events end every await but `gone`, whose removal also fires a
  // down; the check runs after the event's handler has finished its work.
  void schedule_check() {
    if (check_posted_ || awaits_.empty()) return;
    check_posted_ = true;
    asio::post(io_, [this] {
      check_posted_ = false;
      check_awaits("event");
    });
  }

  void check_awaits(const char* via) {
    const auto t = monotonic_ns();
    for (auto it = awaits_.begin(); it != awaits_.end();) {
      if (holds(*it, std::strcmp(via, "poll") != 0)) {
        json event = {{"event", "await"}, {"id", it->id}, {"via", via}, {"t_ns", t}};
        if (std::strcmp(via, "poll") == 0) event["events_pending"] = events_pending();
        emit(std::move(event));
        it = awaits_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // What member_status() shows up that no up event announced yet (a poll found
  // the await): watchers run from the executor's queue, so under load the poll
  // can see a transition before its event is delivered.
  json events_pending() const {
    json missed = json::array();
    for (const auto& m : service_->member_status()) {
      if (m.self) continue;
      if (m.up && !up_nodes_.count(m.spec.name)) missed.push_back(m.spec.name);
      for (const auto& [channel, up] : m.channels_up) {
        if (up && !up_channels_.count({m.spec.name, channel})) missed.push_back(m.spec.name + "/" + channel);
      }
    }
    return missed;
  }

  // A safety net only: an await found by the poll is late by up to the interval (reported as via "poll").
  void arm_poll() {
    polling_ = true;
    poll_timer_.expires_after(await_poll_interval);
    poll_timer_.async_wait([this](std::error_code ec) {
      polling_ = false;
      if (ec) return;
      check_awaits("poll");
      if (!awaits_.empty()) arm_poll();
    });
  }

  // ---- traffic ----

  void count() {
    emit({{"event", "count"}, {"messages", sink_->messages.load()}, {"bytes", sink_->bytes.load()},
          {"broken", sink_->broken.load()}, {"echo_errors", echo_errors_},
          {"io_cpu_s", thread_cpu_seconds()}, {"cpu_s", process_cpu_seconds()}});
  }

  void metrics() {
    const auto m = service_->metrics();
    std::uint64_t sent = 0, received = 0;
    for (const auto& [key, n] : m.messages_sent) sent += n;
    for (const auto& [key, n] : m.messages_received) received += n;
    emit({{"event", "metrics"}, {"drops", m.drops}, {"messages_sent", sent}, {"messages_received", received},
          {"retransmits", m.retransmits}, {"members", m.members}, {"outbox_bytes", m.outbox_bytes}});
  }

  void start_blast(std::istringstream& in) {
    if (blast_.running) return emit_error("blast", "already running");
    Blast b;
    std::size_t bytes = 0;
    double seconds = 0;
    in >> b.node >> b.options.channel >> bytes >> seconds >> b.max_messages;
    if (!in || bytes < 8 || seconds <= 0) return emit_error("blast", "expected: blast NODE CHANNEL BYTES SECONDS MAX");
    b.payload.assign(bytes, 0x5a);
    b.running = true;
    b.started_ns = monotonic_ns();
    b.deadline_ns = b.started_ns + static_cast<std::int64_t>(seconds * 1e9);
    blast_ = std::move(b);
    emit({{"event", "blast"}});
    blast_step();
  }

  void blast_step() {
    if (!blast_.running) return;
    if (monotonic_ns() >= blast_.deadline_ns) return finish_blast("deadline");
    std::size_t burst_bytes = 0;
    for (std::size_t i = 0; i < burst_messages_max && burst_bytes < burst_bytes_max; ++i) {
      if (blast_.sent >= blast_.max_messages) return finish_blast("max_messages");
      const std::uint64_t sequence = blast_.sent + 1;  // the sink takes 1 as the start of a stream
      std::memcpy(blast_.payload.data(), &sequence, 8);
      auto sent = service_->forward_message(blast_.node, "sink", blast_.payload, blast_.options);
      if (!sent) {
        // The outbox is full (forward reports it as not_connected): wait for the writer.
        ++blast_.refused;
        ++blast_.refusals[std::string(errc_name(static_cast<errc>(sent.error().code.value())))];
        blast_timer_.expires_after(refused_backoff);
        blast_timer_.async_wait([this](std::error_code ec) { if (!ec) blast_step(); });
        return;
      }
      ++blast_.sent;
      blast_.bytes += blast_.payload.size();
      burst_bytes += blast_.payload.size();
    }
    asio::post(io_, [this] { blast_step(); });
  }

  void finish_blast(const char* why) {
    blast_.running = false;
    blast_timer_.cancel();
    emit({{"event", "blast_done"}, {"why", why}, {"sent", blast_.sent}, {"bytes", blast_.bytes},
          {"refused", blast_.refused}, {"refusals", blast_.refusals},
          {"seconds", double(monotonic_ns() - blast_.started_ns) * 1e-9}});
  }

  void start_ping(std::istringstream& in) {
    if (ping_.running) return emit_error("ping", "already running");
    Ping p;
    std::size_t bytes = 0;
    double seconds = 0;
    in >> p.node >> p.options.channel >> bytes >> p.count >> p.warmup >> seconds;
    if (!in || bytes < 8 * stamps || p.count == 0) {
      return emit_error("ping", "expected: ping NODE CHANNEL BYTES COUNT WARMUP SECONDS [inline|worker]");
    }
    std::string mode;
    in >> mode;
    if (!mode.empty() && mode != "inline" && mode != "worker") return emit_error("ping", "mode: inline or worker");
    p.server = mode.empty() ? "echo" : "echo_" + mode;
    p.payload.assign(bytes, 0x33);
    p.rtt_ns.reserve(p.count);
    p.running = true;
    p.started_ns = monotonic_ns();
    p.deadline_ns = p.started_ns + static_cast<std::int64_t>(seconds * 1e9);
    ping_ = std::move(p);
    emit({{"event", "ping"}});
    ping_send();
  }

  void ping_send() {
    if (!ping_.running) return;
    if (ping_.done >= ping_.warmup + ping_.count || monotonic_ns() >= ping_.deadline_ns) return finish_ping();
    ++ping_.sequence;
    std::memcpy(ping_.payload.data(), &ping_.sequence, 8);
    ping_.sent_ns = monotonic_ns();
    put_stamp(ping_.payload, ping_sent, ping_.sent_ns);
    if (!service_->forward_message(ping_.node, ping_.server, ping_.payload, ping_.options)) {
      ++ping_.errors;
      ping_timer_.expires_after(100us);
      ping_timer_.async_wait([this](std::error_code ec) { if (!ec) ping_send(); });
    }
  }

  void on_pong(std::int64_t t, const std::vector<std::uint8_t>& payload) {
    if (!ping_.running || read_sequence(payload) != ping_.sequence) {
      ++ping_.mismatched;
      return;
    }
    if (++ping_.done > ping_.warmup) {
      ping_.rtt_ns.push_back(t - ping_.sent_ns);
      ping_.legs_ns[0].push_back(get_stamp(payload, echo_handler) - ping_.sent_ns);
      ping_.legs_ns[1].push_back(get_stamp(payload, echo_forward) - get_stamp(payload, echo_handler));
      ping_.legs_ns[2].push_back(t - get_stamp(payload, echo_forward));
    }
    ping_send();
  }

  void finish_ping() {
    ping_.running = false;
    auto& v = ping_.rtt_ns;
    std::sort(v.begin(), v.end());
    json out = {{"event", "ping_done"}, {"samples", v.size()}, {"errors", ping_.errors},
                {"mismatched", ping_.mismatched}, {"seconds", double(monotonic_ns() - ping_.started_ns) * 1e-9}};
    if (!v.empty()) {
      double sum = 0;
      for (auto x : v) sum += double(x);
      out["mean_us"] = sum / double(v.size()) / 1e3;
      out["min_us"] = double(v.front()) / 1e3;
      out["max_us"] = double(v.back()) / 1e3;
      for (const auto& [name, q] : {std::pair{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}}) {
        out[name] = double(v[nearest_rank(v.size(), q)]) / 1e3;
      }
      const char* legs[] = {"to_echo_handler", "echo_worker_to_io", "back_to_pong_handler"};
      for (std::size_t leg = 0; leg < 3; ++leg) {
        auto& times = ping_.legs_ns[leg];
        std::sort(times.begin(), times.end());
        out["legs_us"][legs[leg]] = {{"p50", double(times[nearest_rank(times.size(), 0.5)]) / 1e3},
                                     {"p99", double(times[nearest_rank(times.size(), 0.99)]) / 1e3}};
      }
    }
    emit(out);
  }

  asio::io_context& io_;
  std::shared_ptr<PeerService> service_;
  std::shared_ptr<Sink> sink_ = std::make_shared<Sink>();
  std::uint64_t echo_errors_ = 0;
  std::vector<Await> awaits_;
  std::set<std::string> up_nodes_;
  std::set<std::pair<std::string, std::string>> up_channels_;  // (node, channel)
  bool check_posted_ = false;
  bool polling_ = false;
  Blast blast_;
  Ping ping_;
  asio::steady_timer blast_timer_, ping_timer_, poll_timer_;
};

// NAME:PARALLELISM[:bulk] (bulk: the channel is in Config::bulk_channels)
std::pair<std::string, ChannelSpec> parse_channel(const std::string& text, peer::Config& config) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw std::invalid_argument("--channel " + text + ": expected NAME:PARALLELISM[:bulk]");
  std::string name = text.substr(0, colon), rest = text.substr(colon + 1);
  if (const auto flag = rest.find(':'); flag != std::string::npos) {
    if (rest.substr(flag + 1) != "bulk") throw std::invalid_argument("--channel " + text + ": the only flag is bulk");
    config.bulk_channels.insert(name);
    rest.resize(flag);
  }
  return {name, ChannelSpec{std::uint32_t(std::stoul(rest)), false}};
}

}  // namespace

int run_node(int argc, char** argv) {
  std::string name, log_level = "warn";
  std::vector<std::string> channels;
  bool insecure = false;
  int cpu = -1;
  int busy_poll_us = int(transport::default_busy_poll.count());
  pid_t parent = 0;
  peer::Config config;  // defaults, unless an experiment asks otherwise
  CLI::App app{"bench_peer node (started by bench_peer itself)"};
  app.add_option("--name", name)->required();
  app.add_option("--channel", channels, "NAME:PARALLELISM[:bulk]");
  app.add_option("--bulk-io-nice", config.bulk_io_nice, "Config::bulk_io_nice (experiments)");
  app.add_option("--bulk-io-idle", config.bulk_io_idle, "Config::bulk_io_idle (experiments)");
  app.add_option("--worker-threads", config.worker_threads, "Config::worker_threads (experiments)");
  app.add_option("--busy-poll-us", busy_poll_us, "transport::run_loop's busy poll (experiments)")
      ->check(CLI::Range(0, 100'000));
  app.add_flag("--insecure", insecure);
  app.add_option("--cpu", cpu, "pin to this core");
  app.add_option("--parent", parent, "exit if this is not our parent");
  app.add_option("--log-level", log_level);
  int tick_ms = int(config.tick_interval.count());
  int transport_heartbeat_ms = int(config.transport.heartbeat_interval.count());
  app.add_option("--tick-ms", tick_ms, "Config::tick_interval (experiments)");
  app.add_option("--transport-heartbeat-ms", transport_heartbeat_ms, "transport::Options::heartbeat_interval (experiments)");
  int dead_peer_ms = int(config.transport.dead_peer_timeout.count());
  app.add_option("--transport-dead-peer-ms", dead_peer_ms, "transport::Options::dead_peer_timeout (experiments)");
  app.add_option("--transport-write-batch-bytes", config.transport.write_batch_max_bytes, "experiments");
  app.add_option("--transport-read-buffer-bytes", config.transport.read_buffer_bytes, "experiments");
  CLI11_PARSE(app, argc, argv);
  config.transport.dead_peer_timeout = peer::Millis(dead_peer_ms);
  config.tick_interval = peer::Millis(tick_ms);
  config.transport.heartbeat_interval = peer::Millis(transport_heartbeat_ms);

  // Die with the parent, including the race where it died before prctl.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (parent != 0 && ::getppid() != parent) return 3;
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cpu), &set);
    ::sched_setaffinity(0, sizeof set, &set);  // threads started below inherit it
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt(name));
  spdlog::set_level(spdlog::level::from_str(log_level));
  const char* key_hex = std::getenv(key_environment_variable);
  auto key = secure::cluster_key_from_hex(key_hex ? key_hex : "");
  if (!key) {
    emit_error("start", std::string(key_environment_variable) + ": " + key.error().message());
    return 2;
  }
  config.name = name;
  config.key = *key;
  config.insecure = insecure;
  try {
    for (const auto& text : channels) config.channels.insert(parse_channel(text, config));
  } catch (const std::exception& e) {
    emit_error("start", e.what());
    return 2;
  }
  asio::io_context io(1);
  auto started = PeerService::start(io.get_executor(), config);
  pthread_setname_np(pthread_self(), "node-io");  // after start: its workers keep the process name
  if (!started) {
    emit_error("start", started.error().message());
    return 2;
  }
  Node node(io, *started);
  emit({{"event", "ready"}, {"spec", to_json((*started)->spec())}, {"pid", ::getpid()}});
  std::thread input([&io, &node] {
    for (std::string line; std::getline(std::cin, line);) {
      asio::post(io, [&node, line] { node.command(line); });
    }
    std::fflush(stdout);
    std::_Exit(0);  // the parent closed our stdin: it is done or gone
  });
  pthread_setname_np(input.native_handle(), "node-stdin");
  input.detach();
  auto guard = asio::make_work_guard(io);
  transport::run_loop(io, std::chrono::microseconds(busy_poll_us));
  return 0;
}

}  // namespace plexus::bench
