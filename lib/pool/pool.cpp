#include "pool/pool.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace duroxide::pg {

size_t resolve_pool_max(size_t configured) {
  if (configured > 0) return configured;
  if (const char* env = std::getenv("DUROXIDE_PG_POOL_MAX")) {
    size_t v = 0;
    const char* end = env + std::char_traits<char>::length(env);
    auto [p, ec] = std::from_chars(env, end, v);
    if (ec == std::errc() && p == end && v > 0) return v;
  }
  return 10;
}

namespace {

// What a query or lease still waiting for a connection gets when the pool stops taking them: it
// was never sent (the C API maps this text to "operation not started").
ProviderError not_started_error() {
  return retryable_error("query", "pool closed before a connection was available");
}

}  // namespace

Result<ConnInfo> make_conninfo(const PoolOptions& o, std::string_view role) {
  Result<ConnInfo> info = ConnInfo::parse(o.conninfo);
  if (!info) return info;
  std::string app = o.application_name;
  if (!role.empty()) app.append(":").append(role);
  info->set("application_name", app.substr(0, 63));
  info->set("client_encoding", "UTF8");
  // libpq's own connect_timeout would block inside PQconnectPoll bookkeeping; ours is a timer.
  info->set("connect_timeout", "0");
  if (o.statement_timeout) info->add_setting("statement_timeout", std::to_string(o.statement_timeout->count()));
  if (o.idle_in_transaction_timeout)
    info->add_setting("idle_in_transaction_session_timeout", std::to_string(o.idle_in_transaction_timeout->count()));
  if (o.lock_timeout) info->add_setting("lock_timeout", std::to_string(o.lock_timeout->count()));
  for (const auto& [name, value] : o.settings) info->add_setting(name, value);
  return info;
}

// ---- Lease -----------------------------------------------------------------------------------

struct Lease::State {
  Pool* pool;
  Connection* conn;  // null once released or once the pool closed the connection
};

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
  }
  return *this;
}

Lease::~Lease() { release(); }

void Lease::release() {
  if (!state_) return;
  if (state_->conn) state_->pool->release_lease(state_->conn);
  state_->conn = nullptr;
  state_.reset();
}

void Lease::query(std::string sql, Params params, QueryCallback cb) {
  QueryRequest q{StatementId{}, std::move(sql), std::move(params), false, std::move(cb)};
  if (!state_ || !state_->conn || state_->conn->state() != Connection::State::kReady) {
    Pool* pool = state_ ? state_->pool : nullptr;
    ProviderError e = retryable_error("query", "leased connection is no longer usable");
    if (pool) pool->defer(std::move(q.callback), std::move(e));
    else q.callback(std::unexpected(std::move(e)));
    return;
  }
  state_->conn->submit(std::move(q));
}

void Lease::query(StatementId stmt, Params params, QueryCallback cb) {
  if (!state_ || !state_->conn || state_->conn->state() != Connection::State::kReady) {
    query(std::string{}, std::move(params), std::move(cb));  // reports the same error
    return;
  }
  state_->conn->submit(QueryRequest{stmt, {}, std::move(params), false, std::move(cb)});
}

void Lease::script(std::string sql, QueryCallback cb) {
  if (!state_ || !state_->conn || state_->conn->state() != Connection::State::kReady) {
    query(std::string{}, {}, std::move(cb));  // reports the unusable lease
    return;
  }
  state_->conn->submit_script(std::move(sql), std::move(cb));
}

// ---- Pool ------------------------------------------------------------------------------------

Result<std::unique_ptr<Pool>> Pool::create(uv_loop_t* loop, PoolOptions options) {
  Result<ConnInfo> info = make_conninfo(options, "query");
  if (!info) return fail(info.error());
  if (options.pipeline_depth == 0) options.pipeline_depth = 1;
  return std::unique_ptr<Pool>(new Pool(loop, std::move(options), std::move(*info)));
}

