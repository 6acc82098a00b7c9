#include "tools/cli/admin_client.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/admin/token.hpp"
#include "plexus/secure/cluster_key.hpp"

namespace plexus::tools {
namespace {

/// Connecting to a node that is up takes microseconds on a LAN; this is for a dead host.
constexpr time_t connect_timeout_seconds = 3;

}  // namespace

Result<std::string> admin_token_from(const std::string& secret_file, const std::string& token_file) {
  if (!secret_file.empty()) {
    auto key = secure::read_cluster_key(secret_file);
    if (!key) return key.error();
    return admin::admin_token(*key);
  }
  if (!token_file.empty()) return admin::read_token_file(token_file);
  return std::string();
}

Result<AdminClient> AdminClient::create(const std::string& address, std::string token) {
  const auto bad = [&] {
    return make_error(errc::invalid_field, "--admin: expected HOST:PORT or [IPV6]:PORT, got \"" + address + "\"");
  };
  std::string host, port;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string::npos || address.substr(close + 1, 1) != ":") return bad();
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad();
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad();
  const int number = std::stoi(port);
  if (number < 1 || number > 65535) return bad();
  return AdminClient(address, host, number, std::move(token));
}

template <class Call>
Result<AdminResponse> AdminClient::request(std::chrono::milliseconds timeout, Call&& call) const {
  httplib::Client client(host_, port_);
  client.set_connection_timeout(connect_timeout_seconds);
  const auto ms = timeout.count();
  client.set_read_timeout(time_t(ms / 1000), time_t(ms % 1000) * 1000);
  client.set_write_timeout(time_t(ms / 1000), time_t(ms % 1000) * 1000);
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  auto result = call(client, headers);
  if (!result) {
    const auto error = result.error();
    if (error == httplib::Error::Read) {
      return make_error(errc::io_error, "the admin API at " + address_ + " did not answer within " +
                                            std::to_string(ms) + " ms");
    }
    const std::string why = error == httplib::Error::Connection          ? "could not connect"
                            : error == httplib::Error::ConnectionTimeout ? "connect timed out"
                                                                         : httplib::to_string(error);
    return make_error(errc::dial_failed, "cannot reach the admin API at " + address_ + " (" + why +
                                             "): is plexusd running, and is this its \"admin\" address?");
  }
  return AdminResponse{result->status, result->body, result->get_header_value("Content-Type")};
}

Result<AdminResponse> AdminClient::get(const std::string& path, std::chrono::milliseconds timeout) const {
  return request(timeout, [&](httplib::Client& c, const httplib::Headers& h) { return c.Get(path, h); });
}

Result<AdminResponse> AdminClient::post(const std::string& path, const nlohmann::json& body,
                                        std::chrono::milliseconds timeout) const {
  const std::string text = body.dump();
  return request(timeout, [&](httplib::Client& c, const httplib::Headers& h) {
    return c.Post(path, h, text, "application/json");
  });
}

Result<AdminResponse> AdminClient::del(const std::string& path, std::chrono::milliseconds timeout) const {
  return request(timeout, [&](httplib::Client& c, const httplib::Headers& h) { return c.Delete(path, h); });
}

}  // namespace plexus::tools
