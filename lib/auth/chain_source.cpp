#include "auth/chain_source.h"

namespace duroxide::pg::auth {

ChainSource::ChainSource(std::vector<Entry> entries, std::vector<std::string> skipped)
    : entries_(std::move(entries)), skipped_(std::move(skipped)) {}

ChainSource::~ChainSource() { *alive_ = false; }

void ChainSource::get_token(const std::string& scope, TokenCallback cb) {
  scope_ = scope;
  cb_ = std::move(cb);
  failures_.clear();
  if (winner_) {
    const std::size_t w = *winner_;
    active_ = w;
    entries_[w].source->get_token(scope_, [this, w, alive = std::weak_ptr<bool>(alive_)](Result<AccessToken> r) {
      if (alive.expired() || active_ != w) return;
      active_.reset();
      TokenCallback done = std::move(cb_);
      cb_ = nullptr;
      done(std::move(r));
    });
    return;
  }
  try_from(0);
}

void ChainSource::try_from(std::size_t i) {
  if (i >= entries_.size()) {
    active_.reset();
    std::string msg = "no credential in the chain produced a token: ";
    // In chain order: only workload identity is ever skipped, and it comes first.
    std::vector<std::string> all = skipped_;
    all.insert(all.end(), failures_.begin(), failures_.end());
    for (std::size_t k = 0; k < all.size(); ++k) msg += (k ? "; " : "") + all[k];
    TokenCallback cb = std::move(cb_);
    cb_ = nullptr;
    cb(std::unexpected(retryable_error("entra_token", std::move(msg))));
    return;
  }
  active_ = i;
  entries_[i].source->get_token(scope_, [this, i, alive = std::weak_ptr<bool>(alive_)](Result<AccessToken> r) {
    if (alive.expired() || active_ != i) return;
    if (r) {
      winner_ = i;
      active_.reset();
      TokenCallback done = std::move(cb_);
      cb_ = nullptr;
      done(std::move(r));
      return;
    }
    // Each source's message starts with its own name ("managed identity (IMDS): ...").
    failures_.push_back(r.error().message);
    try_from(i + 1);
  });
}

void ChainSource::cancel() {
  if (active_) entries_[*active_].source->cancel();
  active_.reset();
  cb_ = nullptr;
}

void ChainSource::close(std::move_only_function<void()> done) {
  cancel();
  // Close the sources one after another, then report.
  struct Closer {
    std::vector<Entry> entries;
    std::size_t next = 0;
    std::move_only_function<void()> done;
    static void step(std::shared_ptr<Closer> c) {
      if (c->next >= c->entries.size()) {
        auto d = std::move(c->done);
        d();
        return;
      }
      auto src = c->entries[c->next++].source;
      src->close([c] { step(c); });
    }
  };
  auto c = std::make_shared<Closer>(Closer{entries_, 0, std::move(done)});
  Closer::step(c);
}

}  // namespace duroxide::pg::auth