Pool::Pool(uv_loop_t* loop, PoolOptions options, ConnInfo info)
    : loop_(loop),
      options_(std::move(options)),
      info_(std::move(info)),
      max_size_(resolve_pool_max(options_.max_size)),
      backoff_(options_.backoff_base, options_.backoff_cap),
      rng_(static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) ^ uv_hrtime())) {
  uv_timer_init(loop_, &timer_);
  uv_timer_init(loop_, &defer_timer_);
  uv_timer_init(loop_, &idle_timer_);
  // The sweep alone must not keep a loop alive (connections and their callers do).
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_timer_));
  timer_.data = this;
  defer_timer_.data = this;
  idle_timer_.data = this;
  open_handles_ = 3;
}

Pool::~Pool() {
  // close() must have completed; destroying a live pool would leave libuv with dangling handles.
  if (open_handles_ != 0) std::abort();
}

StatementId Pool::prepare(std::string name, std::string sql) {
  statements_.push_back(StatementDef{std::move(name), std::move(sql)});
  return StatementId{static_cast<uint32_t>(statements_.size() - 1)};
}

void Pool::query(StatementId stmt, Params params, QueryCallback cb, bool binary_result) {
  submit(QueryRequest{stmt, {}, std::move(params), binary_result, std::move(cb)});
}

void Pool::query(std::string sql, Params params, QueryCallback cb, bool binary_result) {
  submit(QueryRequest{StatementId{}, std::move(sql), std::move(params), binary_result,
                      std::move(cb)});
}

void Pool::submit(QueryRequest&& q) {
  if (closing_) {
    defer(std::move(q.callback), permanent_error("query", "pool is closed"));
    return;
  }
  if (query_waiters_.empty()) {
    if (Slot* s = pick_for_query()) {
      send(*s, std::move(q));
      grow_if_needed();
      return;
    }
  }
  query_waiters_.push_back(
      QueryWaiter{std::move(q), uv_now(loop_) + static_cast<uint64_t>(options_.acquire_timeout.count())});
  grow_if_needed();
  arm_timer();
}

void Pool::acquire(LeaseCallback cb) {
  if (closing_) {
    // Reuse the deferred-completion path with a query-shaped adapter.
    defer([cb = std::move(cb)](Result<QueryResult> r) mutable { cb(std::unexpected(r.error())); },
          permanent_error("acquire", "pool is closed"));
    return;
  }
  lease_waiters_.push_back(
      LeaseWaiter{std::move(cb), uv_now(loop_) + static_cast<uint64_t>(options_.acquire_timeout.count())});
  pump();
  grow_if_needed();
  arm_timer();
}

void Pool::send(Slot& s, QueryRequest&& q) {
  s.last_busy = uv_now(loop_);
  s.conn->submit(std::move(q));
}

Pool::Slot* Pool::find(Connection& c) {
  for (Slot& s : slots_)
    if (s.conn == &c) return &s;
  return nullptr;
}

Pool::Slot* Pool::pick_for_query() {
  Slot* best = nullptr;
  for (Slot& s : slots_) {
    if (s.leased || s.reserved || s.conn->state() != Connection::State::kReady) continue;
    const size_t n = s.conn->in_flight();
    if (n >= options_.pipeline_depth) continue;
    if (!best || n < best->conn->in_flight()) best = &s;
    if (n == 0) break;
  }
  return best;
}

void Pool::pump() {
  // Leases first: they need a connection with nothing in flight. Reserve the least busy one so
  // that it drains instead of being starved by a steady stream of queries.
  while (!lease_waiters_.empty()) {
    Slot* idle = nullptr;
    Slot* reserved = nullptr;
    Slot* least = nullptr;
    for (Slot& s : slots_) {
      if (s.leased || s.conn->state() != Connection::State::kReady) continue;
      if (s.conn->in_flight() == 0) {
        if (!idle || s.reserved) idle = &s;
      }
      if (s.reserved) reserved = &s;
      if (!least || s.conn->in_flight() < least->conn->in_flight()) least = &s;
    }
    if (idle) {
      LeaseWaiter w = std::move(lease_waiters_.front());
      lease_waiters_.pop_front();
      idle->leased = true;
      idle->reserved = false;
      idle->last_busy = uv_now(loop_);
      auto st = std::make_shared<Lease::State>(Lease::State{this, idle->conn});
      leases_.push_back(st);
      w.cb(Lease(std::move(st)));
      if (closing_) return;
      continue;
    }
    if (!reserved && least && slots_.size() >= max_size_) least->reserved = true;
    break;
  }
  // A reservation exists only for a waiting lease; once none waits, every connection takes queries.
  if (lease_waiters_.empty())
    for (Slot& s : slots_) s.reserved = false;
  while (!query_waiters_.empty()) {
    Slot* s = pick_for_query();
    if (!s) break;
    QueryWaiter w = std::move(query_waiters_.front());
    query_waiters_.pop_front();
    send(*s, std::move(w.req));
    if (closing_) return;
  }
  arm_timer();
}

