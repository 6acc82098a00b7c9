# Plexus wire schema: the Cap'n Proto messages carried in frame bodies
# (see frame.hpp for the framing and message.hpp for the C++ view).
#
# Evolution rules (Cap'n Proto's own, restated for this file):
# - Envelope is a union of message kinds. Add a kind by appending a new union
#   member with the next ordinal (@2, @3, ...); never renumber, retype or
#   remove a member, and never reuse an ordinal.
# - A receiver that does not know a kind sees an unknown discriminant and
#   rejects the message as malformed (wire::decode), so a kind must only be
#   sent to peers that announced support for it.
# - Prefer a struct for a new kind's payload, so the kind itself can grow
#   fields later.
@0xdfda43ebb5f560db;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("plexus::wire::schema");

struct Envelope {
  union {
    data @0 :Data;        # opaque application payload (transport tests and benchmarks)
    goodbye @1 :Text;     # orderly close with a reason
  }
}
