// A dedicated connection that LISTENs on a set of channels and reports each notification.
//
// The listener reconnects by itself (exponential backoff with jitter) and re-issues its LISTENs
// after every reconnect. Notifications sent while it was disconnected are lost, so it reports
// every (re)established subscription through `on_subscribed`: a consumer that waits for
// notifications must rescan whatever it watches at that moment.
//
// Lifetime and threading as for Pool: loop thread only; close(done) before destruction.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "pool/backoff.h"
#include "pool/connection.h"
#include "pool/pool.h"

namespace duroxide::pg {

class Listener final : public ConnectionOwner {
 public:
  struct Callbacks {
    std::function<void(std::string_view channel, std::string_view payload)> on_notify;
    // Every channel is LISTENed on the current connection (first time and after reconnects).
    std::function<void()> on_subscribed;
    // The listening connection was lost or could not be opened (reconnect is scheduled).
    std::function<void(const ProviderError&)> on_lost;
  };

  static Result<std::unique_ptr<Listener>> create(uv_loop_t* loop, const PoolOptions& options,
                                                  Callbacks callbacks);
  ~Listener();

  // Adds a channel (a plain name; quoted as an identifier when sent). Takes effect immediately
  // when connected, else at the next connect. Starts connecting on first use.
  void listen(std::string channel);
  void unlisten(const std::string& channel);
  bool subscribed() const { return subscribed_; }

  void close(std::move_only_function<void()> done);

  void connection_ready(Connection& c) override;
  void connection_has_room(Connection&) override {}
  void connection_failed(Connection& c, const ProviderError& why) override;
  void connection_closed(Connection& c) override;
  void connection_notification(Connection&, std::string_view channel,
                               std::string_view payload) override;

 private:
  Listener(uv_loop_t* loop, const PoolOptions& options, ConnInfo info, Callbacks callbacks);
  void connect_now();
  void schedule_reconnect();
  void send_listen(const std::string& channel, bool listen);
  void maybe_done();

  uv_loop_t* loop_;
  PoolOptions options_;
  ConnInfo info_;
  Callbacks cb_;
  std::set<std::string> channels_;
  Connection* conn_ = nullptr;
  bool subscribed_ = false;
  uint64_t generation_ = 0;  // bumps per connection: stale LISTEN replies are ignored
  Backoff backoff_;
  std::minstd_rand rng_;
  uv_timer_t timer_;
  int open_handles_ = 1;  // the timer
  int live_connections_ = 0;
  bool closing_ = false;
  std::move_only_function<void()> on_closed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace duroxide::pg