void Pool::grow_if_needed() {
  if (closing_) return;
  size_t busy = 0;
  for (const Slot& s : slots_)
    if (s.leased || s.conn->state() != Connection::State::kReady || s.conn->in_flight() > 0) ++busy;
  const bool all_busy = busy == slots_.size();
  const size_t demand = query_waiters_.size() + lease_waiters_.size();
  // Open another connection when every open one is busy (so the next query does not queue behind
  // a pipeline) and fewer connections are opening than there are waiters.
  if (!all_busy || slots_.size() >= max_size_) return;
  if (connecting_ > 0 && connecting_ >= demand) return;
  const uint64_t now = uv_now(loop_);
  if (now < next_spawn_at_) {
    arm_timer();
    return;
  }
  spawn();
}

void Pool::spawn() {
  Connection::Options co{options_.connect_timeout, options_.token_auth};
  auto* c = new Connection(loop_, *this, &statements_, co);
  slots_.push_back(Slot{c});
  slots_.back().last_busy = uv_now(loop_);
  ++connecting_;
  ++connects_;
  c->connect(info_, &options_.credential);
  if (slots_.size() > 1) start_idle_sweep();
}

void Pool::start_idle_sweep() {
  if (options_.idle_timeout.count() <= 0 || closing_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&idle_timer_)))
    return;
  // Half the timeout: a connection idle for idle_timeout closes within 1.5 x idle_timeout.
  const uint64_t period = std::max<uint64_t>(static_cast<uint64_t>(options_.idle_timeout.count()) / 2, 10);
  uv_timer_start(&idle_timer_, [](uv_timer_t* h) { static_cast<Pool*>(h->data)->sweep_idle(); }, period, period);
}

void Pool::sweep_idle() {
  const uint64_t now = uv_now(loop_);
  const auto limit = static_cast<uint64_t>(options_.idle_timeout.count());
  size_t ready = 0;
  for (const Slot& s : slots_)
    if (s.conn->state() == Connection::State::kReady) ++ready;
  // Newest first: pick_for_query prefers the oldest idle connection, so under a steady load the
  // newest ones are the ones left idle.
  std::vector<Connection*> victims;
  for (auto it = slots_.rbegin(); it != slots_.rend() && ready > 1; ++it) {
    const Slot& s = *it;
    if (s.leased || s.reserved || s.conn->state() != Connection::State::kReady || s.conn->in_flight() > 0)
      continue;
    if (now - s.last_busy < limit) continue;
    victims.push_back(s.conn);
    --ready;
  }
  for (Connection* c : victims) {
    ++idle_closed_;
    c->close(retryable_error("query", "idle connection closed"));  // nothing in flight: unused
  }
  if (!victims.empty() && options_.log)
    options_.log(LogLevel::kDebug, "pool: closed " + std::to_string(victims.size()) + " idle connection(s), " +
                                       std::to_string(slots_.size() - victims.size()) + " remain");
  if (slots_.size() - victims.size() <= 1) uv_timer_stop(&idle_timer_);
}

void report_auth_failure(const PoolOptions& options, const Connection& c, const ProviderError& why) {
  if (!options.token_auth || !options.on_auth_failure) return;
  if (why.sqlstate != "28000" && why.sqlstate != "28P01") return;
  options.on_auth_failure(c.password());
}

