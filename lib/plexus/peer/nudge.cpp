// Nudges: the larger name's short connection that asks the smaller one to
// dial (section 4.2 of docs/peer-service.md), and the answer to one.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "plexus/core/errors.hpp"
#include "plexus/peer/service_impl.hpp"

namespace plexus::peer {

void PeerService::Impl::nudge_ended(const std::string& member) {
  if (PeerLinks* peer = find_peer(member)) peer->nudging = false;
}

bool PeerService::Impl::inbound_pending(std::string_view name) const {
  for (const auto& [connection, since] : unattached) {
    if (connection->peer().name == name) return true;
  }
  return false;
}

void PeerService::Impl::nudge(const ListenAddr& address, Completion done, std::string member) {
  auto self_ptr = shared_from_this();
  if (PeerLinks* peer = member.empty() ? nullptr : find_peer(member)) peer->nudging = true;
  asio::co_spawn(executor, [self_ptr, address, done = std::move(done), member]() mutable -> asio::awaitable<void> {
    auto& s = *self_ptr;
    asio::ip::tcp::endpoint target;
    try {
      target = endpoint_of(address);
    } catch (const std::exception&) {
      if (!member.empty()) s.nudge_ended(member);
      if (done) done(make_error(errc::invalid_field, "bad address " + to_string(address)));
      co_return;
    }
    auto result = co_await transport::dial(s.executor, target, s.identity, s.config.transport, s.counters);
    if (!result) {
      if (!member.empty()) s.nudge_ended(member);
      if (done) done(result.error());
      co_return;
    }
    auto connection = *result;
    auto context = std::make_shared<LinkContext>();
    context->peer = connection->peer().name;
    context->dialer = true;
    context->nudge = true;
    context->nudge_for = member;
    context->on_nudge_reply = std::move(done);
    s.add_unattached(connection, false);
    s.start_connection(connection, context);
    send_now(connection, wire::Envelope{wire::Attach{s.self, std::string(control_channel), 0, true}});
    send_now(connection, wire::Envelope{wire::Gossip{s.digest_frame_body()}});
  }, asio::detached);
}

// The nudger's digest: answer with the entries it lacks (a joiner lacks
// nearly all, a member nudging during a cluster-wide join nearly none) and
// close. What we lack of its state comes over our control link's digest.
void PeerService::Impl::answer_nudge(PeerLinks& peer, const transport::ConnectionPtr& connection,
                                     const std::vector<wire::DigestEntry>& digest) {
  for (const auto& reply : core.answer_nudge(peer.spec.name, digest)) send_now(connection, reply);
  connection->close();
}

}  // namespace plexus::peer
