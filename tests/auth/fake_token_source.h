// A scripted TokenSource for tests: answers each get_token on the next loop turn with the next
// scripted result (or, when the script is empty, with `fallback`), counting calls.
#pragma once

#include <uv.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "auth/loop_defer.h"
#include "duroxide/pg/entra.h"

namespace duroxide::test {

inline std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

class FakeTokenSource final : public pg::TokenSource {
 public:
  explicit FakeTokenSource(uv_loop_t* loop) : loop_(loop) {}

  void get_token(const std::string& scope, pg::TokenCallback cb) override {
    ++calls;
    last_scope = scope;
    Result<pg::AccessToken> r = fallback;
    if (!script.empty()) {
      r = std::move(script.front());
      script.pop_front();
    }
    auto alive = alive_;
    pending_ = true;
    pg::auth::defer_on_loop(loop_, [this, alive, r = std::move(r), cb = std::move(cb)]() mutable {
      if (!*alive) return;
      pending_ = false;
      if (hold) {
        held = std::move(cb);
        held_result = std::move(r);
        return;
      }
      cb(std::move(r));
    });
  }
  void cancel() override { ++cancels; }
  ~FakeTokenSource() override { *alive_ = false; }

  static pg::AccessToken token(std::string t, std::int64_t lifetime_ms = 3600 * 1000) {
    return pg::AccessToken{std::move(t), epoch_ms() + lifetime_ms, std::nullopt};
  }
  // Releases a held answer (see `hold`).
  void release() {
    if (held) {
      auto cb = std::move(held);
      held = nullptr;
      cb(std::move(held_result));
    }
  }

  std::deque<Result<pg::AccessToken>> script;
  Result<pg::AccessToken> fallback = std::unexpected(retryable_error("fake", "no scripted token"));
  int calls = 0;
  int cancels = 0;
  std::string last_scope;
  bool hold = false;  // keep answers until release()
  pg::TokenCallback held;
  Result<pg::AccessToken> held_result = std::unexpected(ProviderError{});

 private:
  uv_loop_t* loop_;
  bool pending_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace duroxide::test