void Pool::connection_ready(Connection& c) {
  --connecting_;
  if (backoff_.failures() > 0 && options_.log)
    options_.log(LogLevel::kInfo, "pool: connected again after " + std::to_string(backoff_.failures()) +
                                      " failed attempt(s)");
  backoff_.record_success();
  next_spawn_at_ = 0;
  if (Slot* s = find(c)) s->was_ready = true;
  pump();
}

void Pool::connection_has_room(Connection& c) {
  Slot* s = find(c);
  if (!s || s->leased) return;
  s->last_busy = uv_now(loop_);
  pump();
}

void Pool::connection_failed(Connection& c, const ProviderError& why) {
  Slot* s = find(c);
  // A connection that never became ready is a failed connect attempt: back off before the next.
  const bool never_ready = s && !s->was_ready;
  if (never_ready) {
    report_auth_failure(options_, c, why);
    --connecting_;
    backoff_.record_failure();
    next_spawn_at_ = uv_now(loop_) + static_cast<uint64_t>(backoff_.next_delay(rng_()).count());
  }
  if (!closing_) {
    ++(never_ready ? connect_failures_ : connections_lost_);
    if (options_.log)
      options_.log(LogLevel::kWarn, std::string(never_ready ? "pool: connection attempt failed: "
                                                            : "pool: connection lost: ") + why.message);
  }
  for (auto& l : leases_)
    if (l->conn == &c) l->conn = nullptr;
  c.close(why);
  bool usable = false;
  for (const Slot& o : slots_)
    if (o.conn != &c && o.conn->state() == Connection::State::kReady) usable = true;
  if (never_ready && !usable && connecting_ == 0) fail_waiters(why);
  if (!closing_) {
    grow_if_needed();
    pump();
  }
}

void Pool::connection_closed(Connection& c) {
  slots_.erase(std::remove_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.conn == &c; }),
               slots_.end());
  delete &c;
  if (closing_) {
    maybe_done();
    return;
  }
  // Replace it only for callers that wait: growing for nobody would reopen every connection the
  // idle sweep closes while the remaining ones are busy.
  if (!query_waiters_.empty() || !lease_waiters_.empty()) grow_if_needed();
}

void Pool::release_lease(Connection* c) {
  leases_.erase(std::remove_if(leases_.begin(), leases_.end(),
                               [&](const auto& l) { return l->conn == c; }),
                leases_.end());
  for (Slot& s : slots_) {
    if (s.conn == c) {
      s.leased = false;
      s.last_busy = uv_now(loop_);
      if (closing_) return;
      // A lease may have left a transaction open; a connection not idle in a clean state is
      // not trusted for pooled use.
      if (c->state() == Connection::State::kReady && PQtransactionStatus(c->raw()) != PQTRANS_IDLE) {
        c->close(retryable_error("query", "lease released inside a transaction"));
      }
      pump();
      return;
    }
  }
}

void Pool::cancel_waiting() {
  const ProviderError why = not_started_error();
  std::deque<QueryWaiter> qs;
  qs.swap(query_waiters_);
  std::deque<LeaseWaiter> ls;
  ls.swap(lease_waiters_);
  for (QueryWaiter& w : qs) defer(std::move(w.req.callback), why);
  for (LeaseWaiter& w : ls)
    defer([cb = std::move(w.cb), why](Result<QueryResult>) mutable { cb(std::unexpected(std::move(why))); }, why);
}

void Pool::fail_waiters(const ProviderError& why) {
  std::deque<QueryWaiter> qs;
  qs.swap(query_waiters_);
  std::deque<LeaseWaiter> ls;
  ls.swap(lease_waiters_);
  for (QueryWaiter& w : qs) w.req.callback(std::unexpected(why));
  for (LeaseWaiter& w : ls) w.cb(std::unexpected(why));
}

