// Brings a schema to the library's version (contract §11.4): creates the schema (never `public`)
// and the bookkeeping table, then applies each pending migration in its own transaction, all under
// a session-level advisory lock keyed on the schema so that concurrent startups serialise.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "duroxide/error.h"
#include "pool/pool.h"

namespace duroxide::pg {

struct MigrationReport {
  uint32_t applied = 0;          // migrations applied by this run
  uint32_t library_version = 0;  // highest migration this library knows
  uint32_t schema_version = 0;   // highest migration recorded in the schema afterwards
};

// `schema` must already be validated. `now_ms` is the application clock (recorded as applied_at).
// A recorded migration whose checksum differs from the library's copy fails with QD009.
void migrate_schema(Pool& pool, std::string schema, int64_t now_ms,
                    std::move_only_function<void(Result<MigrationReport>)> cb);

// Drops every provider object of the schema: the schema itself for a custom schema, the provider's
// tables and functions for `public` (never the schema). Retries on deadlock. Used by tests.
void drop_schema_objects(Pool& pool, std::string schema,
                         std::move_only_function<void(Result<void>)> cb);

}  // namespace duroxide::pg
