#include "auth/http_sources.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/retry_policy.h"
#include "auth/token_reply.h"

namespace duroxide::pg::auth {
namespace {

// Reads a small local file (a projected service-account token or an Arc key) in one go. These
// files are a few KiB on local disk, so reading them on the loop thread costs microseconds.
Result<std::string> read_small_file(const std::string& path, std::uintmax_t max_bytes, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail(permanent_error("entra_token", std::string(what) + ": cannot read " + path + ": " + std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return fail(permanent_error("entra_token", std::string(what) + ": " + path + " is not a regular file"));
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes)
    return fail(permanent_error("entra_token", std::string(what) + ": " + path + " is larger than " +
                                                   std::to_string(max_bytes) + " bytes"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(permanent_error("entra_token", std::string(what) + ": cannot open " + path));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return fail(permanent_error("entra_token", std::string(what) + ": " + path + " is empty"));
  return s;
}

}  // namespace

// ---- HttpSourceBase --------------------------------------------------------------------------

HttpSourceBase::HttpSourceBase(uv_loop_t* loop, HttpSettings settings, std::string label)
    : loop_(loop),
      settings_(settings),
      label_(std::move(label)),
      client_(HttpClient::create(loop)),
      rng_(static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) ^ uv_hrtime())) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

HttpSourceBase::~HttpSourceBase() {
  // Normally close() ran (the refresher and the chain call it). A source dropped without it (e.g.
  // a chain that failed to assemble) still must not leave a registered handle behind.
  if (!closed_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

std::int64_t HttpSourceBase::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

ProviderError HttpSourceBase::error(std::string message) const {
  return retryable_error("entra_token", label_ + ": " + std::move(message));
}

void HttpSourceBase::fetch(HttpRequest req, std::chrono::milliseconds timeout, bool retry, FetchCallback cb) {
  req_ = std::move(req);
  timeout_ = timeout;
  retry_ = retry;
  attempts_ = 0;
  fetch_cb_ = std::move(cb);
  attempt();
}

void HttpSourceBase::attempt() {
  if (attempts_++ == 0) first_attempt_at_ = uv_now(loop_);
  request_id_ = client_->send(req_, timeout_, [this](Result<HttpResponse> r) {
    request_id_ = 0;
    const bool retry = retry_ && should_retry(r ? std::optional<long>(r->status) : std::nullopt, attempts_,
                                              settings_.max_retries,
                                              static_cast<std::int64_t>(uv_now(loop_) - first_attempt_at_));
    if (retry) {
      const auto delay = http_retry_delay_ms(attempts_, rng_(), settings_.retry_base.count(),
                                             r ? r->retry_after_s : std::nullopt);
      uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<HttpSourceBase*>(t->data)->on_timer(); },
                     static_cast<std::uint64_t>(delay), 0);
      return;
    }
    FetchCallback cb = std::move(fetch_cb_);
    fetch_cb_ = nullptr;
    if (!r) {
      ProviderError e = r.error();
      if (attempts_ > 1) e.message += " (after " + std::to_string(attempts_) + " attempts)";
      cb(std::unexpected(std::move(e)));
    } else {
      cb(Fetched{std::move(*r), attempts_});
    }
  });
}

void HttpSourceBase::on_timer() {
  if (soon_cb_) {
    TokenCallback cb = std::move(soon_cb_);
    soon_cb_ = nullptr;
    ProviderError e = std::move(*soon_error_);
    soon_error_.reset();
    cb(std::unexpected(std::move(e)));
    return;
  }
  if (fetch_cb_) attempt();
}

void HttpSourceBase::fail_soon(TokenCallback cb, ProviderError e) {
  soon_cb_ = std::move(cb);
  soon_error_ = std::move(e);
  uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<HttpSourceBase*>(t->data)->on_timer(); }, 0, 0);
}

Result<AccessToken> HttpSourceBase::token_from(const Fetched& f) {
  const HttpResponse& r = f.response;
  if (classify_http_status(r.status) != HttpVerdict::kSuccess) {
    std::string msg = "HTTP " + std::to_string(r.status) + ": " + describe_error_reply(r.body);
    if (f.attempts > 1) msg += " (after " + std::to_string(f.attempts) + " attempts)";
    return fail(error(std::move(msg)));
  }
  Result<AccessToken> t = parse_token_reply(r.body, now_ms());
  if (!t) return fail(error(t.error().message));
  return t;
}

void HttpSourceBase::cancel() {
  if (request_id_) client_->cancel(request_id_);
  request_id_ = 0;
  fetch_cb_ = nullptr;
  soon_cb_ = nullptr;
  soon_error_.reset();
  if (!closed_) uv_timer_stop(timer_);
}

void HttpSourceBase::close(std::move_only_function<void()> done) {
  if (closed_) return done();
  cancel();
  closed_ = true;
  client_.reset();  // closes the curl handles in the background; nothing calls us back
  struct Ctx {
    std::move_only_function<void()> done;
  };
  timer_->data = new Ctx{std::move(done)};
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
    auto* ctx = static_cast<Ctx*>(h->data);
    auto d = std::move(ctx->done);
    delete ctx;
    delete reinterpret_cast<uv_timer_t*>(h);
    d();
  });
}

// ---- managed identity ------------------------------------------------------------------------

