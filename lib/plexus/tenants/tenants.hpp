// plexus::tenants — the tenant manager's sans-IO parts (issue 17, first
// step): the module interface (module.hpp), the per-tenant life cycle core
// (lifecycle.hpp), the replicated registry's schema (registry.hpp),
// placement and split-brain policies (placement.hpp) and fenced ownership
// of a tenant's key space (fence.hpp). The node shell that runs them over
// the peer service and the worker pool comes later; see docs/tenants.md.
#pragma once

#include "plexus/tenants/errors.hpp"
#include "plexus/tenants/fence.hpp"
#include "plexus/tenants/lifecycle.hpp"
#include "plexus/tenants/module.hpp"
#include "plexus/tenants/placement.hpp"
#include "plexus/tenants/plan.hpp"
#include "plexus/tenants/registry.hpp"
#include "plexus/tenants/registry_core.hpp"
#include "plexus/tenants/registry_store.hpp"
