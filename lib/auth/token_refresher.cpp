#include "auth/token_refresher.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace duroxide::pg::auth {
namespace {

ProviderError token_error(std::string message) {
  // A token that cannot be had now may be had later (IMDS restarting, az login, ...).
  return retryable_error("entra_token", std::move(message));
}

}  // namespace

std::shared_ptr<TokenRefresher> TokenRefresher::create(uv_loop_t* loop, std::shared_ptr<TokenSource> source,
                                                       Config config) {
  return std::shared_ptr<TokenRefresher>(new TokenRefresher(loop, std::move(source), std::move(config)));
}

TokenRefresher::TokenRefresher(uv_loop_t* loop, std::shared_ptr<TokenSource> source, Config config)
    : loop_(loop),
      source_(std::move(source)),
      config_(std::move(config)),
      rng_(static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) ^ uv_hrtime())) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

TokenRefresher::~TokenRefresher() {
  // shutdown() must have closed the timer; freeing an open libuv handle corrupts the loop.
  if (!timer_closed_) std::abort();
}

std::int64_t TokenRefresher::now() const {
  if (config_.clock) return config_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

bool TokenRefresher::current_valid() const { return current_ && now() < current_->expires_on_ms; }

void TokenRefresher::start(std::move_only_function<void(Result<void>)> cb) {
  start_cb_ = std::move(cb);
  refresh(false);
}

void TokenRefresher::credential(CredentialCallback cb) {
  if (stopped_) {
    cb(std::unexpected(token_error("provider is closing")));
    return;
  }
  if (current_valid() && !forced_in_flight_) {
    cb(current_->token);
    return;
  }
  if (in_flight_) {
    waiters_.push_back(std::move(cb));
    return;
  }
  if (retry_pending_ && last_error_) {
    // The last attempt failed and its retry is scheduled: answer now rather than re-asking the
    // identity endpoint for every connect attempt (the pool backs off and asks again).
    ProviderError e = *last_error_;
    e.message = "no valid access token: " + e.message;
    cb(std::unexpected(std::move(e)));
    return;
  }
  waiters_.push_back(std::move(cb));
  refresh(false);
}

void TokenRefresher::auth_failed(std::string_view token_used) {
  if (stopped_ || !current_ || token_used != current_->token) return;  // stale: already replaced
  if (forced_generation_ == generation_) return;                      // once per token
  forced_generation_ = generation_;
  if (in_flight_) {
    forced_in_flight_ = true;  // the running refresh serves; new connections wait for it
    return;
  }
  forced_in_flight_ = true;
  refresh(true);
}

void TokenRefresher::refresh(bool forced) {
  if (stopped_ || in_flight_) return;
  in_flight_ = true;
  forced_in_flight_ = forced_in_flight_ || forced;
  retry_pending_ = false;
  uv_timer_stop(&timer_);
  ++refreshes_started_;
  std::weak_ptr<TokenRefresher> weak = weak_from_this();
  source_->get_token(config_.scope, [weak](Result<AccessToken> r) {
    if (auto self = weak.lock()) self->on_token(std::move(r));
  });
}

void TokenRefresher::on_token(Result<AccessToken> r) {
  if (stopped_ || !in_flight_) return;
  in_flight_ = false;
  forced_in_flight_ = false;
  const std::int64_t t = now();
  if (r && r->token.empty()) r = std::unexpected(token_error("the token source returned an empty token"));
  if (r) {
    if (!current_ || current_->token != r->token) ++generation_;
    current_ = std::move(*r);
    failures_ = 0;
    last_error_.reset();
    arm(next_refresh_at(*current_, t, config_.policy));
  } else {
    ProviderError e = std::move(r.error());
    if (e.operation.empty()) e.operation = "entra_token";
    e.retryable = true;
    last_error_ = e;
    ++failures_;
    std::int64_t delay = retry_delay_ms(failures_, rng_(), config_.policy);
    // While the current token lasts, make sure an attempt happens before it expires.
    if (current_valid()) delay = std::min(delay, std::max<std::int64_t>(1000, current_->expires_on_ms - t));
    retry_pending_ = true;
    arm(t + delay);
  }
  if (start_cb_) {
    auto cb = std::move(start_cb_);
    start_cb_ = nullptr;
    if (last_error_) cb(std::unexpected(*last_error_));
    else cb(Result<void>{});
    if (stopped_) return;
  }
  serve_waiters();
}

void TokenRefresher::serve_waiters() {
  auto ws = std::move(waiters_);
  waiters_.clear();
  for (auto& w : ws) {
    if (current_valid()) {
      w(current_->token);
    } else {
      ProviderError e = last_error_ ? *last_error_ : token_error("the access token has expired");
      e.message = "no valid access token: " + e.message;
      w(std::unexpected(std::move(e)));
    }
  }
}

void TokenRefresher::arm(std::int64_t at_ms) {
  next_at_ms_ = at_ms;
  const std::int64_t delay = std::max<std::int64_t>(0, at_ms - now());
  uv_timer_start(&timer_, [](uv_timer_t* h) { static_cast<TokenRefresher*>(h->data)->refresh(false); },
                 static_cast<std::uint64_t>(delay), 0);
}

void TokenRefresher::shutdown(std::move_only_function<void()> done) {
  if (stopped_) {
    // A second shutdown (close after a failed create cannot happen, but be safe): finish later.
    if (timer_closed_) done();
    return;
  }
  stopped_ = true;
  keepalive_ = shared_from_this();
  shutdown_done_ = std::move(done);
  if (in_flight_) {
    in_flight_ = false;
    source_->cancel();  // its callback is ignored (stopped_)
  }
  auto ws = std::move(waiters_);
  waiters_.clear();
  for (auto& w : ws) w(std::unexpected(token_error("provider is closing")));
  if (start_cb_) {
    auto cb = std::move(start_cb_);
    start_cb_ = nullptr;
    cb(std::unexpected(token_error("provider is closing")));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<TokenRefresher*>(h->data);
    self->timer_closed_ = true;
    auto finish = [self] {
      std::shared_ptr<TokenRefresher> keep = std::move(self->keepalive_);
      auto d = std::move(self->shutdown_done_);
      self->shutdown_done_ = nullptr;
      if (d) d();  // may drop every other reference; `keep` outlives the call
    };
    if (auto* closable = dynamic_cast<LoopTokenSource*>(self->source_.get())) closable->close(std::move(finish));
    else finish();
  });
}

}  // namespace duroxide::pg::auth
