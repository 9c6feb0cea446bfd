// Runs a closure on a later turn of a libuv loop without any long-lived object to own a handle:
// a one-shot timer that frees itself. Used to honour "never call back inside the call" on paths
// that fail before anything else exists (e.g. an invalid EntraTarget).
#pragma once

#include <uv.h>

#include <functional>

namespace duroxide::pg::auth {

void defer_on_loop(uv_loop_t* loop, std::move_only_function<void()> fn);

}  // namespace duroxide::pg::auth
