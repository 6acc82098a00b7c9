// plexus::replica — the pieces every replicated registry of a node is built
// from. The public header of the component's sans-IO part:
//   - Map<Schema>: a replicated versioned map (total order per key, digest /
//     diff anti-entropy, tombstones collected under a version_floor), the
//     state-based CRDT that membership uses for its members and that the
//     tenant and datastore-context registries hold their records in;
//   - the Schema concept and KeyValue<K, V, Codec>, the schema of a map from
//     keys to values that the user encodes (a Codec: encode / decode bytes).
// The shell that carries a sans-IO replica core over the peer service is
// replica::Host (host.hpp, its own library: it needs Asio and the peer
// service). See docs/architecture.md, "Replication pieces".
//
// A registry of strings, as a replica core would hold it:
//
//   using Strings = replica::Map<replica::KeyValue<std::string, std::string, replica::StringCodec>>;
//   Strings a, b;
//   a.put({"tenant-1", "module-x"});        // version 1, live
//   b.merge(a.entries());                   // b holds it too
//   a.remove("tenant-1");                   // a tombstone at version 2
//   auto diff = b.diff(a.digest());         // b lacks the newer entry:
//   b.merge(a.entries_for(diff->pull));     // pull it: removed on b too
//   b.observe("a", a_instance, a.digest()); // a holds the tombstone;
//   b.collect_garbage(peers_but_b, [](auto&) { return false; });  // dropped once all do
#pragma once

#include "plexus/replica/errors.hpp"
#include "plexus/replica/map.hpp"
#include "plexus/replica/schema.hpp"
