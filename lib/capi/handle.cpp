// The handle's lifecycle: loop thread, open, close, free, accessors, and the start/complete path
// every operation goes through (c-api.md §1.4–§1.7, §3).
#include "capi/handle.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "capi/json_in.h"
#include "capi/options.h"
#include "capi/result.h"

#include "capi/version.h"  // DUROXIDE_PG_VERSION, generated from the project version

using duroxide::ProviderError;
using duroxide::Result;
using duroxide::pg::PostgresProvider;

namespace duroxide::capi {
namespace {

void link(duroxide_provider* h, Op* op) {
  op->prev = nullptr;
  op->next = h->ops;
  if (h->ops) h->ops->prev = op;
  h->ops = op;
  if (op->kind == OpKind::kPlain || op->kind == OpKind::kInternal) ++h->plain_in_flight;
}

void close_core(duroxide_provider* h);

void retire(Op* op) {
  duroxide_provider* h = op->h;
  if (op->prev) op->prev->next = op->next;
  else h->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  if (op->kind == OpKind::kPlain || op->kind == OpKind::kInternal) --h->plain_in_flight;
  delete op;
  if (h->shutting_down && !h->core_closing && h->plain_in_flight == 0) close_core(h);
}

void finish_shutdown(duroxide_provider* h) {
  // Every callback of the core has run (its close contract). Destroy it on the next turn, outside
  // its own call stack, then close the inbox: the loop then has no handle left and uv_run returns.
  h->inbox->post([h] {
    h->core.reset();
    h->inbox->close([] {});
  });
}

void close_core(duroxide_provider* h) {
  if (h->core_closing) return;
  h->core_closing = true;
  if (h->grace_timer_open) {
    h->grace_timer_open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&h->grace_timer), nullptr);
  }
  h->core->close([h] { finish_shutdown(h); });
}

// Loop thread: steps 1–2 of c-api.md §3.5, then the grace period.
void begin_shutdown(duroxide_provider* h) {
  if (h->shutting_down) return;
  h->shutting_down = true;
  // Fetches still outstanding complete with null now. The callbacks may start operations (they
  // are refused) or close/free (no effect on this list), so iterating is safe.
  for (Op* o = h->ops; o != nullptr; o = o->next) {
    if ((o->kind == OpKind::kFetchOrchestration || o->kind == OpKind::kFetchWork) && !o->answered) {
      o->answered = true;
      invoke_ok(o->cb, o->user_data, "null");
    }
  }
  // Step 1 (no new scans) and step 3 (work still waiting for a connection was never sent): the
  // waiting queries fail on the next loop turn and report "operation not started".
  h->core->begin_close();
  if (h->plain_in_flight == 0) return close_core(h);
  uv_timer_init(&h->loop, &h->grace_timer);
  h->grace_timer.data = h;
  h->grace_timer_open = true;
  uv_timer_start(&h->grace_timer, [](uv_timer_t* t) { close_core(static_cast<duroxide_provider*>(t->data)); },
                 static_cast<uint64_t>(h->close_grace_ms), 0);
}

// Caller holds h->mu. Marks the handle closing and, the first time, schedules the shutdown.
void request_close_locked(duroxide_provider* h) {
  if (h->closing) return;
  h->closing = true;
  h->inbox->post([h] { begin_shutdown(h); });
}

void destroy(duroxide_provider* h) { delete h; }

// Off-loop: waits until the loop thread has exited and joins it (once); caller holds `lk`.
void wait_and_join(std::unique_lock<std::mutex>& lk, duroxide_provider* h) {
  h->cv.wait(lk, [h] { return h->loop_exited; });
  if (h->self_release || h->joined) return;
  if (!h->joining) {
    h->joining = true;
    lk.unlock();
    pthread_join(h->thread, nullptr);
    lk.lock();
    h->joined = true;
    h->cv.notify_all();
    return;
  }
  h->cv.wait(lk, [h] { return h->joined; });
}

