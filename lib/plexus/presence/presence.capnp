# Presence tracker wire schema: the messages one tracker shard sends to the
# same shard on another node, as peer-service payloads (server
# "presence.<name>.<i>", channel "_presence" with partition key i).
#
# Every message names its sender replica and pool size and carries the
# sender's clock, so any message is also a heartbeat. Evolution: append union
# members and fields with new ordinals only (Cap'n Proto rules, see
# lib/plexus/wire/plexus.capnp).
@0xc4a3f0d7b2e91a55;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("plexus::presence::schema");

struct ReplicaId {
  node @0 :Text;
  shard @1 :UInt32;
  instance @2 :UInt64;
}

# One presence: its dot is (sender replica, clock); topic and meta index the batch's tables.
struct Item {
  owner @0 :UInt64;
  clock @1 :UInt64;
  topic @2 :UInt32;
  meta @3 :UInt32;
  key @4 :Text;
}

# The sender's changes over the clock range (start, end]: the presences it
# holds there (sorted by clock) and the dots <= start those changes removed.
struct Batch {
  start @0 :UInt64;
  end @1 :UInt64;
  removed @2 :List(UInt64);
  topics @3 :List(Text);
  metas @4 :List(Text);    # JSON texts
  items @5 :List(Item);
}

struct TransferRequest {
  target @0 :UInt64;       # the replica instance asked
  known @1 :UInt64;        # the asker's knowledge of its clock
}

struct Message {
  from @0 :ReplicaId;
  poolSize @1 :UInt32;
  clock @2 :UInt64;        # the sender's own clock when sent
  union {
    heartbeat @3 :Void;
    delta @4 :Batch;       # a flush of fresh local changes, to every shard
    transferRequest @5 :TransferRequest;
    transfer @6 :Batch;    # an answer to a transfer request (catch-up delta or full state part)
    permdown @7 :Void;     # graceful_permdown: drop the sender's presences now
  }
}
