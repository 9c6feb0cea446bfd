// lib/capi/result.h — building the duroxide_result handed to callbacks (c-api.md §2, §8).
#pragma once

#include <string>
#include <string_view>

#include "duroxide/c/provider.h"
#include "duroxide/error.h"

namespace duroxide::capi {

// Success: `json` is the operation's JSON text.
void invoke_ok(duroxide_callback cb, void* user_data, std::string_view json);
// Error: the operation name is the contract name of the started operation (§8.1).
void invoke_error(duroxide_callback cb, void* user_data, const char* operation, ProviderError e);
void invoke_open_ok(duroxide_open_callback cb, duroxide_provider* h, void* user_data, std::string_view json);
void invoke_open_error(duroxide_open_callback cb, void* user_data, const ProviderError& e);

// U+0000 rendered as the six characters \u0000, invalid UTF-8 bytes as U+FFFD, never empty.
std::string escape_message(std::string_view message);
// The SQLSTATE when it is five characters of [0-9A-Z], else "".
std::string_view clean_sqlstate(std::string_view s);
// A malloc'ed copy for duroxide_string_free; NULL when out of memory.
char* dup_string(std::string_view s);
// Appends a JSON string literal.
void out_string(std::string& out, std::string_view s);

}  // namespace duroxide::capi
