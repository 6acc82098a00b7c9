// report.html is one self-contained page: names from a scenario cannot break
// out of their element or the embedded data, and nothing is fetched.
#include <doctest/doctest.h>

#include "tools/harness/report.hpp"

using namespace plexus::harness;
using nlohmann::json;

TEST_CASE("hostile names are escaped in the page and in its embedded data") {
  const std::string evil = "x</script><script>alert(1)</script>";
  json report{{"scenario_name", evil}, {"seed", 1}, {"verdict", "VALID"}, {"exit_code", 0},
              {"parameters", {{"nodes", 1}, {"duration_s", 1}}}, {"commit", "abc"}, {"started_at", "t"},
              {"replay", "run <x>"}, {"checkers", {{"acked", {{"valid", true}, {"figures", {{"lost", 0}}}}}}}};
  RunData data;
  data.names = {"n1"};
  data.ops.push_back(Op{1, evil, "n1", "n1", 0, 1, 0, "ok", ""});
  const std::string html = render_html(report, timeline_json(data));
  CHECK(html.find("<script>alert(1)") == std::string::npos);
  CHECK(html.find("&lt;/script&gt;") != std::string::npos);   // shown as text in the title and table
  CHECK(html.find("x\\u003c/script\\u003e") != std::string::npos);  // inside the JSON: \u escapes
  CHECK(html.find("run &lt;x&gt;") != std::string::npos);
}

TEST_CASE("the page needs no network: no external script, style, font or image") {
  RunData data;
  data.names = {"n1", "n2"};
  json report{{"scenario_name", "t"}, {"seed", 1}, {"parameters", {{"nodes", 2}, {"duration_s", 1}}}, {"checkers", json::object()}};
  const std::string html = render_html(report, timeline_json(data));
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("id=timeline-data") != std::string::npos);
}
