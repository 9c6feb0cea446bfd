// lib/capi/options.h — the options object of duroxide_provider_open (c-api.md §3.2, §3.3).
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>

#include "capi/json_in.h"
#include "duroxide/pg/entra.h"
#include "duroxide/pg/postgres_provider.h"

namespace duroxide::capi {

struct EntraConfig {
  pg::EntraTarget target;
  pg::EntraAuthOptions auth;
};

struct OpenConfig {
  pg::PostgresProviderOptions options;
  int64_t close_grace_ms = 2000;
  std::optional<EntraConfig> entra;
};

// Parses and validates `options_json` (NULL, "null" and "{}" select the defaults), including
// DUROXIDE_PG_POOL_MAX when pool_max is absent. Failures are recorded in `r` (path "options...").
OpenConfig parse_options(Reader& r, const char* options_json);
// Parses the "entra" member (exposed for unit tests).
std::optional<EntraConfig> parse_entra(Reader& r, const JVal& v, std::string_view path);

// Opens in Entra mode (entra.cpp). Returns false when it could not start (cb then already ran).
bool open_entra(uv_loop_t* loop, const EntraConfig& entra, const std::string& schema,
                const pg::PostgresProviderOptions& options, pg::PostgresProvider::CreateCallback cb);

}  // namespace duroxide::capi
