// Turning libpq failures into ProviderError values, classified by SQLSTATE (contract §9.1).
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "duroxide/error.h"

namespace duroxide::pg {

// A server error carried by a result. `token_auth` makes authentication failures retryable.
ProviderError error_from_result(const PGresult* res, bool token_auth);

// The error for a server SQLSTATE and message, classified by the code (contract §9.1). An empty
// code means the connection failed under the query (retryable). A provider-raised code
// (QD001–QD009, §9.2) is permanent and its message always contains the substrings callers match
// (§9.2, §9.4): the canonical text is put in front when the SQL message lacks any of them.
ProviderError error_from_sqlstate(std::string sqlstate, std::string message, bool token_auth);

// A failure reported on the connection itself (connect failure, lost connection). libpq has no
// accessor for the SQLSTATE of a startup error, so connections run with verbose error messages
// and the code is taken from the fixed "SEVERITY:  CODE:" prefix libpq writes in that mode.
ProviderError error_from_conn(const PGconn* conn, std::string_view operation,
                              std::string_view context, bool token_auth);

// The first non-empty line of a libpq message, trimmed, without the verbose "SEVERITY:  CODE:"
// prefix. Exposed for tests.
std::string first_line(std::string_view text);
std::string extract_sqlstate(std::string_view verbose_text);

}  // namespace duroxide::pg
