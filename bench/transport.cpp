// bench_transport: throughput and CPU cost of one Plexus connection over
// 127.0.0.1, encrypted and insecure, at several frame sizes, next to a plain
// TCP baseline measured in the same run. Prints one JSON document on stdout
// (logs go to stderr); exits non-zero when a cell failed (not when a target
// is missed: a debug build is expected to miss them).
//
//   bench_transport [--seconds 2] [--sizes 100,1024,65536] [--modes encrypted,insecure]
//                   [--record-max-bytes N] [--write-batch-max-bytes N] [--read-buffer-bytes N]
//                   [--outbox-chunk-bytes N] [--outbox-max-bytes N] [--no-pin] [--no-baseline]
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>  // also declares stderr_color_mt
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "figures.hpp"
#include "plain_tcp.hpp"
#include "transport_cell.hpp"

namespace {

using nlohmann::json;
using plexus::bench::round_to;
using namespace plexus::bench;

constexpr double target_100B_frames_per_s = 2'000'000;
constexpr double target_64KiB_GB_per_s = 1.5;

struct Flags {
  double seconds = 2;
  std::optional<double> warmup_s;
  std::vector<std::size_t> sizes{100, 1024, 65536};
  std::vector<std::string> modes{"encrypted", "insecure"};
  plexus::transport::Options options;
  bool no_pin = false;
  bool no_baseline = false;
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

json options_json(const plexus::transport::Options& o) {
  return {{"record_max_bytes", o.record_max_bytes}, {"write_batch_max_bytes", o.write_batch_max_bytes},
          {"read_buffer_bytes", o.read_buffer_bytes}, {"outbox_chunk_bytes", o.outbox_chunk_bytes},
          {"outbox_max_bytes", o.outbox_max_bytes}, {"outbox_max_frames", o.outbox_max_frames}};
}

json cell_json(const CellResult& r, double plain_mb_per_s) {
  const double seconds = r.window.seconds > 0 ? r.window.seconds : 1;
  const double mb_per_s = static_cast<double>(r.bytes) / seconds / 1e6;
  const double gb = static_cast<double>(r.bytes) / 1e9;
  json out = {{"mode", r.mode}, {"cipher", r.cipher}, {"frame_bytes", r.frame_bytes},
              {"frames", r.frames},
              {"frames_per_s", std::round(static_cast<double>(r.frames) / seconds)},
              {"mb_per_s", round_to(mb_per_s, 1)},
              {"cpu_s", round_to(r.window.cpu_s(), 3)},
              {"user_s", round_to(r.window.user_s, 3)},
              {"sys_s", round_to(r.window.system_s, 3)},
              {"cpu_s_per_gb", gb > 0 ? json(round_to(r.window.cpu_s() / gb, 3)) : json(nullptr)},
              {"sender_cpu_s", round_to(r.sender_cpu_s, 3)},
              {"receiver_cpu_s", round_to(r.receiver_cpu_s, 3)},
              {"seconds", round_to(r.window.seconds, 3)},
              {"other_cpu_s", round_to(r.window.other_cpu_s(), 2)},
              {"vs_plain_tcp", plain_mb_per_s > 0 ? json(round_to(mb_per_s / plain_mb_per_s, 3)) : json(nullptr)},
              {"avg_write_bytes", r.writes ? r.wire_bytes / r.writes : 0},
              {"verified", r.verified}};
  if (!r.error.empty()) out["error"] = r.error;
  return out;
}

// Targets apply to the encrypted cells; null when the cell was not run.
json met_json(const std::vector<CellResult>& cells) {
  json met = {{"encrypted_100B_frames_per_s", nullptr}, {"encrypted_64KiB_GB_per_s", nullptr}};
  for (const auto& r : cells) {
    if (r.mode != "encrypted" || !r.error.empty() || r.window.seconds <= 0) continue;
    const double per_s = 1 / r.window.seconds;
    if (r.frame_bytes == 100) {
      met["encrypted_100B_frames_per_s"] = static_cast<double>(r.frames) * per_s >= target_100B_frames_per_s;
    }
    if (r.frame_bytes == 65536) {
      met["encrypted_64KiB_GB_per_s"] = static_cast<double>(r.bytes) * per_s / 1e9 >= target_64KiB_GB_per_s;
    }
  }
  return met;
}

// Other processes may use whatever core time we leave idle; they lowered the
// figures only when even our busiest thread did not get (nearly) a whole core.
void warn_if_contended(const Window& window, double busiest_thread_cpu_s, const char* what) {
  if (window.seconds <= 0) return;
  const double share = busiest_thread_cpu_s / window.seconds;
  if (share < 0.9 && window.other_cpu_s() > 0.1 * window.seconds) {
    spdlog::warn("{}: busiest thread ran {:.0f}% of the window while other processes took {:.2f} CPU s;"
                 " figures are low", what, share * 100, window.other_cpu_s());
  }
}

void parse(int argc, char** argv, Flags& flags) {
  CLI::App app{"Plexus transport throughput benchmark (JSON on stdout)"};
  auto& o = flags.options;
  app.add_option("--seconds", flags.seconds, "Measured seconds per cell")->check(CLI::Range(0.01, 600.0));
  app.add_option("--warmup", flags.warmup_s, "Warm-up seconds per cell (default: seconds/4, 0.1..0.5)")
      ->check(CLI::Range(0.0, 60.0));
  app.add_option("--sizes", flags.sizes, "Frame body sizes in bytes")->delimiter(',')
      ->check(CLI::Range(std::size_t{1}, o.max_frame_bytes));
  app.add_option("--modes", flags.modes, "encrypted and/or insecure")->delimiter(',')
      ->check(CLI::IsMember({"encrypted", "insecure"}));
  app.add_option("--record-max-bytes", o.record_max_bytes)->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  app.add_option("--write-batch-max-bytes", o.write_batch_max_bytes)->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app.add_option("--read-buffer-bytes", o.read_buffer_bytes)->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30));
  app.add_option("--outbox-chunk-bytes", o.outbox_chunk_bytes)->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30));
  app.add_option("--outbox-max-bytes", o.outbox_max_bytes)->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 34));
  app.add_flag("--no-pin", flags.no_pin, "Do not pin the sender to core 0 and the receiver to core 1");
  app.add_flag("--no-baseline", flags.no_baseline, "Skip the plain TCP baseline");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));
  Flags flags;
  parse(argc, argv, flags);
  const double warmup_s = flags.warmup_s.value_or(std::clamp(flags.seconds / 4, 0.1, 0.5));
  const bool pin = !flags.no_pin;

  json baseline = nullptr;
  double plain_mb_per_s = 0;
  bool failed = false;
  if (!flags.no_baseline) {
    PlainTcpSpec spec{warmup_s, flags.seconds, flags.options.write_batch_max_bytes,
                      flags.options.read_buffer_bytes, pin};
    const auto plain = run_plain_tcp(spec);
    const double gb = static_cast<double>(plain.bytes) / 1e9;
    plain_mb_per_s = plain.window.seconds > 0 ? static_cast<double>(plain.bytes) / plain.window.seconds / 1e6 : 0;
    baseline = {{"plain_tcp_mb_per_s", round_to(plain_mb_per_s, 1)},
                {"cpu_s", round_to(plain.window.cpu_s(), 3)},
                {"cpu_s_per_gb", gb > 0 ? json(round_to(plain.window.cpu_s() / gb, 3)) : json(nullptr)},
                {"seconds", round_to(plain.window.seconds, 3)},
                {"writer_cpu_s", round_to(plain.writer_cpu_s, 3)},
                {"reader_cpu_s", round_to(plain.reader_cpu_s, 3)},
                {"other_cpu_s", round_to(plain.window.other_cpu_s(), 2)},
                {"write_bytes", spec.write_bytes}, {"read_bytes", spec.read_bytes}};
    if (!plain.error.empty()) {
      baseline["error"] = plain.error;
      failed = true;
    }
    spdlog::info("plain tcp: {:.1f} MB/s", plain_mb_per_s);
    warn_if_contended(plain.window, std::max(plain.writer_cpu_s, plain.reader_cpu_s), "plain tcp baseline");
  }

  std::vector<CellResult> cells;
  json results = json::array();
  for (const auto& mode : flags.modes) {
    for (const auto size : flags.sizes) {
      CellSpec spec;
      spec.insecure = mode == "insecure";
      spec.frame_bytes = size;
      spec.warmup_s = warmup_s;
      spec.seconds = flags.seconds;
      spec.options = flags.options;
      spec.pin_threads = pin;
      cells.push_back(run_transport_cell(spec));
      const auto& r = cells.back();
      results.push_back(cell_json(r, plain_mb_per_s));
      spdlog::info("{} {} B: {}", mode, size, results.back().dump());
      warn_if_contended(r.window, std::max(r.sender_cpu_s, r.receiver_cpu_s), "transport cell");
      if (!r.error.empty()) {
        spdlog::error("{} {} B failed: {}", mode, size, r.error);
        failed = true;
      }
    }
  }

  const json document = {
      {"benchmark", "transport"},
      {"machine", {{"cores", std::thread::hardware_concurrency()}, {"cpu", cpu_model()}}},
      {"cpu_time", "getrusage(RUSAGE_SELF) user+sys deltas: process-wide, both endpoint threads"
                   " and the kernel work of their system calls; sender/receiver (writer/reader) cpu_s:"
                   " each thread's own, the one near `seconds` is the bottleneck; other_cpu_s ="
                   " machine busy time (/proc/stat) less ours: other processes on the cores"},
      {"settings", {{"seconds", flags.seconds}, {"warmup_s", warmup_s}, {"pinned", pin},
                    {"options", options_json(flags.options)}}},
      {"results", results},
      {"baseline", baseline},
      {"targets", {{"encrypted_100B_frames_per_s", target_100B_frames_per_s},
                   {"encrypted_64KiB_GB_per_s", target_64KiB_GB_per_s}}},
      {"met", met_json(cells)}};
  std::cout << document.dump(2) << std::endl;
  return failed ? 1 : 0;
}
