// The libpq connection string of an Entra-mode provider, built from EntraTarget. Plain code, no
// I/O. It always carries sslmode=verify-full (no option can weaken it) and never a password: the
// token reaches libpq only through the pool's credential hook, per connection.
#pragma once

#include <string>

#include "duroxide/error.h"
#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

// Fails (permanently, before any I/O) when host, database or user is empty or holds a control
// character, or the port is 0.
Result<std::string> entra_conninfo(const EntraTarget& target, const EntraAuthOptions& auth);

// Quotes a value for a keyword/value connection string ('...' with \ and ' escaped).
std::string conninfo_quote(std::string_view value);

}  // namespace duroxide::pg::auth