Result<std::shared_ptr<ManagedIdentitySource>> ManagedIdentitySource::create(uv_loop_t* loop, const Environment& env,
                                                                             const EntraAuthOptions& o, bool probe) {
  auto id = select_identity(o.client_id, o.object_id, o.resource_id);
  if (!id) return fail(id.error());
  const ManagedKind kind = detect_managed_identity(env);
  std::string endpoint, header;
  switch (kind) {
    case ManagedKind::kAppService:
      endpoint = *env_get(env, "IDENTITY_ENDPOINT");
      header = *env_get(env, "IDENTITY_HEADER");
      break;
    case ManagedKind::kArc:
      endpoint = *env_get(env, "IDENTITY_ENDPOINT");
      break;
    case ManagedKind::kImds:
      endpoint = !o.imds_endpoint.empty() ? o.imds_endpoint
                                          : env_get(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST").value_or("http://169.254.169.254");
      break;
  }
  std::string arc_dir = o.arc_key_directory.empty() ? "/var/opt/azcmagent/tokens" : o.arc_key_directory;
  return std::shared_ptr<ManagedIdentitySource>(new ManagedIdentitySource(
      loop, HttpSettings::from(o), kind, std::move(endpoint), std::move(header), std::move(*id), std::move(arc_dir),
      probe && kind == ManagedKind::kImds));
}

ManagedIdentitySource::ManagedIdentitySource(uv_loop_t* loop, HttpSettings s, ManagedKind kind, std::string endpoint,
                                             std::string header, UserIdentity id, std::string arc_dir, bool probe)
    : HttpSourceBase(loop, s, "managed identity (" + std::string(managed_kind_name(kind)) + ")"),
      kind_(kind),
      endpoint_(std::move(endpoint)),
      header_(std::move(header)),
      id_(std::move(id)),
      arc_dir_(std::move(arc_dir)),
      probe_pending_(probe) {}

void ManagedIdentitySource::get_token(const std::string& scope, TokenCallback cb) {
  resource_ = resource_from_scope(scope);
  if (kind_ == ManagedKind::kArc && id_.kind != UserIdentity::Kind::kNone)
    return fail_soon(std::move(cb), error("Azure Arc supports only the system-assigned identity"));
  if (!probe_pending_) return request_token(std::move(cb));
  fetch(imds_probe_request(endpoint_, resource_), settings_.probe_timeout, false,
        [this, cb = std::move(cb)](Result<Fetched> f) mutable {
          if (!f) {
            cb(std::unexpected(error("no answer from " + endpoint_ + " within " +
                                     std::to_string(settings_.probe_timeout.count()) + " ms (not on Azure?): " +
                                     f.error().message)));
            return;
          }
          probe_pending_ = false;  // IMDS is there (any status proves it): normal timeouts from now on
          request_token(std::move(cb));
        });
}

void ManagedIdentitySource::request_token(TokenCallback cb) {
  HttpRequest req;
  switch (kind_) {
    case ManagedKind::kImds: req = imds_request(endpoint_, resource_, id_); break;
    case ManagedKind::kAppService: req = app_service_request(endpoint_, header_, resource_, id_); break;
    case ManagedKind::kArc: req = arc_request(endpoint_, resource_); break;
  }
  fetch(std::move(req), settings_.timeout, true, [this, cb = std::move(cb)](Result<Fetched> f) mutable {
    if (!f) return cb(std::unexpected(error(f.error().message)));
    if (kind_ == ManagedKind::kArc && f->response.status == 401) return arc_challenge(*f, std::move(cb));
    cb(token_from(*f));
  });
}

void ManagedIdentitySource::arc_challenge(const Fetched& f, TokenCallback cb) {
  Result<std::string> path = arc_key_path(f.response.www_authenticate, arc_dir_);
  if (!path) return cb(std::unexpected(error(path.error().message)));
  Result<std::string> key = read_small_file(*path, kArcKeyMaxBytes, "Azure Arc key file");
  if (!key) return cb(std::unexpected(error(key.error().message)));
  fetch(arc_request(endpoint_, resource_, *key), settings_.timeout, true,
        [this, cb = std::move(cb)](Result<Fetched> again) mutable {
          if (!again) return cb(std::unexpected(error(again.error().message)));
          cb(token_from(*again));
        });
}

// ---- workload identity -----------------------------------------------------------------------

Result<std::shared_ptr<WorkloadIdentitySource>> WorkloadIdentitySource::create(uv_loop_t* loop, const Environment& env,
                                                                              const EntraAuthOptions& o) {
  auto c = workload_identity_config(env, o);
  if (!c) return fail(c.error());
  return std::shared_ptr<WorkloadIdentitySource>(new WorkloadIdentitySource(loop, HttpSettings::from(o), std::move(*c)));
}

WorkloadIdentitySource::WorkloadIdentitySource(uv_loop_t* loop, HttpSettings s, WorkloadIdentityConfig c)
    : HttpSourceBase(loop, s, "workload identity"), config_(std::move(c)) {}

void WorkloadIdentitySource::get_token(const std::string& scope, TokenCallback cb) {
  // Re-read on every request: the kubelet rotates the projected token file in place.
  Result<std::string> assertion = read_small_file(config_.token_file, 64 * 1024, "AZURE_FEDERATED_TOKEN_FILE");
  if (!assertion) return fail_soon(std::move(cb), error(assertion.error().message));
  fetch(workload_identity_request(config_.authority, config_.tenant, config_.client_id, *assertion, scope),
        settings_.timeout, true, [this, cb = std::move(cb)](Result<Fetched> f) mutable {
          if (!f) return cb(std::unexpected(error(f.error().message)));
          cb(token_from(*f));
        });
}

}  // namespace duroxide::pg::auth
