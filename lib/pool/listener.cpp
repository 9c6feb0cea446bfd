#include "pool/listener.h"

#include <libpq-fe.h>

#include <cstdlib>

namespace duroxide::pg {

Result<std::unique_ptr<Listener>> Listener::create(uv_loop_t* loop, const PoolOptions& options,
                                                   Callbacks callbacks) {
  Result<ConnInfo> info = make_conninfo(options, "listen");
  if (!info) return fail(info.error());
  return std::unique_ptr<Listener>(new Listener(loop, options, std::move(*info), std::move(callbacks)));
}

Listener::Listener(uv_loop_t* loop, const PoolOptions& options, ConnInfo info, Callbacks callbacks)
    : loop_(loop),
      options_(options),
      info_(std::move(info)),
      cb_(std::move(callbacks)),
      backoff_(options.backoff_base, options.backoff_cap),
      rng_(static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) ^ uv_hrtime())) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

Listener::~Listener() {
  if (open_handles_ != 0 || live_connections_ != 0) std::abort();  // close() must complete first
}

void Listener::listen(std::string channel) {
  if (closing_) return;
  auto [it, inserted] = channels_.insert(std::move(channel));
  if (!inserted) return;
  if (conn_ && conn_->state() == Connection::State::kReady) send_listen(*it, true);
  else if (!conn_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) connect_now();
}

void Listener::unlisten(const std::string& channel) {
  if (channels_.erase(channel) && conn_ && conn_->state() == Connection::State::kReady)
    send_listen(channel, false);
}

void Listener::send_listen(const std::string& channel, bool listen) {
  char* quoted = PQescapeIdentifier(conn_->raw(), channel.c_str(), channel.size());
  if (!quoted) return;
  std::string sql = std::string(listen ? "LISTEN " : "UNLISTEN ") + quoted;
  PQfreemem(quoted);
  const uint64_t gen = generation_;
  std::weak_ptr<bool> alive = alive_;
  conn_->submit(QueryRequest{StatementId{}, std::move(sql), {}, false,
                             [this, alive, gen, listen](Result<QueryResult> r) {
                               if (alive.expired() || gen != generation_ || !listen) return;
                               if (!r) return;  // the connection failure path reports it
                               // All LISTENs of this connection are answered in order, so the
                               // answer to the last one means the whole set is in place.
                               if (conn_ && conn_->in_flight() == 0 && !subscribed_) {
                                 subscribed_ = true;
                                 if (cb_.on_subscribed) cb_.on_subscribed();
                               }
                             }});
}

void Listener::connect_now() {
  if (closing_ || conn_) return;
  Connection::Options co{options_.connect_timeout, options_.token_auth};
  conn_ = new Connection(loop_, *this, nullptr, co);
  ++live_connections_;
  ++generation_;
  conn_->connect(info_, &options_.credential);
}

void Listener::connection_ready(Connection& c) {
  backoff_.record_success();
  subscribed_ = false;
  if (channels_.empty()) {
    subscribed_ = true;
    if (cb_.on_subscribed) cb_.on_subscribed();
    return;
  }
  for (const std::string& ch : channels_) {
    send_listen(ch, true);
    if (conn_ != &c) return;
  }
}

void Listener::connection_failed(Connection& c, const ProviderError& why) {
  report_auth_failure(options_, c, why);  // 28000/28P01 only happen at login
  subscribed_ = false;
  if (conn_ == &c) conn_ = nullptr;
  c.close(why);
  if (closing_) return;
  backoff_.record_failure();
  if (cb_.on_lost) cb_.on_lost(why);
  schedule_reconnect();
}

void Listener::schedule_reconnect() {
  if (closing_ || channels_.empty()) return;
  const auto delay = backoff_.next_delay(rng_());
  uv_timer_start(&timer_, [](uv_timer_t* h) { static_cast<Listener*>(h->data)->connect_now(); },
                 static_cast<uint64_t>(delay.count()), 0);
}

void Listener::connection_closed(Connection& c) {
  delete &c;
  --live_connections_;
  maybe_done();
}

void Listener::connection_notification(Connection&, std::string_view channel,
                                       std::string_view payload) {
  if (cb_.on_notify) cb_.on_notify(channel, payload);
}

void Listener::close(std::move_only_function<void()> done) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(done);
  alive_.reset();
  if (conn_) {
    Connection* c = conn_;
    conn_ = nullptr;
    c->close(retryable_error("listen", "listener closed"));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<Listener*>(h->data);
    --self->open_handles_;
    self->maybe_done();
  });
}

void Listener::maybe_done() {
  if (!closing_ || open_handles_ != 0 || live_connections_ != 0) return;
  if (on_closed_) {
    auto done = std::move(on_closed_);
    on_closed_ = nullptr;
    done();
  }
}

}  // namespace duroxide::pg
