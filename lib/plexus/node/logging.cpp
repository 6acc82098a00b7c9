// Node logging to stderr: spdlog's text format, or one JSON object per line
// ({"time": "...", "level": "warn", "node": "n1", "msg": "..."}) for log
// collectors. The JSON sink escapes the message properly, which a pattern
// string cannot.
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "plexus/node/node.hpp"

namespace plexus::node {
namespace {

class JsonStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonStderrSink(std::string node) : node_(std::move(node)), time_("%Y-%m-%dT%H:%M:%S.%e%z", spdlog::pattern_time_type::local, "") {}

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t time;
    time_.format(message, time);
    const auto level = spdlog::level::to_string_view(message.level);
    const nlohmann::json line{{"time", std::string(time.data(), time.size())},
                              {"level", std::string(level.data(), level.size())},
                              {"node", node_},
                              {"msg", std::string(message.payload.data(), message.payload.size())}};
    // Invalid UTF-8 in a message (a peer's bytes) is replaced, never thrown.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string node_;
  spdlog::pattern_formatter time_;
};

}  // namespace

void setup_logging(const Settings& settings) {
  std::shared_ptr<spdlog::logger> logger;
  if (settings.log_format == LogFormat::json) {
    logger = std::make_shared<spdlog::logger>("plexusd", std::make_shared<JsonStderrSink>(settings.peer.name));
  } else {
    logger = spdlog::stderr_color_mt("plexusd");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  // Warnings reach the log at once even when stderr is a file or a pipe.
  spdlog::flush_on(spdlog::level::trace);
}

}  // namespace plexus::node
