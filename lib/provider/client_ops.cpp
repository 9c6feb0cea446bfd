// Client-side operations: enqueueing, custom status, KV reads, instance statistics
// (contract §5.15–§5.19).
#include "duroxide/pg/postgres_provider.h"
#include "provider/impl.h"
#include "provider/pg_text.h"

namespace duroxide::pg {

void PostgresProvider::enqueue_for_orchestrator(WorkItem item, std::optional<Millis> delay, Callback<void> cb) {
  cb = impl_->track("enqueue_for_orchestrator", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "enqueue_for_orchestrator";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (item.holds<WorkItem::ActivityExecute>())
    return s.fail_later(cb, invalid_argument(op, "Invalid work item type: ActivityExecute belongs on the worker queue"));
  const std::string_view routing = routing_instance(item);
  if (!storable_text(routing)) return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  Params p;
  p.add_int(s.now()).add(routing).add(variant_name(item)).add(encode(item));
  if (delay) p.add_int(ms(*delay)); else p.add_null();
  s.add_channel(p, QueueKind::kOrchestrator);
  s.pool->query(s.st.enqueue_orchestrator, std::move(p), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("enqueue_for_orchestrator", r.error())));
    s.notify_committed(QueueKind::kOrchestrator);
    cb({});
  });
}

void PostgresProvider::get_custom_status(std::string instance, std::uint64_t last_seen_version,
                                         Callback<std::optional<CustomStatus>> cb) {
  cb = impl_->track("get_custom_status", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_custom_status";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance) || !fits_int64(last_seen_version)) {
    // No stored instance can match.
    s.deferred.post([cb = std::move(cb)]() mutable { cb(std::optional<CustomStatus>{}); });
    return;
  }
  s.pool->query(s.st.custom_status, Params().add(instance).add_int(static_cast<int64_t>(last_seen_version)),
                [cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("get_custom_status", r.error())));
                  if (r->rows() == 0) return cb(std::optional<CustomStatus>{});
                  CustomStatus out;
                  if (!r->is_null(0, 0)) out.status = bytea_decode(r->get(0, 0));
                  out.version = static_cast<uint64_t>(r->get_int64(0, 1));
                  cb(std::optional<CustomStatus>(std::move(out)));
                });
}

void PostgresProvider::get_kv_value(std::string instance, std::string key, Callback<std::optional<std::string>> cb) {
  cb = impl_->track("get_kv_value", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_kv_value";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance) || !storable_text(key)) {
    s.deferred.post([cb = std::move(cb)]() mutable { cb(std::optional<std::string>{}); });
    return;
  }
  s.pool->query(s.st.kv_value, Params().add(instance).add(key), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("get_kv_value", r.error())));
    // Delta first: a delta row (value or tombstone) hides the store.
    if (r->get(0, 1) == "t") {
      if (r->is_null(0, 0)) return cb(std::optional<std::string>{});
      return cb(bytea_decode(r->get(0, 0)));
    }
    if (r->is_null(0, 2)) return cb(std::optional<std::string>{});
    cb(bytea_decode(r->get(0, 2)));
  });
}

void PostgresProvider::get_kv_all_values(std::string instance, Callback<std::map<std::string, std::string>> cb) {
  cb = impl_->track("get_kv_all_values", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_kv_all_values";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) {
    s.deferred.post([cb = std::move(cb)]() mutable { cb(std::map<std::string, std::string>{}); });
    return;
  }
  s.pool->query(s.st.kv_all, Params().add(instance), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("get_kv_all_values", r.error())));
    std::map<std::string, std::string> out;
    for (int i = 0; i < r->rows(); ++i)
      if (auto v = bytea_decode(r->get(i, 1))) out.emplace(std::string(r->get(i, 0)), std::move(*v));
    cb(std::move(out));
  });
}

void PostgresProvider::get_instance_stats(std::string instance, Callback<std::optional<SystemStats>> cb) {
  cb = impl_->track("get_instance_stats", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_instance_stats";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) {
    s.deferred.post([cb = std::move(cb)]() mutable { cb(std::optional<SystemStats>{}); });
    return;
  }
  s.pool->query(s.st.instance_stats, Params().add(instance), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("get_instance_stats", r.error())));
    if (r->rows() == 0 || r->is_null(0, 0)) return cb(std::optional<SystemStats>{});  // unknown instance
    SystemStats st;
    st.history_event_count = static_cast<uint64_t>(r->get_int64(0, 1));
    st.history_size_bytes = static_cast<uint64_t>(r->get_int64(0, 2));
    if (!r->is_null(0, 3)) {
      Result<Event> first = s.decoder.decode_event(r->get(0, 3));
      if (!first)
        return cb(std::unexpected(permanent_error("get_instance_stats",
                                                  "event 1 is unreadable: " + first.error().message)));
      if (auto* started = first->kind.get_if<EventKind::OrchestrationStarted>())
        st.queue_pending_count = started->carry_forward_events ? started->carry_forward_events->size() : 0;
    }
    st.kv_user_key_count = static_cast<uint64_t>(r->get_int64(0, 4));
    st.kv_total_value_bytes = static_cast<uint64_t>(r->get_int64(0, 5));
    cb(std::optional<SystemStats>(st));
  });
}

}  // namespace duroxide::pg
