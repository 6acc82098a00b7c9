// Cap'n Proto <-> C++ for the peer-service message kinds of plexus.capnp.
#include "plexus/wire/peer_codec.hpp"

#include <cstring>

#include "plexus/core/errors.hpp"

namespace plexus::wire::codec {
namespace {

template <class Builder>
void set_text(Builder&& init, const std::string& value) {
  auto text = init(static_cast<unsigned>(value.size()));
  if (!value.empty()) std::memcpy(text.begin(), value.data(), value.size());
}

std::string text(capnp::Text::Reader reader) { return std::string(reader.begin(), reader.size()); }

std::size_t text_words(const std::string& s) { return (s.size() + 8) / 8 + 1; }

std::size_t spec_words(const NodeSpec& spec) {
  std::size_t words = 8 + text_words(spec.name);
  for (const auto& a : spec.listen_addrs) words += 4 + text_words(a.ip);
  for (const auto& [name, c] : spec.channels) words += 4 + text_words(name);
  return words;
}

std::size_t clock_words(const VectorClock& clock) {
  std::size_t words = 2;
  for (const auto& [process, counter] : clock) words += 3 + text_words(process);
  return words;
}

// ---- NodeSpec ----

void build_spec(schema::NodeSpec::Builder out, const NodeSpec& spec) {
  set_text([&](unsigned n) { return out.initName(n); }, spec.name);
  auto addrs = out.initListenAddrs(static_cast<unsigned>(spec.listen_addrs.size()));
  for (unsigned i = 0; i < spec.listen_addrs.size(); ++i) {
    set_text([&](unsigned n) { return addrs[i].initIp(n); }, spec.listen_addrs[i].ip);
    addrs[i].setPort(spec.listen_addrs[i].port);
  }
  auto channels = out.initChannels(static_cast<unsigned>(spec.channels.size()));
  unsigned i = 0;
  for (const auto& [name, channel] : spec.channels) {
    set_text([&](unsigned n) { return channels[i].initName(n); }, name);
    channels[i].setParallelism(static_cast<std::uint16_t>(channel.parallelism));
    channels[i].setMonotonic(channel.monotonic);
    ++i;
  }
  out.setInstanceId(spec.instance_id);
}

Result<NodeSpec> read_spec(schema::NodeSpec::Reader in) {
  NodeSpec spec;
  spec.name = text(in.getName());
  for (auto a : in.getListenAddrs()) spec.listen_addrs.push_back({text(a.getIp()), a.getPort()});
  for (auto c : in.getChannels()) {
    spec.channels[text(c.getName())] = ChannelSpec{c.getParallelism(), c.getMonotonic()};
  }
  spec.instance_id = in.getInstanceId();
  if (auto valid = validate(spec); !valid) {
    return make_error(errc::malformed_message, "node spec: " + valid.error().detail);
  }
  return spec;
}

// ---- clocks ----

void build_clock(capnp::List<schema::ClockEntry>::Builder out, const VectorClock& clock) {
  for (unsigned i = 0; i < clock.size(); ++i) {
    set_text([&](unsigned n) { return out[i].initProcess(n); }, clock[i].first);
    out[i].setCounter(clock[i].second);
  }
}

VectorClock read_clock(capnp::List<schema::ClockEntry>::Reader in) {
  VectorClock clock;
  clock.reserve(in.size());
  for (auto e : in) clock.emplace_back(text(e.getProcess()), e.getCounter());
  return clock;
}

// ---- builders per kind ----

void build(schema::Envelope::Builder root, const Attach& m) {
  auto out = root.initAttach();
  build_spec(out.initSpec(), m.spec);
  set_text([&](unsigned n) { return out.initChannel(n); }, m.channel);
  out.setIndex(m.index);
  out.setNudge(m.nudge);
}

void build(schema::Envelope::Builder root, const Gossip& m) {
  auto out = root.initGossip();
  if (const auto* entries = std::get_if<std::vector<MemberEntry>>(&m.body)) {
    auto list = out.initEntries(static_cast<unsigned>(entries->size()));
    for (unsigned i = 0; i < entries->size(); ++i) {
      build_spec(list[i].initSpec(), (*entries)[i].spec);
      list[i].setVersion((*entries)[i].version);
      list[i].setRemoved((*entries)[i].removed);
    }
  } else if (const auto* digest = std::get_if<std::vector<DigestEntry>>(&m.body)) {
    auto list = out.initDigest(static_cast<unsigned>(digest->size()));
    for (unsigned i = 0; i < digest->size(); ++i) {
      set_text([&](unsigned n) { return list[i].initName(n); }, (*digest)[i].name);
      list[i].setVersion((*digest)[i].version);
      list[i].setRemoved((*digest)[i].removed);
      list[i].setInstanceId((*digest)[i].instance_id);
      list[i].setSpecHash((*digest)[i].spec_hash);
    }
  } else {
    const auto& names = std::get<std::vector<std::string>>(m.body);
    auto list = out.initPull(static_cast<unsigned>(names.size()));
    for (unsigned i = 0; i < names.size(); ++i) {
      set_text([&](unsigned n) { return list.init(i, n); }, names[i]);
    }
  }
}

void build(schema::Envelope::Builder root, const Heartbeat& m) { root.initHeartbeat().setSequence(m.sequence); }

void build(schema::Envelope::Builder root, const Message& m) {
  auto out = root.initMessage();
  set_text([&](unsigned n) { return out.initOrigin(n); }, m.origin);
  out.setOriginInstance(m.origin_instance);
  set_text([&](unsigned n) { return out.initTarget(n); }, m.target);
  set_text([&](unsigned n) { return out.initServer(n); }, m.server);
  out.setCast(m.cast);
  auto payload = out.initPayload(static_cast<unsigned>(m.payload.size()));
  if (!m.payload.empty()) std::memcpy(payload.begin(), m.payload.data(), m.payload.size());
  set_text([&](unsigned n) { return out.initChannel(n); }, m.channel);
  out.setPartitionKey(m.partition_key.value_or(0));
  out.setHasPartitionKey(m.partition_key.has_value());
  out.setAckId(m.ack_id);
  out.setHopsLeft(m.hops_left);
  out.setTargetInstance(m.target_instance);
  if (!m.via.empty()) {
    auto via = out.initVia(static_cast<unsigned>(m.via.size()));
    for (unsigned i = 0; i < m.via.size(); ++i) set_text([&](unsigned n) { return via.init(i, n); }, m.via[i]);
  }
  if (!m.causal_label.empty()) {
    set_text([&](unsigned n) { return out.initCausalLabel(n); }, m.causal_label);
    build_clock(out.initCausalClock(static_cast<unsigned>(m.causal_clock.size())), m.causal_clock);
    auto deps = out.initCausalDeps(static_cast<unsigned>(m.causal_deps.size()));
    for (unsigned i = 0; i < m.causal_deps.size(); ++i) {
      set_text([&](unsigned n) { return deps[i].initProcess(n); }, m.causal_deps[i].process);
      build_clock(deps[i].initClock(static_cast<unsigned>(m.causal_deps[i].clock.size())),
                  m.causal_deps[i].clock);
    }
  }
}

void build(schema::Envelope::Builder root, const Ack& m) {
  auto out = root.initAck();
  set_text([&](unsigned n) { return out.initOrigin(n); }, m.origin);
  out.setOriginInstance(m.origin_instance);
  set_text([&](unsigned n) { return out.initAcker(n); }, m.acker);
  auto ids = out.initIds(static_cast<unsigned>(m.ids.size()));
  for (unsigned i = 0; i < m.ids.size(); ++i) ids.set(i, m.ids[i]);
  out.setHopsLeft(m.hops_left);
  out.setAckerInstance(m.acker_instance);
  if (!m.refused.empty()) {
    auto refused = out.initRefused(static_cast<unsigned>(m.refused.size()));
    for (unsigned i = 0; i < m.refused.size(); ++i) refused.set(i, m.refused[i]);
  }
}

void build(schema::Envelope::Builder root, const Leave& m) {
  auto out = root.initLeave();
  set_text([&](unsigned n) { return out.initNode(n); }, m.node);
  out.setInstanceId(m.instance_id);
  set_text([&](unsigned n) { return out.initReason(n); }, m.reason);
}

}  // namespace

namespace {

Result<wire::Envelope> read_attach(schema::Attach::Reader in) {
  auto spec = read_spec(in.getSpec());
  if (!spec) return spec.error();
  return wire::Envelope{Attach{std::move(*spec), text(in.getChannel()), in.getIndex(), in.getNudge()}};
}

Result<wire::Envelope> read_gossip(schema::Gossip::Reader in) {
  Gossip gossip;
  switch (in.which()) {
    case schema::Gossip::ENTRIES: {
      std::vector<MemberEntry> entries;
      for (auto e : in.getEntries()) {
        auto spec = read_spec(e.getSpec());
        if (!spec) return spec.error();
        entries.push_back({std::move(*spec), e.getVersion(), e.getRemoved()});
      }
      gossip.body = std::move(entries);
      break;
    }
    case schema::Gossip::DIGEST: {
      std::vector<DigestEntry> digest;
      for (auto e : in.getDigest()) {
        digest.push_back({text(e.getName()), e.getVersion(), e.getRemoved(), e.getInstanceId(), e.getSpecHash()});
      }
      gossip.body = std::move(digest);
      break;
    }
    case schema::Gossip::PULL: {
      std::vector<std::string> names;
      for (auto n : in.getPull()) names.push_back(text(n));
      gossip.body = std::move(names);
      break;
    }
    default:
      return make_error(errc::malformed_message, "unknown gossip kind");
  }
  return wire::Envelope{std::move(gossip)};
}

Result<wire::Envelope> read_message(schema::Message::Reader in) {
  Message m;
  m.origin = text(in.getOrigin());
  m.origin_instance = in.getOriginInstance();
  m.target = text(in.getTarget());
  m.server = text(in.getServer());
  m.cast = in.getCast();
  const auto payload = in.getPayload();
  m.payload.assign(payload.begin(), payload.end());
  m.channel = text(in.getChannel());
  if (in.getHasPartitionKey()) m.partition_key = in.getPartitionKey();
  m.ack_id = in.getAckId();
  m.hops_left = in.getHopsLeft();
  m.target_instance = in.getTargetInstance();
  for (auto v : in.getVia()) m.via.push_back(text(v));
  m.causal_label = text(in.getCausalLabel());
  m.causal_clock = read_clock(in.getCausalClock());
  for (auto d : in.getCausalDeps()) m.causal_deps.push_back({text(d.getProcess()), read_clock(d.getClock())});
  return wire::Envelope{std::move(m)};
}

Result<wire::Envelope> read_ack(schema::Ack::Reader in) {
  Ack a;
  a.origin = text(in.getOrigin());
  a.origin_instance = in.getOriginInstance();
  a.acker = text(in.getAcker());
  for (auto id : in.getIds()) a.ids.push_back(id);
  a.hops_left = in.getHopsLeft();
  a.acker_instance = in.getAckerInstance();
  for (auto id : in.getRefused()) a.refused.push_back(id);
  return wire::Envelope{std::move(a)};
}

}  // namespace

std::size_t estimate_words(const wire::Envelope& envelope) {
  struct Estimate {
    std::size_t operator()(const Data& m) const { return 4 + m.payload.size() / 8; }
    std::size_t operator()(const Goodbye& m) const { return 4 + text_words(m.reason); }
    std::size_t operator()(const Attach& m) const { return 8 + spec_words(m.spec) + text_words(m.channel); }
    std::size_t operator()(const Gossip& m) const {
      std::size_t words = 8;
      if (const auto* e = std::get_if<std::vector<MemberEntry>>(&m.body)) {
        for (const auto& entry : *e) words += 4 + spec_words(entry.spec);
      } else if (const auto* d = std::get_if<std::vector<DigestEntry>>(&m.body)) {
        for (const auto& entry : *d) words += 5 + text_words(entry.name);
      } else {
        for (const auto& name : std::get<std::vector<std::string>>(m.body)) words += 1 + text_words(name);
      }
      return words;
    }
    std::size_t operator()(const Heartbeat&) const { return 6; }
    std::size_t operator()(const Message& m) const {
      std::size_t words = 26 + m.payload.size() / 8 + text_words(m.origin) + text_words(m.target) +
                          text_words(m.server) + text_words(m.channel) + text_words(m.causal_label) +
                          clock_words(m.causal_clock);
      for (const auto& v : m.via) words += 1 + text_words(v);
      for (const auto& d : m.causal_deps) words += 4 + text_words(d.process) + clock_words(d.clock);
      return words;
    }
    std::size_t operator()(const Ack& m) const {
      return 12 + m.ids.size() + m.refused.size() + text_words(m.origin) + text_words(m.acker);
    }
    std::size_t operator()(const Leave& m) const { return 8 + text_words(m.node) + text_words(m.reason); }
  };
  return std::visit(Estimate{}, envelope);
}

void build_peer_kind(schema::Envelope::Builder root, const wire::Envelope& envelope) {
  std::visit(
      [&](const auto& kind) {
        using Kind = std::decay_t<decltype(kind)>;
        if constexpr (!std::is_same_v<Kind, Data> && !std::is_same_v<Kind, Goodbye>) build(root, kind);
      },
      envelope);
}

Result<wire::Envelope> read_peer_kind(schema::Envelope::Reader root) {
  switch (root.which()) {
    case schema::Envelope::ATTACH: return read_attach(root.getAttach());
    case schema::Envelope::GOSSIP: return read_gossip(root.getGossip());
    case schema::Envelope::HEARTBEAT: return wire::Envelope{Heartbeat{root.getHeartbeat().getSequence()}};
    case schema::Envelope::MESSAGE: return read_message(root.getMessage());
    case schema::Envelope::ACK: return read_ack(root.getAck());
    case schema::Envelope::LEAVE: {
      auto in = root.getLeave();
      return wire::Envelope{Leave{text(in.getNode()), in.getInstanceId(), text(in.getReason())}};
    }
    default:
      return make_error(errc::malformed_message,
                        "unknown envelope kind " + std::to_string(static_cast<unsigned>(root.which())));
  }
}

}  // namespace plexus::wire::codec
