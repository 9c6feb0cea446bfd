#include "auth/builtin_source.h"

namespace duroxide::pg::auth {

Result<std::shared_ptr<TokenSource>> make_builtin_source(uv_loop_t*, const EntraAuthOptions&) {
  return fail(permanent_error("create_entra", "built-in credential sources are not available yet"));
}

}  // namespace duroxide::pg::auth
