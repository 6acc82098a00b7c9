// The send side's preparation of a batch of outbox chunks for the socket:
// sealing large chunks in place (their records' headers and tags beside
// them), small ones by copy, and the list of buffers to write gathered.
#include <algorithm>

#include "plexus/transport/connection_impl.hpp"

namespace plexus::transport {

namespace {
// A chunk of at least this many bytes is sealed in place (small ones are
// copied while sealed: one buffer to write costs less than a gather there).
constexpr std::size_t seal_in_place_min_bytes = 16 * 1024;

// A piece of the write: `bytes` at `at`, or (at == null) at `offset` in impl.sealed.
struct Piece {
  const std::uint8_t* at;
  std::size_t offset;
  std::size_t bytes;
};

void add_sealed(std::vector<Piece>& pieces, std::size_t offset, std::size_t bytes) {
  if (!pieces.empty() && !pieces.back().at && pieces.back().offset + pieces.back().bytes == offset) {
    pieces.back().bytes += bytes;  // a tag and the next header, or small chunks back to back
  } else {
    pieces.push_back({nullptr, offset, bytes});
  }
}

// Seal `chunk` in place, record by record: the ciphertext stays in the chunk,
// each record's header and tag go to `sealed`; the write is header, piece,
// tag, ... gathered.
void seal_chunk_in_place(secure::RecordSealer& sealer, ByteBuffer& chunk, ByteBuffer& sealed,
                         std::vector<Piece>& pieces) {
  const std::size_t max = sealer.record_max_bytes();
  for (std::size_t at = 0; at < chunk.size();) {
    const std::size_t take = std::min(max, chunk.size() - at);
    const std::size_t offset = sealed.size();
    std::uint8_t* around = sealed.extend(secure::record_header_bytes + secure::aead_tag_bytes);
    sealer.seal_in_place({chunk.data() + at, take}, around, around + secure::record_header_bytes);
    add_sealed(pieces, offset, secure::record_header_bytes);
    pieces.push_back({chunk.data(), at, take});
    add_sealed(pieces, offset + secure::record_header_bytes, secure::aead_tag_bytes);
    at += take;
  }
}

}  // namespace

// Copy what a write-through's socket did not take (`gather` from `written` on) into `rest`.
void ConnectionTasks::keep_rest(const std::vector<asio::const_buffer>& gather, std::size_t written,
                                ByteBuffer& rest) {
  rest.clear();
  for (const auto& buffer : gather) {
    const auto* at = static_cast<const std::uint8_t*>(buffer.data());
    const std::size_t skip = std::min(written, buffer.size());
    written -= skip;
    rest.append({at + skip, buffer.size() - skip});
  }
}

// Make `batch` ready for the socket and list it in impl.gather: sealed in
// place (large chunks), sealed by copy into impl.sealed (small ones), or,
// insecure, the chunks themselves. The chunks must outlive the write.
void ConnectionTasks::prepare(Connection& c, std::vector<ByteBuffer>& batch) {
  auto& impl = *c.impl_;
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  impl.sealed.clear();
  for (auto& chunk : batch) {
    if (!impl.sealer) {
      pieces.push_back({chunk.data(), 0, chunk.size()});
    } else if (chunk.size() >= seal_in_place_min_bytes) {
      seal_chunk_in_place(*impl.sealer, chunk, impl.sealed, pieces);
    } else {
      const std::size_t offset = impl.sealed.size();
      impl.sealer->seal(chunk.span(), impl.sealed);
      add_sealed(pieces, offset, impl.sealed.size() - offset);
    }
  }
  impl.gather.clear();
  for (const Piece& p : pieces) {
    impl.gather.emplace_back(p.at ? p.at + p.offset : impl.sealed.data() + p.offset, p.bytes);
  }
}


}  // namespace plexus::transport
