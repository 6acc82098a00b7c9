// Presence messages <-> Cap'n Proto bytes (schema presence.capnp).
#include "plexus/presence/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>

#include "plexus/core/errors.hpp"
#include "plexus/presence/presence.capnp.h"

namespace plexus::presence {
namespace {

constexpr std::size_t word_bytes = sizeof(capnp::word);

Error malformed(std::string detail) {
  return plexus::make_error(plexus::errc::malformed_message, "presence: " + std::move(detail));
}

template <class Init>
void put_text(Init&& init, std::string_view value) {
  auto text = init(static_cast<unsigned>(value.size()));
  if (!value.empty()) std::memcpy(text.begin(), value.data(), value.size());
}

std::string_view view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

void build_batch(schema::Batch::Builder out, const Batch& b) {
  out.setStart(b.start);
  out.setEnd(b.end);
  auto removed = out.initRemoved(static_cast<unsigned>(b.removed.size()));
  for (unsigned i = 0; i < b.removed.size(); ++i) removed.set(i, b.removed[i]);
  auto topics = out.initTopics(static_cast<unsigned>(b.topics.size()));
  for (unsigned i = 0; i < b.topics.size(); ++i) {
    put_text([&](unsigned n) { return topics.init(i, n); }, b.topics[i]);
  }
  auto metas = out.initMetas(static_cast<unsigned>(b.metas.size()));
  for (unsigned i = 0; i < b.metas.size(); ++i) {
    const std::string text = b.metas[i] ? b.metas[i]->dump() : "{}";
    put_text([&](unsigned n) { return metas.init(i, n); }, text);
  }
  auto items = out.initItems(static_cast<unsigned>(b.items.size()));
  for (unsigned i = 0; i < b.items.size(); ++i) {
    const auto& item = b.items[i];
    auto o = items[i];
    o.setOwner(item.owner);
    o.setClock(item.clock);
    o.setTopic(item.topic);
    o.setMeta(item.meta);
    put_text([&](unsigned n) { return o.initKey(n); }, item.key);
  }
}

std::size_t batch_words(const Batch& b) {
  std::size_t words = 16 + b.removed.size() + 4 * b.items.size();
  for (const auto& t : b.topics) words += 2 + t.size() / 8;
  for (const auto& item : b.items) words += 1 + item.key.size() / 8;
  return words + 8 * b.metas.size();
}

void build_header(schema::Message::Builder out, const Replica& from, std::uint32_t pool_size, Sequence clock) {
  auto r = out.initFrom();
  put_text([&](unsigned n) { return r.initNode(n); }, from.node);
  r.setShard(from.shard);
  r.setInstance(from.instance);
  out.setPoolSize(pool_size);
  out.setClock(clock);
}

std::vector<std::uint8_t> flatten(capnp::MallocMessageBuilder& builder) {
  const auto words = capnp::messageToFlatArray(builder);
  const auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

/// Depth of JSON nesting, counted outside strings; cheap guard before parsing.
std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<Batch> read_batch(schema::Batch::Reader in, const Replica& from, const CodecLimits& limits) {
  Batch b;
  b.replica = from;
  b.start = in.getStart();
  b.end = in.getEnd();
  if (b.end < b.start) return malformed("batch end before start");
  const auto items = in.getItems();
  if (items.size() > limits.max_items) return malformed("too many items: " + std::to_string(items.size()));
  const auto removed = in.getRemoved();
  if (removed.size() > limits.max_items) return malformed("too many removed dots");
  b.removed.reserve(removed.size());
  for (auto d : removed) b.removed.push_back(d);
  for (auto t : in.getTopics()) b.topics.emplace_back(view(t));
  for (auto m : in.getMetas()) {
    const auto text = view(m);
    if (text.size() > limits.max_meta_bytes) return malformed("meta larger than max_meta_bytes");
    if (json_depth(text) > limits.max_meta_depth) return malformed("meta nested too deep");
    auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return malformed("meta is not valid JSON");
    b.metas.push_back(std::make_shared<const nlohmann::json>(std::move(parsed)));
  }
  b.items.reserve(items.size());
  Sequence previous = b.start;
  for (auto item : items) {
    if (item.getClock() <= previous || item.getClock() > b.end) {
      return malformed("item clocks must increase within (start, end]");
    }
    if (item.getTopic() >= b.topics.size() || item.getMeta() >= b.metas.size()) {
      return malformed("item refers past the topic or meta table");
    }
    previous = item.getClock();
    b.items.push_back(Batch::Item{item.getOwner(), item.getClock(), item.getTopic(), item.getMeta(),
                                  Key(view(item.getKey()))});
  }
  return b;
}

Result<Message> read_message(kj::ArrayPtr<const capnp::word> words, const CodecLimits& limits) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 2 * words.size() + 64;
  options.nestingLimit = 16;
  capnp::FlatArrayMessageReader reader(words, options);
  if (reader.getEnd() != words.end()) return malformed("bytes after the end of the message");
  const auto root = reader.getRoot<schema::Message>();
  Message m;
  const auto from = root.getFrom();
  m.from = Replica{std::string(view(from.getNode())), from.getShard(), from.getInstance()};
  if (m.from.node.empty() || m.from.node.size() > 255) return malformed("sender node name must be 1..255 bytes");
  m.pool_size = root.getPoolSize();
  m.clock = root.getClock();
  switch (root.which()) {
    case schema::Message::HEARTBEAT: m.body = Heartbeat{}; break;
    case schema::Message::PERMDOWN: m.body = Permdown{}; break;
    case schema::Message::TRANSFER_REQUEST: {
      const auto req = root.getTransferRequest();
      m.body = TransferRequest{req.getTarget(), req.getKnown()};
      break;
    }
    case schema::Message::DELTA:
    case schema::Message::TRANSFER: {
      const bool transfer = root.which() == schema::Message::TRANSFER;
      auto batch = read_batch(transfer ? root.getTransfer() : root.getDelta(), m.from, limits);
      if (!batch) return batch.error();
      if (transfer) m.body = TransferMsg{std::move(*batch)};
      else m.body = DeltaMsg{std::move(*batch)};
      break;
    }
    default: return malformed("unknown message kind");
  }
  return m;
}

}  // namespace

std::vector<std::uint8_t> encode_batch(const Replica& from, std::uint32_t pool_size, Sequence clock,
                                       const Batch& batch, bool transfer) {
  capnp::MallocMessageBuilder builder(static_cast<unsigned>(std::min<std::size_t>(batch_words(batch), 1u << 28)));
  auto root = builder.initRoot<schema::Message>();
  build_header(root, from, pool_size, clock);
  build_batch(transfer ? root.initTransfer() : root.initDelta(), batch);
  return flatten(builder);
}

std::vector<std::uint8_t> encode(const Message& message) {
  if (const auto* delta = std::get_if<DeltaMsg>(&message.body)) {
    return encode_batch(message.from, message.pool_size, message.clock, delta->batch, false);
  }
  if (const auto* transfer = std::get_if<TransferMsg>(&message.body)) {
    return encode_batch(message.from, message.pool_size, message.clock, transfer->batch, true);
  }
  capnp::MallocMessageBuilder builder(64);
  auto root = builder.initRoot<schema::Message>();
  build_header(root, message.from, message.pool_size, message.clock);
  if (const auto* req = std::get_if<TransferRequest>(&message.body)) {
    auto out = root.initTransferRequest();
    out.setTarget(req->target);
    out.setKnown(req->known);
  } else if (std::holds_alternative<Permdown>(message.body)) {
    root.setPermdown();
  } else {
    root.setHeartbeat();
  }
  return flatten(builder);
}

Result<Message> decode(std::span<const std::uint8_t> bytes, const CodecLimits& limits) {
  if (bytes.size() > limits.max_message_bytes) return malformed("message larger than max_message_bytes");
  if (bytes.empty() || bytes.size() % word_bytes != 0) return malformed("not a whole number of words");
  const std::size_t count = bytes.size() / word_bytes;
  // Cap'n Proto wants aligned words; payloads are copied once into an aligned buffer.
  auto words = kj::heapArray<capnp::word>(count);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  try {
    return read_message(words.asPtr(), limits);
  } catch (const kj::Exception& fault) {
    return malformed(fault.getDescription().cStr());
  }
}

}  // namespace plexus::presence