void* loop_main(void* arg) {
  auto* h = static_cast<duroxide_provider*>(arg);
  { std::lock_guard lk(h->mu); }  // the creator has stored h->thread
  uv_run(&h->loop, UV_RUN_DEFAULT);
  while (uv_loop_close(&h->loop) == UV_EBUSY) {
    // Defensive: close whatever is left so that the loop can be released.
    uv_walk(&h->loop, [](uv_handle_t* hd, void*) { if (!uv_is_closing(hd)) uv_close(hd, nullptr); }, nullptr);
    uv_run(&h->loop, UV_RUN_DEFAULT);
  }
  std::unique_lock lk(h->mu);
  h->loop_exited = true;
  h->cv.notify_all();
  if (h->self_release) {
    h->cv.wait(lk, [h] { return h->close_waiters == 0; });
    lk.unlock();
    pthread_detach(pthread_self());
    destroy(h);
  }
  return nullptr;
}

Millis saturate(uint64_t ms) {
  return Millis(ms > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(ms));
}

// ---- open --------------------------------------------------------------------------------------

struct OpenRequest {
  std::string url;
  std::string schema = "public";
  OpenConfig config;
  std::optional<ProviderError> error;  // validation failure, reported through the callback
  // async
  duroxide_open_callback cb = nullptr;
  void* user_data = nullptr;
  // blocking
  bool blocking = false;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<ProviderError> failure;
};

void open_finished(duroxide_provider* h, const std::shared_ptr<OpenRequest>& req,
                   Result<std::unique_ptr<PostgresProvider>> r) {
  if (r) {
    h->core = std::move(*r);
    h->core->start_listening();  // c-api.md §3.1 step 6
    if (req->blocking) {
      std::lock_guard lk(req->mu);
      req->done = true;
      req->cv.notify_all();
      return;
    }
    std::string json = "{\"name\":\"duroxide-pg\",\"version\":";
    out_string(json, DUROXIDE_PG_VERSION);
    json += ",\"schema\":";
    out_string(json, h->schema);
    json += "}";
    invoke_open_ok(req->cb, h, req->user_data, json);
    return;
  }
  ProviderError e = std::move(r.error());
  e.operation = "open";
  if (!req->blocking) {
    invoke_open_error(req->cb, req->user_data, e);
    std::lock_guard lk(h->mu);
    h->closing = true;
    h->self_release = true;
  } else {
    std::lock_guard lk(req->mu);
    req->failure = std::move(e);
    req->done = true;
    req->cv.notify_all();
  }
  // The loop ends once the inbox is closed (nothing else is open); the thread then releases the
  // handle (async) or the blocking opener joins and releases it.
  h->inbox->close([] {});
}

void run_open(duroxide_provider* h, const std::shared_ptr<OpenRequest>& req) {
  if (req->error) return open_finished(h, req, std::unexpected(*req->error));
  auto cb = [h, req](Result<std::unique_ptr<PostgresProvider>> r) { open_finished(h, req, std::move(r)); };
  if (req->config.entra) {
    if (!open_entra(&h->loop, *req->config.entra, req->schema, req->config.options, std::move(cb))) return;
    return;
  }
  PostgresProvider::create_with_schema(&h->loop, req->url, req->schema, req->config.options, std::move(cb));
}

// Creates the handle, its loop and thread, and posts the open. ESYS/ENOMEM on failure.
int launch(const std::shared_ptr<OpenRequest>& req, duroxide_provider** out) {
  auto* h = new (std::nothrow) duroxide_provider();
  if (h == nullptr) return DUROXIDE_ENOMEM;
  if (uv_loop_init(&h->loop) != 0) {
    delete h;
    return DUROXIDE_ESYS;
  }
  auto inbox = LoopInbox::create(&h->loop);
  if (!inbox) {
    uv_loop_close(&h->loop);
    delete h;
    return DUROXIDE_ESYS;
  }
  h->inbox = std::move(*inbox);
  h->schema = req->schema;
  h->close_grace_ms = req->config.close_grace_ms;

  sigset_t block, old;
  sigemptyset(&block);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGPIPE})
    sigaddset(&block, s);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int rc;
  {
    std::lock_guard lk(h->mu);
    rc = pthread_create(&h->thread, nullptr, loop_main, h);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    // Release the inbox on this thread.
    h->inbox->close([] {});
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
    delete h;
    return DUROXIDE_ESYS;
  }
  h->inbox->post([h, req] { run_open(h, req); });
  *out = h;
  return DUROXIDE_OK;
}

