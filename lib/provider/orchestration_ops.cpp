// The orchestration dispatcher's operations (contract §5.1–§5.4).
#include <algorithm>

#include "duroxide/pg/postgres_provider.h"
#include "provider/impl.h"
#include "provider/once.h"
#include "provider/pg_text.h"

namespace duroxide::pg {
namespace {

constexpr std::string_view kFetch = "fetch_orchestration_item";
constexpr std::string_view kAck = "ack_orchestration_item";

// One scan of the orchestrator queue: a call of the fetch function, plus a second call when C++
// rejects rows that SQL accepted (a message that does not deserialize is quarantined there).
struct OrchestrationScan {
  PostgresProvider::Impl& s;
  int64_t lock_ms;
  std::optional<std::string> ranges;  // flattened bigint[] literal, absent = no filter
  Once<std::optional<LockedOrchestration>> deliver;
  std::move_only_function<void(ScanVerdict)> verdict;

  void run(std::optional<std::string> reject_token, std::optional<std::string> reject_ids) {
    Params p;
    p.add_int(s.now()).add_int(lock_ms);
    if (ranges) p.add(*ranges); else p.add_null();
    p.add(new_lock_token());
    if (reject_token) p.add(*reject_token); else p.add_null();
    if (reject_ids) p.add(*reject_ids); else p.add_null();
    p.add_int(ms(s.options.orphan_defer_min)).add_int(ms(s.options.orphan_defer_max));
    p.add_int(ms(s.options.quarantine_base)).add_int(ms(s.options.quarantine_max));
    p.add(s.orch_channel);
    s.pool->query(s.st.fetch_orchestration, std::move(p),
                  [this](Result<QueryResult> r) { on_result(std::move(r)); });
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
    const QueryResult& res = *r;
    if (res.rows() == 0) {
      deliver(std::unexpected(permanent_error(std::string(kFetch), "fetch function returned no rows")));
      return finish({true, std::nullopt});
    }
    if (res.get(0, 0) == "none") {
      std::optional<int64_t> wake;
      // Relative to the clock now, not at the scan's start: the round trip is already behind us.
      if (!res.is_null(0, 12)) wake = res.get_int64(0, 12) - s.now();
      return finish({false, wake});
    }
    // Header row, then messages, history, kv (see lib/sql/README.md).
    LockedOrchestration out;
    OrchestrationItem& item = out.item;
    item.instance = std::string(res.get(0, 1));
    item.execution_id = static_cast<uint64_t>(res.get_int64(0, 2));
    std::string name = res.is_null(0, 3) ? "" : std::string(res.get(0, 3));
    std::string version = res.is_null(0, 4) ? "unknown" : std::string(res.get(0, 4));
    const std::string_view meta_source = res.get(0, 5);
    out.lock_token = std::string(res.get(0, 6));
    out.attempt_count = static_cast<uint32_t>(res.get_int64(0, 7));
    const int64_t meta_seq = res.is_null(0, 8) ? -1 : res.get_int64(0, 8);

    ArrayLiteral rejected;
    std::vector<std::pair<int64_t, WorkItem>> messages;
    std::vector<std::string_view> history_text;
    for (int row = 1; row < res.rows(); ++row) {
      const std::string_view type = res.get(row, 0);
      if (type == "message") {
        Result<WorkItem> wi = s.decoder.decode_work_item(res.get(row, 9));
        if (!wi || wi->holds<WorkItem::ActivityExecute>()) {
          rejected.add(res.get_int64(row, 8));
          continue;
        }
        messages.emplace_back(res.get_int64(row, 8), std::move(*wi));
      } else if (type == "history") {
        history_text.push_back(res.get(row, 9));
      } else if (type == "kv") {
        std::optional<std::string> value = bytea_decode(res.get(row, 10));
        if (!value) continue;
        item.kv_snapshot.emplace(std::string(res.get(row, 9)),
                                 KvEntry{std::move(*value), static_cast<uint64_t>(res.get_int64(row, 11))});
      }
    }
    if (!rejected.empty()) {
      // Quarantine the rows SQL could not judge and continue the scan in the same call.
      run(out.lock_token, rejected.finish());
      return;
    }

    // History of the execution; an unreadable event turns into history_error (the lock stays).
    std::optional<std::string> history_error;
    for (std::string_view text : history_text) {
      Result<Event> e = s.decoder.decode_event(text);
      if (!e) {
        history_error = "history of " + item.instance + " execution " + std::to_string(item.execution_id) +
                        " is unreadable: " + e.error().message;
        break;
      }
      item.history.push_back(std::move(*e));
    }
    if (meta_source == "history") {
      name.clear();
      if (!history_error) {
        for (const Event& e : item.history)
          if (auto* st = e.kind.get_if<EventKind::OrchestrationStarted>()) {
            name = st->name;
            version = st->version;
            break;
          }
      }
      if (name.empty()) {
        name = "unknown";
        version = "unknown";
      }
    } else if (meta_source == "message") {
      for (const auto& [id, wi] : messages) {
        if (id != meta_seq) continue;
        if (auto* so = wi.get_if<WorkItem::StartOrchestration>()) {
          name = so->orchestration;
          version = so->version.value_or("unknown");
        } else if (auto* can = wi.get_if<WorkItem::ContinueAsNew>()) {
          name = can->orchestration;
          version = can->version.value_or("unknown");
        }
      }
    }
    if (history_error) {
      item.history.clear();
      item.kv_snapshot.clear();
      item.history_error = std::move(history_error);
    }
    item.orchestration_name = std::move(name);
    item.version = std::move(version);
    item.messages.reserve(messages.size());
    for (auto& [id, wi] : messages) item.messages.push_back(std::move(wi));
    const bool more_work = !res.is_null(0, 12);  // see the item row in fetch_orchestration_item
    deliver(std::optional<LockedOrchestration>(std::move(out)));
    finish({true, std::nullopt, more_work});
  }
};

std::string encode_ranges(const DispatcherCapabilityFilter& f) {
  ArrayLiteral a;
  for (const SemverRange& r : f.supported_duroxide_versions) {
    for (const SemVer* v : {&r.min, &r.max}) {
      // Components beyond int8 cannot be stored; clamp so that comparison stays exact for
      // everything storable.
      a.add(static_cast<int64_t>(std::min<uint64_t>(v->major, INT64_MAX)));
      a.add(static_cast<int64_t>(std::min<uint64_t>(v->minor, INT64_MAX)));
      a.add(static_cast<int64_t>(std::min<uint64_t>(v->patch, INT64_MAX)));
    }
  }
  return a.finish();
}

}  // namespace

void PostgresProvider::fetch_orchestration_item(Millis lock_timeout, Millis poll_timeout,
                                                std::optional<DispatcherCapabilityFilter> filter,
                                                Callback<std::optional<LockedOrchestration>> cb) {
  cb = impl_->track("fetch_orchestration_item", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error(kFetch));
  Once<std::optional<LockedOrchestration>> deliver(std::move(cb));
  auto finish_empty = [deliver] { deliver(std::optional<LockedOrchestration>{}); };
  if (filter && filter->supported_duroxide_versions.empty()) {
    // Supports nothing: no storage access, just the wait (contract §6.7).
    s.polls.start(QueueKind::kOrchestrator, poll_timeout, std::nullopt,
                  [](std::move_only_function<void(ScanVerdict)> v) { v(ScanVerdict{false, std::nullopt}); },
                  finish_empty);
    return;
  }
  if (poll_timeout.count() > 0) s.ensure_listener();
  std::optional<std::string> ranges;
  if (filter) ranges = encode_ranges(*filter);
  const int64_t lock_ms = ms(lock_timeout);
  // Fetchers with the same capability ranges see the same work (one wake class).
  s.polls.start(QueueKind::kOrchestrator, poll_timeout, ranges.value_or("*"),
                [&s, lock_ms, ranges, deliver](std::move_only_function<void(ScanVerdict)> verdict) {
                  if (s.closing) return verdict(ScanVerdict{false, std::nullopt});
                  auto* scan = new OrchestrationScan{s, lock_ms, ranges, deliver, std::move(verdict)};
                  scan->run(std::nullopt, std::nullopt);
                },
                finish_empty);
}

void PostgresProvider::ack_orchestration_item(std::string lock_token, std::uint64_t execution_id,
                                              std::vector<Event> history_delta,
                                              std::vector<WorkItem> worker_items,
                                              std::vector<WorkItem> orchestrator_items,
                                              ExecutionMetadata metadata,
                                              std::vector<ScheduledActivityIdentifier> cancelled_activities,
                                              Callback<void> cb) {
  cb = impl_->track("ack_orchestration_item", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error(kAck));
  if (!fits_int64(execution_id) || execution_id == 0)
    return s.fail_later(cb, invalid_argument(kAck, "execution_id must be between 1 and 9223372036854775807"));

  ArrayLiteral ev_ids, ev_types, ev_datas;
  std::optional<std::optional<std::string>> custom_status;  // outer: an update exists
  ArrayLiteral kv_ops, kv_keys, kv_values, kv_times;
  std::string buf;
  for (const Event& e : history_delta) {
    if (e.event_id == 0 || !fits_int64(e.event_id))
      return s.fail_later(cb, invalid_argument(kAck, "event_id " + std::to_string(e.event_id) +
                                                         " (must be between 1 and 9223372036854775807)"));
    buf.clear();
    encode_to(buf, e);
    ev_ids.add(static_cast<int64_t>(e.event_id));
    ev_types.add(event_type_name(e));
    ev_datas.add(buf);
    if (auto* cs = e.kind.get_if<EventKind::CustomStatusUpdated>()) custom_status = cs->status;
    if (auto* set = e.kind.get_if<EventKind::KeyValueSet>()) {
      if (!storable_text(set->key)) return s.fail_later(cb, invalid_argument(kAck, "KV key contains U+0000"));
      kv_ops.add("set");
      kv_keys.add(set->key);
      kv_values.add_bytea(set->value);
      kv_times.add(static_cast<int64_t>(std::min<uint64_t>(set->last_updated_at_ms, INT64_MAX)));
    } else if (auto* clr = e.kind.get_if<EventKind::KeyValueCleared>()) {
      if (!storable_text(clr->key)) return s.fail_later(cb, invalid_argument(kAck, "KV key contains U+0000"));
      kv_ops.add("clear");
      kv_keys.add(clr->key);
      kv_values.add_null();
      kv_times.add_null();
    } else if (e.kind.holds<EventKind::KeyValuesCleared>()) {
      kv_ops.add("clear_all");
      kv_keys.add_null();
      kv_values.add_null();
      kv_times.add_null();
    }
  }

  ArrayLiteral w_kinds, w_items, w_inst, w_exec, w_act, w_sess, w_tags;
  for (const WorkItem& wi : worker_items) {
    const auto* ae = wi.get_if<WorkItem::ActivityExecute>();
    if (!ae)
      return s.fail_later(cb, invalid_argument(kAck, "Invalid work item type: " +
                                                         std::string(variant_name(wi)) + " in worker_items"));
    if (!fits_int64(ae->execution_id) || !fits_int64(ae->id))
      return s.fail_later(cb, invalid_argument(kAck, "activity identity out of range"));
    if (!storable_text(ae->instance) || (ae->session_id && !storable_text(*ae->session_id)) ||
        (ae->tag && !storable_text(*ae->tag)))
      return s.fail_later(cb, invalid_argument(kAck, "instance id, session id or tag contains U+0000"));
    buf.clear();
    encode_to(buf, wi);
    w_kinds.add("ActivityExecute");
    w_items.add(buf);
    w_inst.add(ae->instance);
    w_exec.add(static_cast<int64_t>(ae->execution_id));
    w_act.add(static_cast<int64_t>(ae->id));
    w_sess.add(ae->session_id);
    w_tags.add(ae->tag);
  }

  ArrayLiteral o_kinds, o_items, o_inst, o_fire;
  for (const WorkItem& wi : orchestrator_items) {
    if (wi.holds<WorkItem::ActivityExecute>())
      return s.fail_later(cb, invalid_argument(kAck, "Invalid work item type: ActivityExecute in orchestrator_items"));
    const std::string_view routing = routing_instance(wi);
    if (!storable_text(routing)) return s.fail_later(cb, invalid_argument(kAck, "instance id contains U+0000"));
    buf.clear();
    encode_to(buf, wi);
    o_kinds.add(variant_name(wi));
    o_items.add(buf);
    o_inst.add(routing);
    if (auto* tf = wi.get_if<WorkItem::TimerFired>())
      o_fire.add(static_cast<int64_t>(std::min<uint64_t>(tf->fire_at_ms, INT64_MAX)));
    else
      o_fire.add_null();
  }

  ArrayLiteral c_inst, c_exec, c_act;
  for (const ScheduledActivityIdentifier& c : cancelled_activities) {
    // Identities that cannot exist in storage cannot match a row: they are ignored, as unknown ids are.
    if (!fits_int64(c.execution_id) || !fits_int64(c.activity_id) || !storable_text(c.instance)) continue;
    c_inst.add(c.instance);
    c_exec.add(static_cast<int64_t>(c.execution_id));
    c_act.add(static_cast<int64_t>(c.activity_id));
  }

  for (const auto* field : {&metadata.orchestration_name, &metadata.orchestration_version,
                            &metadata.parent_instance_id, &metadata.status})
    if (*field && !storable_text(**field))
      return s.fail_later(cb, invalid_argument(kAck, "metadata text contains U+0000"));

  const bool is_retry = s.ambiguous_acks.count(lock_token) > 0;
  Params p;
  p.add_int(s.now()).add(lock_token).add_int(static_cast<int64_t>(execution_id));
  p.add(ev_ids.finish()).add(ev_types.finish()).add(ev_datas.finish());
  p.add(w_kinds.finish()).add(w_items.finish()).add(w_inst.finish()).add(w_exec.finish())
      .add(w_act.finish()).add(w_sess.finish()).add(w_tags.finish());
  p.add(o_kinds.finish()).add(o_items.finish()).add(o_inst.finish()).add(o_fire.finish());
  auto opt = [&p](const std::optional<std::string>& v) { v ? p.add(*v) : p.add_null(); };
  opt(metadata.orchestration_name);
  opt(metadata.orchestration_version);
  opt(metadata.parent_instance_id);
  opt(metadata.status);
  if (metadata.output) p.add_binary(*metadata.output); else p.add_null();
  if (const auto& v = metadata.pinned_duroxide_version) {
    p.add_int(static_cast<int64_t>(std::min<uint64_t>(v->major, INT64_MAX)));
    p.add_int(static_cast<int64_t>(std::min<uint64_t>(v->minor, INT64_MAX)));
    p.add_int(static_cast<int64_t>(std::min<uint64_t>(v->patch, INT64_MAX)));
  } else {
    p.add_null().add_null().add_null();
  }
  p.add(c_inst.finish()).add(c_exec.finish()).add(c_act.finish());
  p.add_bool(custom_status.has_value());
  if (custom_status && *custom_status) p.add_binary(**custom_status); else p.add_null();
  p.add(kv_ops.finish()).add(kv_keys.finish()).add(kv_values.finish()).add(kv_times.finish());
  p.add_bool(is_retry);
  s.add_channel(p, QueueKind::kOrchestrator);
  s.add_channel(p, QueueKind::kWorker);
  const bool scheduled_work = !worker_items.empty();
  // A turn that ends its execution is what clients wait for: it always waits for the WAL flush.
  const bool final_turn = metadata.status && *metadata.status != "Running";

  // Parameters 21 (output) and 30 (custom status) are bytea sent in binary form: exact bytes,
  // U+0000 included, no escaping.
  s.pool->query(final_turn ? s.st.ack_orchestration : s.st.ack_orchestration_async, std::move(p),
                [&s, scheduled_work, token = std::move(lock_token), cb = std::move(cb)](Result<QueryResult> r) mutable {
                  s.settle_ack(token, r);
                  if (!r) return cb(std::unexpected(op_error(kAck, r.error())));
                  // Only when the turn made orchestrator work fetchable (it enqueued some, or
                  // messages arrived while the instance was locked): see ack_orchestration_item.
                  if (r->rows() == 0 || r->is_null(0, 1) || r->get(0, 1) == "t")
                    s.notify_committed(QueueKind::kOrchestrator);
                  if (scheduled_work) s.notify_committed(QueueKind::kWorker);
                  cb({});
                });
}

void PostgresProvider::abandon_orchestration_item(std::string lock_token, std::optional<Millis> delay,
                                                  bool ignore_attempt, Callback<void> cb) {
  cb = impl_->track("abandon_orchestration_item", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "abandon_orchestration_item";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  Params p;
  p.add_int(s.now()).add(lock_token);
  if (delay) p.add_int(ms(*delay)); else p.add_null();
  p.add_bool(ignore_attempt);
  s.add_channel(p, QueueKind::kOrchestrator);
  s.pool->query(s.st.abandon_orchestration, std::move(p), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("abandon_orchestration_item", r.error())));
    s.notify_committed(QueueKind::kOrchestrator);
    cb({});
  });
}

void PostgresProvider::renew_orchestration_item_lock(std::string lock_token, Millis extend_for,
                                                     Callback<void> cb) {
  cb = impl_->track("renew_orchestration_item_lock", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("renew_orchestration_item_lock"));
  Params p;
  p.add_int(s.now()).add(lock_token).add_int(ms(extend_for));
  s.pool->query(s.st.renew_orchestration, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("renew_orchestration_item_lock", r.error())));
    cb({});
  });
}

}  // namespace duroxide::pg
