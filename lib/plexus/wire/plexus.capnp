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
    data @0 :Data;           # opaque application payload (transport tests and benchmarks)
    goodbye @1 :Text;        # orderly close with a reason
    attach @2 :Attach;       # peer service: first frame each way on a connection
    gossip @3 :Gossip;       # membership state, digest or pull request
    heartbeat @4 :Heartbeat; # peer-level liveness, on the control channel
    message @5 :Message;     # forward/cast to a named server, or to the peer service
    ack @6 :Ack;             # acknowledgement of acked messages
    leave @7 :Leave;         # a node leaves, or a node is told it was removed
  }
}

struct Address {
  ip @0 :Text;
  port @1 :UInt16;
}

struct Channel {
  name @0 :Text;
  parallelism @1 :UInt16;
  monotonic @2 :Bool;
}

struct NodeSpec {
  name @0 :Text;
  listenAddrs @1 :List(Address);
  channels @2 :List(Channel);
  instanceId @3 :UInt64;
}

struct Attach {
  spec @0 :NodeSpec;       # the sender's own spec
  channel @1 :Text;        # which channel this connection serves
  index @2 :UInt16;        # which of the channel's parallel connections
  nudge @3 :Bool;          # a short-lived contact asking the receiver to dial back
}

struct MemberEntry {
  spec @0 :NodeSpec;
  version @1 :UInt64;
  removed @2 :Bool;
}

struct DigestEntry {
  name @0 :Text;
  version @1 :UInt64;
  removed @2 :Bool;
  instanceId @3 :UInt64;
  specHash @4 :UInt64;
}

struct Gossip {
  union {
    entries @0 :List(MemberEntry);  # merge these
    digest @1 :List(DigestEntry);   # anti-entropy: answer with entries and a pull
    pull @2 :List(Text);            # send me these names' entries
  }
}

struct Heartbeat {
  sequence @0 :UInt64;
}

struct ClockEntry {
  process @0 :Text;        # "node#instance"
  counter @1 :UInt64;
}

struct Dependency {
  process @0 :Text;        # destination process of an earlier message
  clock @1 :List(ClockEntry);
}

struct Message {
  origin @0 :Text;               # node that sent it
  originInstance @1 :UInt64;
  target @2 :Text;               # node it is for (not the receiver when relayed)
  server @3 :Text;               # named server; empty = the peer service itself
  cast @4 :Bool;
  payload @5 :Data;
  channel @6 :Text;
  partitionKey @7 :UInt64;
  hasPartitionKey @8 :Bool;
  ackId @9 :UInt64;              # 0 = no acknowledgement wanted
  hopsLeft @10 :UInt8;           # relay budget left
  via @11 :List(Text);           # relays already visited
  causalLabel @12 :Text;         # empty = no causal ordering
  causalClock @13 :List(ClockEntry);
  causalDeps @14 :List(Dependency);
  targetInstance @15 :UInt64;    # incarnation it is for; 0 = any (a later life drops it)
}

struct Ack {
  origin @0 :Text;               # node the acknowledged messages came from (the ack's target)
  originInstance @1 :UInt64;
  acker @2 :Text;                # node that received them
  ids @3 :List(UInt64);
  hopsLeft @4 :UInt8;
  ackerInstance @5 :UInt64;     # the incarnation that received them
  refused @6 :List(UInt64);      # received but refused: no such server there
}

struct Leave {
  node @0 :Text;
  instanceId @1 :UInt64;
  reason @2 :Text;
}