std::shared_ptr<OpenRequest> make_request(const char* url, const char* schema, const char* options_json) {
  auto req = std::make_shared<OpenRequest>();
  Reader r("open");
  if (schema != nullptr) req->schema = r.str("schema", schema);
  auto config = parse_options(r, options_json);
  if (!r.failed()) {
    if (url != nullptr && config.entra) r.fail("url", "must be NULL when options contain \"entra\"");
    else if (url == nullptr && !config.entra) r.fail("url", "must not be NULL");
    else if (url != nullptr) req->url = r.str("url", url);
  }
  if (r.failed()) req->error = r.take_error();
  else req->config = std::move(config);
  return req;
}

}  // namespace

// ---- the operation path ------------------------------------------------------------------------

pg::PostgresProvider& core(Op* op) { return *op->h->core; }

ProviderError map_close_error(ProviderError e, bool shutting_down, bool core_closing) {
  if (!shutting_down) return e;
  if (e.message == "pool closed before a connection was available" || e.message == "pool is closed" ||
      e.message == "provider is closed")
    return retryable_error(std::move(e.operation), "provider closed: operation not started");
  if (core_closing && e.retryable && e.sqlstate.empty())
    return retryable_error(std::move(e.operation), "provider closed: outcome unknown");
  return e;
}

void complete_ok(Op* op, std::string json) {
  if (!op->answered && op->cb) {
    op->answered = true;
    invoke_ok(op->cb, op->user_data, json);
  }
  retire(op);
}

void complete_error(Op* op, ProviderError e) {
  if (!op->answered && op->cb) {
    op->answered = true;
    invoke_error(op->cb, op->user_data, op->name, map_close_error(std::move(e), op->h->shutting_down, op->h->core_closing));
  }
  retire(op);
}

bool fetch_should_deliver(Op* op, const std::string* claimed_token) {
  if (!op->answered) return true;
  duroxide_provider* h = op->h;
  if (claimed_token != nullptr && !h->core_closing) {
    // Answered null by close, but the scan committed a claim: release it (c-api.md §3.5 step 2).
    auto* rel = new Op{h, nullptr, nullptr, "abandon", OpKind::kInternal, true};
    link(h, rel);
    auto done = [rel](Result<void>) { retire(rel); };
    if (op->kind == OpKind::kFetchOrchestration)
      h->core->abandon_orchestration_item(*claimed_token, std::nullopt, true, std::move(done));
    else
      h->core->abandon_work_item(*claimed_token, std::nullopt, true, std::move(done));
  }
  retire(op);
  return false;
}

int start(duroxide_provider* h, duroxide_callback cb, void* user_data, const char* name, OpKind kind,
          Work work) {
  if (h == nullptr || cb == nullptr) return DUROXIDE_EINVAL;
  auto* op = new (std::nothrow) Op{h, cb, user_data, name, kind};
  if (op == nullptr) return DUROXIDE_ENOMEM;
  try {
    std::lock_guard lk(h->mu);
    if (h->closing) {
      delete op;
      return DUROXIDE_ECLOSED;
    }
    bool posted = h->inbox->post([op, work = std::move(work)]() mutable {
      duroxide_provider* hh = op->h;
      if (hh->shutting_down) {
        // Not reached in practice (shutdown is posted after every accepted operation), but the
        // rules hold anyway: fetches complete with null, others were never started.
        if (op->kind == OpKind::kFetchOrchestration || op->kind == OpKind::kFetchWork)
          invoke_ok(op->cb, op->user_data, "null");
        else
          invoke_error(op->cb, op->user_data, op->name,
                       retryable_error(op->name, "provider closed: operation not started"));
        delete op;
        return;
      }
      link(hh, op);
      work(op);
    });
    if (!posted) {
      delete op;
      return DUROXIDE_ECLOSED;
    }
  } catch (const std::bad_alloc&) {
    delete op;
    return DUROXIDE_ENOMEM;
  }
  return DUROXIDE_OK;
}

