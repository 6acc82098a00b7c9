// Internal to plexus::wire: Cap'n Proto <-> C++ for the peer-service kinds.
// Readers may throw kj::Exception (decode() catches it at the boundary) and
// return an error for values that parse but break a rule (a bad node spec).
#pragma once

#include "plexus/core/result.hpp"
#include "plexus/wire/message.hpp"
#include "plexus/wire/plexus.capnp.h"

namespace plexus::wire::codec {

/// Words of message space `envelope` needs, generously (one segment).
std::size_t estimate_words(const Envelope& envelope);
/// Fill `root` with a peer-service kind (not Data/Goodbye).
void build_peer_kind(schema::Envelope::Builder root, const Envelope& envelope);
/// Read a peer-service kind from `root` (its which() is one of them).
Result<Envelope> read_peer_kind(schema::Envelope::Reader root);

}  // namespace plexus::wire::codec
