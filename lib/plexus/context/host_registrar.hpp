// The Registrar of a node whose contexts register cluster-wide: it runs each
// call on the context Registry core that a replica::Host carries over the
// peer service, on the host's io_context thread (where the core lives), then
// drains the core so the change goes out at once. Callers are other threads
// (the admin thread, the node's start-up); a call made on the io thread itself
// runs inline. A call that the io thread does not take up within
// call_timeout fails `unavailable` (store code) rather than block (the call
// may still take effect when the io thread gets to it).
// Header-only wiring; link plexus_peer_dep (like replica/host.hpp).
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <future>
#include <memory>

#include "plexus/context/contexts.hpp"
#include "plexus/replica/host.hpp"
#include "plexus/store/errors.hpp"

namespace plexus::context {

class HostRegistrar final : public Registrar {
 public:
  using RegistryHost = replica::Host<Registry>;

  HostRegistrar(asio::io_context& io, std::shared_ptr<RegistryHost> host,
                std::chrono::milliseconds call_timeout = std::chrono::seconds(5))
      : io_(io), host_(std::move(host)), call_timeout_(call_timeout) {}

  Result<void> add(const std::string& name, const std::string& datastore, const std::string& context,
                   Scope scope) override {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return on_io<void>([=, this]() -> Result<void> {
      auto done = host_->core(0).register_context(name, datastore, context, scope,
                                                  static_cast<std::uint64_t>(now_ms.count()));
      host_->drain(0);
      return done;
    });
  }
  Result<void> remove(const std::string& name, Scope scope) override {
    return on_io<void>([=, this]() -> Result<void> {
      auto done = host_->core(0).unregister_context(name, scope);
      host_->drain(0);
      return done;
    });
  }
  [[nodiscard]] Result<Registration> whereis(const std::string& name) const override {
    return const_cast<HostRegistrar*>(this)->on_io<Registration>([=, this] { return host_->core(0).whereis(name); });
  }

 private:
  template <class T, class F>
  Result<T> on_io(F&& call) {
    if (io_.get_executor().running_in_this_thread()) return call();
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    asio::post(io_, [promise, call = std::forward<F>(call)]() mutable { promise->set_value(call()); });
    if (future.wait_for(call_timeout_) != std::future_status::ready) {
      return store::make_error(store::errc::unavailable, "context registry: the io thread did not answer in time");
    }
    return future.get();
  }

  asio::io_context& io_;
  std::shared_ptr<RegistryHost> host_;
  std::chrono::milliseconds call_timeout_;
};

}  // namespace plexus::context
