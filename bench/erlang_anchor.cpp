// Runs the Erlang anchor script and reads its one-line JSON (erlang_anchor.hpp).
#include "erlang_anchor.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace plexus::bench {
namespace {

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

std::string erlang_anchor_script() {
  if (const char* script = std::getenv("PLEXUS_ERLANG_ANCHOR")) return script;
  return PLEXUS_BENCH_SOURCE_DIR "/anchors/erlang_stream.sh";
}

nlohmann::json run_erlang_anchor(const std::string& script, std::size_t payload_bytes, std::size_t messages) {
  for (const char* program : {"erl", "escript", "epmd"}) {
    if (!on_path(program)) return {{"absent", std::string(program) + " is not installed (Debian: erlang-base)"}};
  }
  if (::access(script.c_str(), R_OK) != 0) return {{"absent", "no anchor script at " + script}};
  // The script bounds every process it starts (timeout) and stops them all.
  const std::string command = "sh '" + script + "' " + std::to_string(payload_bytes) + " " +
                              std::to_string(messages) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {{"error", "could not start " + script}};
  std::string output, last;
  std::array<char, 4096> line{};
  while (std::fgets(line.data(), line.size(), pipe)) {
    output += line.data();
    if (line[0] == '{') last = line.data();
  }
  const int status = ::pclose(pipe);
  if (status != 0 || last.empty()) {
    return {{"error", "anchor exited with status " + std::to_string(WEXITSTATUS(status)) + ": " + output}};
  }
  auto parsed = nlohmann::json::parse(last, nullptr, false);
  if (parsed.is_discarded()) return {{"error", "unreadable anchor output: " + last}};
  return parsed;
}

}  // namespace plexus::bench
