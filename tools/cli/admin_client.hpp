// A client of one node's admin HTTP API (docs/admin-api.md), shared by the
// plexus CLI and the plexus-cluster view: the address, the bearer token
// (derived from the cluster key file or read from a token file) and one
// request per call, each with a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "plexus/core/result.hpp"

namespace plexus::tools {

struct AdminResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

/// The token from `secret_file` (derived) or `token_file` (as is); empty when both are empty.
Result<std::string> admin_token_from(const std::string& secret_file, const std::string& token_file);

class AdminClient {
 public:
  /// `address` is HOST:PORT or [IPV6]:PORT.
  static Result<AdminClient> create(const std::string& address, std::string token);

  /// Errors: errc::dial_failed when the node cannot be reached (one line saying so).
  Result<AdminResponse> get(const std::string& path, std::chrono::milliseconds timeout) const;
  Result<AdminResponse> post(const std::string& path, const nlohmann::json& body, std::chrono::milliseconds timeout) const;
  Result<AdminResponse> del(const std::string& path, std::chrono::milliseconds timeout) const;

  [[nodiscard]] const std::string& address() const noexcept { return address_; }

 private:
  AdminClient(std::string address, std::string host, int port, std::string token)
      : address_(std::move(address)), host_(std::move(host)), port_(port), token_(std::move(token)) {}
  template <class Call>
  Result<AdminResponse> request(std::chrono::milliseconds timeout, Call&& call) const;

  std::string address_;
  std::string host_;
  int port_ = 0;
  std::string token_;
};

}  // namespace plexus::tools
