// The Provider operations and schema maintenance of the C API (c-api.md §3.7, §6).
#include "capi/ops.h"

using namespace duroxide;
using namespace duroxide::capi;

extern "C" {

int duroxide_provider_initialize_schema(duroxide_provider* p, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "initialize_schema", OpKind::kPlain, [&](Reader&) -> Work {
    return [](Op* op) { core(op).initialize_schema(reply_void(op)); };
  });
}

int duroxide_provider_drop_schema(duroxide_provider* p, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "drop_schema", OpKind::kPlain, [&](Reader&) -> Work {
    return [](Op* op) { core(op).drop_schema(reply_void(op)); };
  });
}

int duroxide_provider_fetch_orchestration_item(duroxide_provider* p, uint64_t lock_timeout_ms,
                                               uint64_t poll_timeout_ms, const char* filter_json,
                                               duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "fetch_orchestration_item", OpKind::kFetchOrchestration, [&](Reader& r) -> Work {
    auto filter = r.capability_filter("filter", filter_json);
    return [lock = millis(lock_timeout_ms), poll = millis(poll_timeout_ms), filter = std::move(filter)](Op* op) mutable {
      core(op).fetch_orchestration_item(lock, poll, std::move(filter),
          [op](Result<std::optional<LockedOrchestration>> res) {
            const std::string* token = (res && *res) ? &(*res)->lock_token : nullptr;
            if (!fetch_should_deliver(op, token)) return;
            if (!res) return complete_error(op, std::move(res.error()));
            std::string json;
            out::fetched_orchestration(json, *res);
            complete_ok(op, std::move(json));
          });
    };
  });
}

int duroxide_provider_ack_orchestration_item(duroxide_provider* p, const char* lock_token, uint64_t execution_id,
                                             const char* history_delta_json, const char* worker_items_json,
                                             const char* orchestrator_items_json, const char* metadata_json,
                                             const char* cancelled_activities_json, duroxide_callback cb,
                                             void* ud) {
  return run_start(p, cb, ud, "ack_orchestration_item", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    auto delta = r.events("history_delta", history_delta_json);
    auto worker = r.work_items("worker_items", worker_items_json);
    auto orch = r.work_items("orchestrator_items", orchestrator_items_json);
    auto md = r.metadata("metadata", metadata_json);
    auto cancelled = r.activity_ids("cancelled_activities", cancelled_activities_json);
    return [token = std::move(token), execution_id, delta = std::move(delta), worker = std::move(worker),
            orch = std::move(orch), md = std::move(md), cancelled = std::move(cancelled)](Op* op) mutable {
      core(op).ack_orchestration_item(std::move(token), execution_id, std::move(delta), std::move(worker),
                                      std::move(orch), std::move(md), std::move(cancelled), reply_void(op));
    };
  });
}

int duroxide_provider_abandon_orchestration_item(duroxide_provider* p, const char* lock_token, int64_t delay_ms,
                                                 int ignore_attempt, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "abandon_orchestration_item", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    auto delay = r.opt_duration("delay_ms", delay_ms);
    return [token = std::move(token), delay, ignore = ignore_attempt != 0](Op* op) mutable {
      core(op).abandon_orchestration_item(std::move(token), delay, ignore, reply_void(op));
    };
  });
}

int duroxide_provider_renew_orchestration_item_lock(duroxide_provider* p, const char* lock_token,
                                                    uint64_t extend_for_ms, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "renew_orchestration_item_lock", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    return [token = std::move(token), ext = millis(extend_for_ms)](Op* op) mutable {
      core(op).renew_orchestration_item_lock(std::move(token), ext, reply_void(op));
    };
  });
}

int duroxide_provider_read(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "read", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst)](Op* op) mutable {
      core(op).read(std::move(inst), reply<std::vector<Event>>(op, out::events));
    };
  });
}

int duroxide_provider_read_with_execution(duroxide_provider* p, const char* instance, uint64_t execution_id,
                                          duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "read_with_execution", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst), execution_id](Op* op) mutable {
      core(op).read_with_execution(std::move(inst), execution_id, reply<std::vector<Event>>(op, out::events));
    };
  });
}

int duroxide_provider_append_with_execution(duroxide_provider* p, const char* instance, uint64_t execution_id,
                                            const char* events_json, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "append_with_execution", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    auto events = r.events("events", events_json);
    return [inst = std::move(inst), execution_id, events = std::move(events)](Op* op) mutable {
      core(op).append_with_execution(std::move(inst), execution_id, std::move(events), reply_void(op));
    };
  });
}

int duroxide_provider_enqueue_for_worker(duroxide_provider* p, const char* item_json, duroxide_callback cb,
                                         void* ud) {
  return run_start(p, cb, ud, "enqueue_for_worker", OpKind::kPlain, [&](Reader& r) -> Work {
    auto item = r.work_item("item", item_json, true);
    return [item = std::move(item)](Op* op) mutable {
      core(op).enqueue_for_worker(std::move(*item), reply_void(op));
    };
  });
}

