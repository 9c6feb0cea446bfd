// The worker dispatcher's operations and session upkeep (contract §5.8–§5.14).
#include "duroxide/pg/postgres_provider.h"
#include "provider/impl.h"
#include "provider/once.h"
#include "provider/pg_text.h"

namespace duroxide::pg {
namespace {

constexpr std::string_view kFetch = "fetch_work_item";

struct TagArgs {
  const char* mode;
  std::optional<std::string> tags;  // text[] literal
  bool never_matches = false;
};

TagArgs tag_args(const TagFilter& f) {
  auto list = [](const std::set<std::string>& tags) {
    ArrayLiteral a;
    for (const std::string& t : tags) a.add(t);
    return a.finish();
  };
  if (f.holds<TagFilter::DefaultOnly>()) return {"default_only", std::nullopt};
  if (f.holds<TagFilter::Any>()) return {"any", std::nullopt};
  if (f.holds<TagFilter::None>()) return {"none", std::nullopt, true};
  if (auto* t = f.get_if<TagFilter::Tags>()) return {"tags", list(t->tags), t->tags.empty()};
  const auto& d = *f.get_if<TagFilter::DefaultAnd>();
  if (d.tags.empty()) return {"default_only", std::nullopt};
  return {"default_and", list(d.tags)};
}

struct WorkScan {
  PostgresProvider::Impl& s;
  int64_t lock_ms;
  TagArgs tags;
  std::optional<SessionFetchConfig> session;
  Once<std::optional<LockedWorkItem>> deliver;
  std::move_only_function<void(ScanVerdict)> verdict;

  void run(std::optional<std::string> reject_token) {
    Params p;
    p.add_int(s.now()).add_int(lock_ms).add(tags.mode);
    if (tags.tags) p.add(*tags.tags); else p.add_null();
    if (session) p.add(session->owner_id).add_int(ms(session->lock_timeout)); else p.add_null().add_null();
    p.add(new_lock_token());
    if (reject_token) p.add(*reject_token); else p.add_null();
    p.add_int(ms(s.options.quarantine_base)).add_int(ms(s.options.quarantine_max)).add(s.worker_channel);
    s.pool->query(s.st.fetch_work, std::move(p), [this](Result<QueryResult> r) { on_result(std::move(r)); });
  }

  void finish(ScanVerdict v) {
    auto cb = std::move(verdict);
    delete this;
    cb(v);
  }

  void on_result(Result<QueryResult> r) {
    if (!r) {
      deliver(std::unexpected(op_error(kFetch, r.error())));
      return finish({true, std::nullopt});
    }
    if (r->rows() == 0 || r->get(0, 0) == "none") {
      std::optional<int64_t> wake;
      // Relative to the clock now, not at the scan's start: the round trip is already behind us.
      if (r->rows() > 0 && !r->is_null(0, 5)) wake = r->get_int64(0, 5) - s.now();
      return finish({false, wake});
    }
    std::string token(r->get(0, 3));
    Result<WorkItem> wi = s.decoder.decode_work_item(r->get(0, 2));
    if (!wi || !wi->holds<WorkItem::ActivityExecute>()) {
      // Quarantine it and look for the next candidate, in the same call (contract §7.3).
      run(std::move(token));
      return;
    }
    deliver(std::optional<LockedWorkItem>(
        LockedWorkItem{std::move(*wi), std::move(token), static_cast<uint32_t>(r->get_int64(0, 4))}));
    finish({true, std::nullopt});
  }
};

bool is_completion(const WorkItem& w) {
  return w.holds<WorkItem::ActivityCompleted>() || w.holds<WorkItem::ActivityFailed>();
}

}  // namespace

void PostgresProvider::enqueue_for_worker(WorkItem item, Callback<void> cb) {
  cb = impl_->track("enqueue_for_worker", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "enqueue_for_worker";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  const auto* ae = item.get_if<WorkItem::ActivityExecute>();
  if (!ae)
    return s.fail_later(cb, invalid_argument(op, "Invalid work item type: " + std::string(variant_name(item)) +
                                                     " cannot be enqueued to the worker queue"));
  if (!fits_int64(ae->execution_id) || !fits_int64(ae->id))
    return s.fail_later(cb, invalid_argument(op, "activity identity out of range"));
  if (!storable_text(ae->instance) || (ae->session_id && !storable_text(*ae->session_id)) ||
      (ae->tag && !storable_text(*ae->tag)))
    return s.fail_later(cb, invalid_argument(op, "instance id, session id or tag contains U+0000"));
  Params p;
  p.add_int(s.now()).add("ActivityExecute").add(encode(item)).add(ae->instance);
  p.add_int(static_cast<int64_t>(ae->execution_id)).add_int(static_cast<int64_t>(ae->id));
  if (ae->session_id) p.add(*ae->session_id); else p.add_null();
  if (ae->tag) p.add(*ae->tag); else p.add_null();
  s.add_channel(p, QueueKind::kWorker);
  s.pool->query(s.st.enqueue_worker, std::move(p), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("enqueue_for_worker", r.error())));
    s.notify_committed(QueueKind::kWorker);
    cb({});
  });
}