void Pool::arm_timer() {
  if (closing_) return;
  uint64_t next = UINT64_MAX;
  if (!query_waiters_.empty()) next = std::min(next, query_waiters_.front().deadline);
  if (!lease_waiters_.empty()) next = std::min(next, lease_waiters_.front().deadline);
  const bool want_spawn = (!query_waiters_.empty() || !lease_waiters_.empty()) &&
                          next_spawn_at_ > uv_now(loop_) && slots_.size() < max_size_;
  if (want_spawn) next = std::min(next, next_spawn_at_);
  if (next == UINT64_MAX) {
    uv_timer_stop(&timer_);
    return;
  }
  const uint64_t now = uv_now(loop_);
  uv_timer_start(&timer_, [](uv_timer_t* h) { static_cast<Pool*>(h->data)->on_timer(); },
                 next > now ? next - now : 0, 0);
}

void Pool::on_timer() {
  const uint64_t now = uv_now(loop_);
  const std::string why = "timed out after " + std::to_string(options_.acquire_timeout.count()) +
                          " ms waiting for a connection (pool max " + std::to_string(max_size_) + ")";
  while (!query_waiters_.empty() && query_waiters_.front().deadline <= now) {
    QueryWaiter w = std::move(query_waiters_.front());
    query_waiters_.pop_front();
    w.req.callback(std::unexpected(retryable_error("acquire", why)));
    if (closing_) return;
  }
  while (!lease_waiters_.empty() && lease_waiters_.front().deadline <= now) {
    LeaseWaiter w = std::move(lease_waiters_.front());
    lease_waiters_.pop_front();
    w.cb(std::unexpected(retryable_error("acquire", why)));
    if (closing_) return;
  }
  if (lease_waiters_.empty())
    for (Slot& s : slots_) s.reserved = false;
  grow_if_needed();
  arm_timer();
}

void Pool::defer(QueryCallback cb, ProviderError e) {
  deferred_.emplace_back(std::move(cb), std::move(e));
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&defer_timer_))) return;  // flushed in close
  uv_timer_start(&defer_timer_, [](uv_timer_t* h) {
    auto* self = static_cast<Pool*>(h->data);
    auto batch = std::move(self->deferred_);
    self->deferred_.clear();
    for (auto& [fn, err] : batch) fn(std::unexpected(std::move(err)));
  }, 0, 0);
}

Pool::Stats Pool::stats() const {
  Stats st{0, 0, 0, query_waiters_.size() + lease_waiters_.size(), connects_, connect_failures_,
           connections_lost_};
  st.idle_closed = idle_closed_;
  for (const Slot& s : slots_) {
    const Connection::State cs = s.conn->state();
    if (cs != Connection::State::kClosing && cs != Connection::State::kClosed) ++st.connections;
    if (s.conn->state() == Connection::State::kReady) {
      ++st.ready;
      if (s.conn->in_flight() == 0) ++st.idle;
    }
    st.in_flight += s.conn->in_flight();
  }
  return st;
}

void Pool::close(std::move_only_function<void()> done) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(done);
  fail_waiters(not_started_error());
  for (auto& l : leases_) l->conn = nullptr;
  leases_.clear();
  // Copy: closing may erase from slots_ through connection_closed (it never does synchronously,
  // but the copy keeps the loop obviously safe).
  std::vector<Connection*> conns;
  for (const Slot& s : slots_) conns.push_back(s.conn);
  for (Connection* c : conns) c->close(retryable_error("query", "pool closed while the query was in flight"));
  auto on_handle_closed = [](uv_handle_t* h) {
    auto* self = static_cast<Pool*>(h->data);
    --self->open_handles_;
    self->maybe_done();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&defer_timer_), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), on_handle_closed);
}

void Pool::maybe_done() {
  if (!closing_ || open_handles_ != 0 || !slots_.empty()) return;
  // Calls deferred before close still get their answer, exactly once.
  auto batch = std::move(deferred_);
  deferred_.clear();
  for (auto& [cb, e] : batch) cb(std::unexpected(std::move(e)));
  if (on_closed_) {
    auto done = std::move(on_closed_);
    on_closed_ = nullptr;
    done();  // may destroy the pool
  }
}

}  // namespace duroxide::pg
