// plexus::delivery — the delivery guarantees of forward() options, as sans-IO
// cores the peer service drives (ARCHITECTURE.md §3, "ack table", "causal
// stamp", "dedupe + ack", "causal buffer"):
//   AckTable      sender side of `ack: true`: ids, retransmission, give-up;
//   Dedupe        receiver side: exactly-once per sender incarnation;
//   AckBatcher    receiver side: acks batched per origin and tick;
//   CausalLabel   `causal_label`: point-to-point causal order (SES);
//   CausalRegistry the labels of one process.
// Time is passed in (delivery::Time); nothing here reads a clock, does I/O,
// starts a thread or draws a random number.
#pragma once

#include "plexus/delivery/ack_table.hpp"
#include "plexus/delivery/causal.hpp"
#include "plexus/delivery/dedupe.hpp"
#include "plexus/delivery/errors.hpp"
