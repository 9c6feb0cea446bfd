// Schema names: validation (contract §11.1), quoting (§11.2) and the names derived from them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "duroxide/error.h"

namespace duroxide::pg {

// Permanent QD008 error "Invalid argument: schema: ..." for names outside
// [A-Za-z_][A-Za-z0-9_]{0,47} or starting with pg_ (any case); the name is quoted in the message
// with control characters escaped.
Result<void> validate_schema_name(std::string_view name);

// "name" with embedded double quotes doubled: the libpq identifier-escaping rule.
std::string quote_identifier(std::string_view name);

// A 64-bit key derived from a fixed purpose prefix and the exact schema spelling, for advisory
// locks that must not collide across schemas or with other applications.
int64_t advisory_key(std::string_view purpose, std::string_view schema);

}  // namespace duroxide::pg
