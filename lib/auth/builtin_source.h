// The built-in token sources selected by EntraAuthOptions::credential (the default chain or one
// source). Defined in builtin_source.cpp.
#pragma once

#include <uv.h>

#include <memory>

#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

// Fails (permanently) on invalid options, e.g. more than one user-assigned identity selector.
Result<std::shared_ptr<TokenSource>> make_builtin_source(uv_loop_t* loop, const EntraAuthOptions& auth);

}  // namespace duroxide::pg::auth
