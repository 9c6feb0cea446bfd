// Entra ID mode of the C API (c-api.md §3.3): the parsed options go to PostgresProvider::create_entra.
#include "capi/options.h"

namespace duroxide::capi {

bool open_entra(uv_loop_t* loop, const EntraConfig& entra, const std::string& schema,
                const pg::PostgresProviderOptions& options, pg::PostgresProvider::CreateCallback cb) {
  pg::PostgresProvider::create_entra_with_schema(loop, entra.target, schema, entra.auth, options, std::move(cb));
  return true;
}

}  // namespace duroxide::capi
