// The HTTP token sources: managed identity (App Service / Azure Arc / VM metadata service) and
// workload identity (AKS federated token). Thin adapters: the requests come from
// auth/identity_requests.h, replies are read by auth/token_reply.h, retries follow
// auth/retry_policy.h, and auth/http_client.h moves the bytes.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "auth/chain_plan.h"
#include "auth/http_client.h"
#include "auth/identity_requests.h"
#include "auth/token_refresher.h"

namespace duroxide::pg::auth {

struct HttpSettings {
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds probe_timeout{1000};
  int max_retries = 4;
  std::chrono::milliseconds retry_base{800};
  static HttpSettings from(const EntraAuthOptions& o) {
    return HttpSettings{o.http_timeout, o.imds_probe_timeout, o.max_retries, o.retry_delay};
  }
};

// Shared machinery: one request at a time (get_token is never called twice concurrently), with
// retries of transient answers and a timer for the backoff. cancel() drops the outstanding
// get_token without calling it back.
class HttpSourceBase : public LoopTokenSource {
 public:
  void cancel() override;
  void close(std::move_only_function<void()> done) override;

 protected:
  HttpSourceBase(uv_loop_t* loop, HttpSettings settings, std::string label);
  ~HttpSourceBase() override;

  struct Fetched {
    HttpResponse response;
    int attempts = 1;
  };
  using FetchCallback = std::move_only_function<void(Result<Fetched>)>;
  // Sends `req`, retrying 404/408/410/429/5xx answers and transport errors up to max_retries
  // times (no retries at all when `retry` is false: the IMDS probe); `cb` gets the last answer
  // whatever its status.
  void fetch(HttpRequest req, std::chrono::milliseconds timeout, bool retry, FetchCallback cb);
  // Completes the current get_token on the next loop turn (for failures found before any I/O).
  void fail_soon(TokenCallback cb, ProviderError e);
  // A 2xx answer parsed as a token, or an error quoting the endpoint's error fields.
  Result<AccessToken> token_from(const Fetched& f);
  ProviderError error(std::string message) const;
  static std::int64_t now_ms();

  uv_loop_t* loop_;
  HttpSettings settings_;
  std::string label_;  // "managed identity (IMDS)", for messages
  HttpClientPtr client_;

 private:
  void attempt();
  void on_timer();
  uv_timer_t* timer_;  // heap: a source dropped without close() can still close it safely
  std::minstd_rand rng_;
  bool closed_ = false;
  // The fetch in progress.
  HttpRequest req_;
  std::chrono::milliseconds timeout_{0};
  bool retry_ = false;
  int attempts_ = 0;
  std::uint64_t first_attempt_at_ = 0;  // uv_now() of the first attempt
  std::uint64_t request_id_ = 0;
  FetchCallback fetch_cb_;
  // A failure waiting for the timer (fail_soon).
  TokenCallback soon_cb_;
  std::optional<ProviderError> soon_error_;
};

class ManagedIdentitySource final : public HttpSourceBase {
 public:
  // `probe`: first ask IMDS without the Metadata header with the short probe timeout, so that
  // off Azure the chain moves on within about a second.
  static Result<std::shared_ptr<ManagedIdentitySource>> create(uv_loop_t* loop, const Environment& env,
                                                               const EntraAuthOptions& o, bool probe);
  void get_token(const std::string& scope, TokenCallback cb) override;

 private:
  ManagedIdentitySource(uv_loop_t* loop, HttpSettings s, ManagedKind kind, std::string endpoint,
                        std::string header, UserIdentity id, std::string arc_dir, bool probe);
  void request_token(TokenCallback cb);
  void arc_challenge(const Fetched& f, TokenCallback cb);

  ManagedKind kind_;
  std::string endpoint_;  // IMDS base URL or IDENTITY_ENDPOINT
  std::string header_;    // IDENTITY_HEADER (App Service)
  UserIdentity id_;
  std::string arc_dir_;
  bool probe_pending_;
  std::string resource_;
};

class WorkloadIdentitySource final : public HttpSourceBase {
 public:
  static Result<std::shared_ptr<WorkloadIdentitySource>> create(uv_loop_t* loop, const Environment& env,
                                                                const EntraAuthOptions& o);
  void get_token(const std::string& scope, TokenCallback cb) override;

 private:
  WorkloadIdentitySource(uv_loop_t* loop, HttpSettings s, WorkloadIdentityConfig c);
  WorkloadIdentityConfig config_;
};

}  // namespace duroxide::pg::auth