int start_failed(duroxide_provider* h, duroxide_callback cb, void* user_data, const char* name, ProviderError e) {
  if (h == nullptr || cb == nullptr) return DUROXIDE_EINVAL;
  try {
    std::lock_guard lk(h->mu);
    if (h->closing) return DUROXIDE_ECLOSED;
    bool posted = h->inbox->post([cb, user_data, name, e = std::move(e)]() mutable {
      invoke_error(cb, user_data, name, std::move(e));
    });
    if (!posted) return DUROXIDE_ECLOSED;
  } catch (const std::bad_alloc&) {
    return DUROXIDE_ENOMEM;
  }
  return DUROXIDE_OK;
}

Millis millis(uint64_t ms) { return saturate(ms); }

}  // namespace duroxide::capi

using namespace duroxide::capi;

extern "C" {

uint32_t duroxide_c_api_version(void) {
  return (static_cast<uint32_t>(DUROXIDE_C_API_VERSION_MAJOR) << 16) | DUROXIDE_C_API_VERSION_MINOR;
}

const char* duroxide_version(void) { return DUROXIDE_PG_VERSION; }

void duroxide_string_free(char* string) { std::free(string); }

int duroxide_provider_open_async(const char* url, const char* schema, const char* options_json,
                                 duroxide_open_callback callback, void* user_data) {
  if (callback == nullptr) return DUROXIDE_EINVAL;
  try {
    auto req = make_request(url, schema, options_json);
    req->cb = callback;
    req->user_data = user_data;
    duroxide_provider* h = nullptr;
    return launch(req, &h);
  } catch (const std::bad_alloc&) {
    return DUROXIDE_ENOMEM;
  }
}

duroxide_provider* duroxide_provider_open(const char* url, const char* schema, const char* options_json,
                                          char** error_out) {
  if (error_out != nullptr) *error_out = nullptr;
  std::shared_ptr<OpenRequest> req;
  duroxide_provider* h = nullptr;
  int rc;
  try {
    req = make_request(url, schema, options_json);
    req->blocking = true;
    rc = launch(req, &h);
  } catch (const std::bad_alloc&) {
    rc = DUROXIDE_ENOMEM;
  }
  if (rc != DUROXIDE_OK) {
    if (error_out != nullptr)
      *error_out = dup_string(rc == DUROXIDE_ENOMEM ? "open: out of memory"
                                                    : "open: could not start the loop thread");
    return nullptr;
  }
  std::unique_lock lk(req->mu);
  req->cv.wait(lk, [&] { return req->done; });
  if (!req->failure) return h;
  ProviderError e = std::move(*req->failure);
  lk.unlock();
  {
    std::unique_lock hl(h->mu);
    h->closing = true;
    wait_and_join(hl, h);
  }
  destroy(h);
  if (error_out != nullptr) {
    std::string text = "open: " + escape_message(e.message);
    if (!e.sqlstate.empty()) text += " (SQLSTATE " + e.sqlstate + ")";
    *error_out = dup_string(text);
  }
  return nullptr;
}

int duroxide_provider_close(duroxide_provider* provider) {
  if (provider == nullptr) return DUROXIDE_EINVAL;
  duroxide_provider* h = provider;
  if (h->on_loop_thread()) {
    std::lock_guard lk(h->mu);
    request_close_locked(h);
    return DUROXIDE_PENDING;
  }
  std::unique_lock lk(h->mu);
  request_close_locked(h);
  ++h->close_waiters;
  wait_and_join(lk, h);
  --h->close_waiters;
  h->cv.notify_all();
  return DUROXIDE_OK;
}

void duroxide_provider_free(duroxide_provider* provider) {
  if (provider == nullptr) return;
  duroxide_provider* h = provider;
  if (h->on_loop_thread()) {
    std::lock_guard lk(h->mu);
    request_close_locked(h);
    h->self_release = true;
    return;
  }
  {
    std::unique_lock lk(h->mu);
    request_close_locked(h);
    wait_and_join(lk, h);
    h->cv.wait(lk, [h] { return h->close_waiters == 0; });
  }
  destroy(h);
}

const char* duroxide_provider_name(const duroxide_provider* provider) {
  (void)provider;
  return "duroxide-pg";
}

const char* duroxide_provider_schema(const duroxide_provider* provider) {
  return provider == nullptr ? nullptr : provider->schema.c_str();
}

}  // extern "C"
