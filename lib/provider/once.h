// A callback that may be reached from two paths (a long-poll scan and the poll's empty ending)
// but must run exactly once.
#pragma once

#include <memory>

#include "duroxide/provider.h"

namespace duroxide::pg {

template <class T>
class Once {
 public:
  explicit Once(Callback<T> cb) : state_(std::make_shared<State>(std::move(cb))) {}
  // True when this call delivered the result; false when it had already been delivered.
  bool operator()(Result<T> r) const {
    if (state_->fired) return false;
    state_->fired = true;
    auto cb = std::move(state_->cb);
    cb(std::move(r));
    return true;
  }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    explicit State(Callback<T> c) : cb(std::move(c)) {}
    Callback<T> cb;
    bool fired = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace duroxide::pg