int duroxide_provider_fetch_work_item(duroxide_provider* p, uint64_t lock_timeout_ms, uint64_t poll_timeout_ms,
                                      const char* session_json, const char* tag_filter_json, duroxide_callback cb,
                                      void* ud) {
  return run_start(p, cb, ud, "fetch_work_item", OpKind::kFetchWork, [&](Reader& r) -> Work {
    auto session = r.session("session", session_json);
    auto filter = r.tag_filter("tag_filter", tag_filter_json);
    return [lock = millis(lock_timeout_ms), poll = millis(poll_timeout_ms), session = std::move(session),
            filter = std::move(filter)](Op* op) mutable {
      core(op).fetch_work_item(lock, poll, std::move(session), std::move(filter),
          [op](Result<std::optional<LockedWorkItem>> res) {
            const std::string* token = (res && *res) ? &(*res)->lock_token : nullptr;
            if (!fetch_should_deliver(op, token)) return;
            if (!res) return complete_error(op, std::move(res.error()));
            std::string json;
            out::fetched_work_item(json, *res);
            complete_ok(op, std::move(json));
          });
    };
  });
}

int duroxide_provider_ack_work_item(duroxide_provider* p, const char* lock_token, const char* completion_json,
                                    duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "ack_work_item", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    auto completion = r.work_item("completion", completion_json, false);
    return [token = std::move(token), completion = std::move(completion)](Op* op) mutable {
      core(op).ack_work_item(std::move(token), std::move(completion), reply_void(op));
    };
  });
}

int duroxide_provider_renew_work_item_lock(duroxide_provider* p, const char* lock_token, uint64_t extend_for_ms,
                                           duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "renew_work_item_lock", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    return [token = std::move(token), ext = millis(extend_for_ms)](Op* op) mutable {
      core(op).renew_work_item_lock(std::move(token), ext, reply_void(op));
    };
  });
}

int duroxide_provider_abandon_work_item(duroxide_provider* p, const char* lock_token, int64_t delay_ms,
                                        int ignore_attempt, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "abandon_work_item", OpKind::kPlain, [&](Reader& r) -> Work {
    auto token = r.str("lock_token", lock_token);
    auto delay = r.opt_duration("delay_ms", delay_ms);
    return [token = std::move(token), delay, ignore = ignore_attempt != 0](Op* op) mutable {
      core(op).abandon_work_item(std::move(token), delay, ignore, reply_void(op));
    };
  });
}

int duroxide_provider_renew_session_lock(duroxide_provider* p, const char* owner_ids_json, uint64_t extend_for_ms,
                                         uint64_t idle_timeout_ms, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "renew_session_lock", OpKind::kPlain, [&](Reader& r) -> Work {
    auto owners = r.identifiers("owner_ids", owner_ids_json);
    return [owners = std::move(owners), ext = millis(extend_for_ms), idle = millis(idle_timeout_ms)](Op* op) mutable {
      core(op).renew_session_lock(std::move(owners), ext, idle, reply<uint64_t>(op, out::u64));
    };
  });
}

int duroxide_provider_cleanup_orphaned_sessions(duroxide_provider* p, uint64_t idle_timeout_ms,
                                                duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "cleanup_orphaned_sessions", OpKind::kPlain, [&](Reader&) -> Work {
    return [idle = millis(idle_timeout_ms)](Op* op) {
      core(op).cleanup_orphaned_sessions(idle, reply<uint64_t>(op, out::u64));
    };
  });
}

int duroxide_provider_enqueue_for_orchestrator(duroxide_provider* p, const char* item_json, int64_t delay_ms,
                                               duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "enqueue_for_orchestrator", OpKind::kPlain, [&](Reader& r) -> Work {
    auto item = r.work_item("item", item_json, true);
    auto delay = r.opt_duration("delay_ms", delay_ms);
    return [item = std::move(item), delay](Op* op) mutable {
      core(op).enqueue_for_orchestrator(std::move(*item), delay, reply_void(op));
    };
  });
}

int duroxide_provider_get_custom_status(duroxide_provider* p, const char* instance, uint64_t last_seen_version,
                                        duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "get_custom_status", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst), last_seen_version](Op* op) mutable {
      core(op).get_custom_status(std::move(inst), last_seen_version,
                                 reply<std::optional<CustomStatus>>(op, out::custom_status));
    };
  });
}

int duroxide_provider_get_kv_value(duroxide_provider* p, const char* instance, const char* key,
                                   duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "get_kv_value", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    auto k = r.str("key", key);
    return [inst = std::move(inst), k = std::move(k)](Op* op) mutable {
      core(op).get_kv_value(std::move(inst), std::move(k), reply<std::optional<std::string>>(op, out::opt_str));
    };
  });
}

int duroxide_provider_get_kv_all_values(duroxide_provider* p, const char* instance, duroxide_callback cb,
                                        void* ud) {
  return run_start(p, cb, ud, "get_kv_all_values", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst)](Op* op) mutable {
      core(op).get_kv_all_values(std::move(inst), reply<std::map<std::string, std::string>>(op, out::kv_map));
    };
  });
}

int duroxide_provider_get_instance_stats(duroxide_provider* p, const char* instance, duroxide_callback cb,
                                         void* ud) {
  return run_start(p, cb, ud, "get_instance_stats", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst)](Op* op) mutable {
      core(op).get_instance_stats(std::move(inst), reply<std::optional<SystemStats>>(op, out::system_stats));
    };
  });
}

}  // extern "C"