void PostgresProvider::fetch_work_item(Millis lock_timeout, Millis poll_timeout,
                                       std::optional<SessionFetchConfig> session, TagFilter tag_filter,
                                       Callback<std::optional<LockedWorkItem>> cb) {
  cb = impl_->track("fetch_work_item", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error(kFetch));
  if (session && !storable_text(session->owner_id))
    return s.fail_later(cb, invalid_argument(kFetch, "session owner id contains U+0000"));
  Once<std::optional<LockedWorkItem>> deliver(std::move(cb));
  auto finish_empty = [deliver] { deliver(std::optional<LockedWorkItem>{}); };
  TagArgs tags = tag_args(tag_filter);
  if (tags.never_matches) {
    s.polls.start(QueueKind::kWorker, poll_timeout, std::nullopt,
                  [](std::move_only_function<void(ScanVerdict)> v) { v(ScanVerdict{false, std::nullopt}); },
                  finish_empty);
    return;
  }
  if (poll_timeout.count() > 0) s.ensure_listener();
  const int64_t lock_ms = ms(lock_timeout);
  // Fetchers with the same tag filter and session owner see the same work (one wake class).
  std::string wake_class = to_string(tag_filter) + (session ? "|session:" + session->owner_id : "|-");
  s.polls.start(QueueKind::kWorker, poll_timeout, std::move(wake_class),
                [&s, lock_ms, tags, session, deliver](std::move_only_function<void(ScanVerdict)> verdict) {
                  if (s.closing) return verdict(ScanVerdict{false, std::nullopt});
                  auto* scan = new WorkScan{s, lock_ms, tags, session, deliver, std::move(verdict)};
                  scan->run(std::nullopt);
                },
                finish_empty);
}

void PostgresProvider::ack_work_item(std::string lock_token, std::optional<WorkItem> completion,
                                     Callback<void> cb) {
  cb = impl_->track("ack_work_item", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "ack_work_item";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (completion && !is_completion(*completion))
    return s.fail_later(cb, invalid_argument(op, "Invalid work item type: " + std::string(variant_name(*completion)) +
                                                     " is not an activity completion"));
  if (completion && !storable_text(routing_instance(*completion)))
    return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  const bool is_retry = s.ambiguous_acks.count(lock_token) > 0;
  Params p;
  p.add_int(s.now()).add(lock_token);
  if (completion) p.add(variant_name(*completion)).add(encode(*completion)).add(routing_instance(*completion));
  else p.add_null().add_null().add_null();
  p.add_bool(is_retry);
  s.add_channel(p, QueueKind::kOrchestrator);
  const bool completes = completion.has_value();
  s.pool->query(s.st.ack_work, std::move(p),
                [&s, completes, token = std::move(lock_token), cb = std::move(cb)](Result<QueryResult> r) mutable {
                  s.settle_ack(token, r);
                  if (!r) return cb(std::unexpected(op_error("ack_work_item", r.error())));
                  if (completes) s.notify_committed(QueueKind::kOrchestrator);
                  cb({});
                });
}

void PostgresProvider::renew_work_item_lock(std::string lock_token, Millis extend_for, Callback<void> cb) {
  cb = impl_->track("renew_work_item_lock", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("renew_work_item_lock"));
  Params p;
  p.add_int(s.now()).add(lock_token).add_int(ms(extend_for));
  s.pool->query(s.st.renew_work, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("renew_work_item_lock", r.error())));
    cb({});
  });
}

void PostgresProvider::abandon_work_item(std::string lock_token, std::optional<Millis> delay, bool ignore_attempt,
                                         Callback<void> cb) {
  cb = impl_->track("abandon_work_item", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("abandon_work_item"));
  Params p;
  p.add_int(s.now()).add(lock_token);
  if (delay) p.add_int(ms(*delay)); else p.add_null();
  p.add_bool(ignore_attempt);
  s.add_channel(p, QueueKind::kWorker);
  s.pool->query(s.st.abandon_work, std::move(p), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("abandon_work_item", r.error())));
    s.notify_committed(QueueKind::kWorker);
    cb({});
  });
}

void PostgresProvider::renew_session_lock(std::vector<std::string> owner_ids, Millis extend_for, Millis idle_timeout,
                                          Callback<std::uint64_t> cb) {
  cb = impl_->track("renew_session_lock", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "renew_session_lock";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (owner_ids.empty()) {
    s.deferred.post([cb = std::move(cb)]() mutable { cb(uint64_t{0}); });
    return;
  }
  ArrayLiteral owners;
  for (const std::string& o : owner_ids) {
    if (!storable_text(o)) return s.fail_later(cb, invalid_argument(op, "owner id contains U+0000"));
    owners.add(o);
  }
  Params p;
  p.add_int(s.now()).add(owners.finish()).add_int(ms(extend_for)).add_int(ms(idle_timeout));
  s.pool->query(s.st.renew_sessions, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("renew_session_lock", r.error())));
    cb(r->affected());
  });
}

void PostgresProvider::cleanup_orphaned_sessions(Millis, Callback<std::uint64_t> cb) {
  cb = impl_->track("cleanup_orphaned_sessions", std::move(cb));
  // idle_timeout does not change the deletion set (contract §5.14).
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("cleanup_orphaned_sessions"));
  s.pool->query(s.st.cleanup_sessions, Params().add_int(s.now()), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("cleanup_orphaned_sessions", r.error())));
    cb(r->affected());
  });
}

}  // namespace duroxide::pg
