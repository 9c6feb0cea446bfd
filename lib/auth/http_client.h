// HTTP for the identity sources: libcurl's multi-socket interface driven by the provider's libuv
// loop (a uv_poll_t per socket curl asks us to watch, one uv_timer_t for curl's timeouts), so no
// request ever blocks the loop and no thread is started. curl_easy_perform is never used.
//
// libcurl's process-wide initialisation (curl_global_init) is not thread-safe in the libcurl
// versions we support; it runs once per process through std::call_once the first time a client is
// created, and is never undone (other code in the process may use libcurl too).
//
// Lifetime: create() on the loop thread; close() (instead of delete) abandons outstanding requests
// (their callbacks do not run), closes every handle and frees the client once libuv is done with
// them. HttpClientPtr calls close() for its owner.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "auth/identity_requests.h"

namespace duroxide::pg::auth {

using HttpCallback = std::move_only_function<void(Result<HttpResponse>)>;

class HttpClient {
 public:
  static HttpClient* create(uv_loop_t* loop);

  // Sends `req`; `cb` runs once on the loop thread with the response (any HTTP status) or a
  // transport error (refused, timed out, ...), never from inside send(). Returns an id for cancel.
  std::uint64_t send(const HttpRequest& req, std::chrono::milliseconds timeout, HttpCallback cb);
  // Abandons a request: its callback does not run.
  void cancel(std::uint64_t id);
  void close();

 private:
  struct Request;
  struct Socket;
  explicit HttpClient(uv_loop_t* loop);
  ~HttpClient();
  static int on_socket(void* easy, int fd, int what, void* userp, void* socketp);
  static int on_timer(void* multi, long timeout_ms, void* userp);
  static size_t on_header(char* p, size_t size, size_t n, void* ud);
  void drive(int fd, int events);
  void collect();
  void finish(Request* r, Result<HttpResponse> result);
  void remove(Request* r);
  void maybe_free();
  void close_socket(Socket* s);

  uv_loop_t* loop_;
  void* multi_;  // CURLM*
  uv_timer_t timer_;
  uv_timer_t start_timer_;  // kicks curl on the next turn after send() (no callback inside send)
  std::unordered_map<std::uint64_t, Request*> requests_;
  std::unordered_map<int, Socket*> sockets_;  // watched sockets, closed at close() if curl did not
  std::uint64_t next_id_ = 1;
  int open_handles_ = 0;
  bool closing_ = false;
};

struct HttpClientCloser {
  void operator()(HttpClient* c) const {
    if (c) c->close();
  }
};
using HttpClientPtr = std::unique_ptr<HttpClient, HttpClientCloser>;

}  // namespace duroxide::pg::auth
