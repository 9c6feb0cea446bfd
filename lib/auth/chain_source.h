// The default chain as a TokenSource: tries its sources in order (auth/chain_plan.h) until one
// yields a token, then sticks to that one for every later refresh (asking IMDS and two CLIs again
// each time would only add latency and noise). When every source fails, the error names each
// source tried — and those skipped — with its reason.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "auth/token_refresher.h"

namespace duroxide::pg::auth {

class ChainSource final : public LoopTokenSource {
 public:
  struct Entry {
    std::string name;  // "managed identity", for messages
    std::shared_ptr<LoopTokenSource> source;
  };
  ChainSource(std::vector<Entry> entries, std::vector<std::string> skipped);
  void get_token(const std::string& scope, TokenCallback cb) override;
  void cancel() override;
  void close(std::move_only_function<void()> done) override;
  ~ChainSource() override;

 private:
  void try_from(std::size_t i);
  std::vector<Entry> entries_;
  std::vector<std::string> skipped_;
  std::optional<std::size_t> winner_;
  // The request in progress.
  std::string scope_;
  TokenCallback cb_;
  std::vector<std::string> failures_;
  std::optional<std::size_t> active_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace duroxide::pg::auth
