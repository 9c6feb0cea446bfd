#include "capi/json_out.h"

#include "duroxide/wire.h"
#include "wire/json_writer.h"

namespace duroxide::capi::out {

using wire_detail::append_json_string;
using wire_detail::append_uint;

void str(std::string& o, std::string_view s) { append_json_string(o, s); }

void opt_str(std::string& o, const std::optional<std::string>& s) {
  if (s) append_json_string(o, *s);
  else o += "null";
}

void u64(std::string& o, uint64_t v) { append_uint(o, v); }

namespace {
// "key": prefix; `first` controls the comma.
void key(std::string& o, const char* k, bool first = false) {
  if (!first) o.push_back(',');
  o.push_back('"');
  o += k;
  o += "\":";
}
}  // namespace

void strings(std::string& o, const std::vector<std::string>& v) {
  o.push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) o.push_back(',');
    append_json_string(o, v[i]);
  }
  o.push_back(']');
}

void u64s(std::string& o, const std::vector<uint64_t>& v) {
  o.push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) o.push_back(',');
    append_uint(o, v[i]);
  }
  o.push_back(']');
}

void events(std::string& o, const std::vector<Event>& v) {
  o.push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) o.push_back(',');
    encode_to(o, v[i]);
  }
  o.push_back(']');
}

void fetched_orchestration(std::string& o, const std::optional<LockedOrchestration>& f) {
  if (!f) {
    o += "null";
    return;
  }
  const OrchestrationItem& it = f->item;
  o += "{\"lock_token\":";
  append_json_string(o, f->lock_token);
  key(o, "attempt_count");
  append_uint(o, f->attempt_count);
  o += ",\"item\":{\"instance\":";
  append_json_string(o, it.instance);
  key(o, "orchestration_name");
  append_json_string(o, it.orchestration_name);
  key(o, "execution_id");
  append_uint(o, it.execution_id);
  key(o, "version");
  append_json_string(o, it.version);
  key(o, "history");
  events(o, it.history);
  key(o, "messages");
  o.push_back('[');
  for (size_t i = 0; i < it.messages.size(); ++i) {
    if (i) o.push_back(',');
    encode_to(o, it.messages[i]);
  }
  o.push_back(']');
  key(o, "history_error");
  opt_str(o, it.history_error);
  key(o, "kv_snapshot");
  o.push_back('{');
  bool first = true;
  for (const auto& [k, e] : it.kv_snapshot) {
    if (!first) o.push_back(',');
    first = false;
    append_json_string(o, k);
    o += ":{\"value\":";
    append_json_string(o, e.value);
    key(o, "last_updated_at_ms");
    append_uint(o, e.last_updated_at_ms);
    o.push_back('}');
  }
  o += "}}}";
}

void fetched_work_item(std::string& o, const std::optional<LockedWorkItem>& f) {
  if (!f) {
    o += "null";
    return;
  }
  o += "{\"lock_token\":";
  append_json_string(o, f->lock_token);
  key(o, "attempt_count");
  append_uint(o, f->attempt_count);
  key(o, "item");
  encode_to(o, f->item);
  o.push_back('}');
}

void custom_status(std::string& o, const std::optional<CustomStatus>& c) {
  if (!c) {
    o += "null";
    return;
  }
  o += "{\"status\":";
  opt_str(o, c->status);
  key(o, "version");
  append_uint(o, c->version);
  o.push_back('}');
}

void kv_map(std::string& o, const std::map<std::string, std::string>& m) {
  o.push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) o.push_back(',');
    first = false;
    append_json_string(o, k);
    o.push_back(':');
    append_json_string(o, v);
  }
  o.push_back('}');
}

void system_stats(std::string& o, const std::optional<SystemStats>& s) {
  if (!s) {
    o += "null";
    return;
  }
  o += "{\"history_event_count\":";
  append_uint(o, s->history_event_count);
  key(o, "history_size_bytes");
  append_uint(o, s->history_size_bytes);
  key(o, "queue_pending_count");
  append_uint(o, s->queue_pending_count);
  key(o, "kv_user_key_count");
  append_uint(o, s->kv_user_key_count);
  key(o, "kv_total_value_bytes");
  append_uint(o, s->kv_total_value_bytes);
  o.push_back('}');
}

void instance_info(std::string& o, const InstanceInfo& i) {
  o += "{\"instance_id\":";
  append_json_string(o, i.instance_id);
  key(o, "orchestration_name");
  append_json_string(o, i.orchestration_name);
  key(o, "orchestration_version");
  append_json_string(o, i.orchestration_version);
  key(o, "current_execution_id");
  append_uint(o, i.current_execution_id);
  key(o, "status");
  append_json_string(o, i.status);
  key(o, "output");
  opt_str(o, i.output);
  key(o, "created_at");
  append_uint(o, i.created_at);
  key(o, "updated_at");
  append_uint(o, i.updated_at);
  key(o, "parent_instance_id");
  opt_str(o, i.parent_instance_id);
  o.push_back('}');
}

void execution_info(std::string& o, const ExecutionInfo& e) {
  o += "{\"execution_id\":";
  append_uint(o, e.execution_id);
  key(o, "status");
  append_json_string(o, e.status);
  key(o, "output");
  opt_str(o, e.output);
  key(o, "started_at");
  append_uint(o, e.started_at);
  key(o, "completed_at");
  if (e.completed_at) append_uint(o, *e.completed_at);
  else o += "null";
  key(o, "event_count");
  append_uint(o, e.event_count);
  o.push_back('}');
}

void system_metrics(std::string& o, const SystemMetrics& m) {
  o += "{\"total_instances\":";
  append_uint(o, m.total_instances);
  key(o, "total_executions");
  append_uint(o, m.total_executions);
  key(o, "running_instances");
  append_uint(o, m.running_instances);
  key(o, "completed_instances");
  append_uint(o, m.completed_instances);
  key(o, "failed_instances");
  append_uint(o, m.failed_instances);
  key(o, "total_events");
  append_uint(o, m.total_events);
  o.push_back('}');
}

void queue_depths(std::string& o, const QueueDepths& q) {
  o += "{\"orchestrator_queue\":";
  append_uint(o, q.orchestrator_queue);
  key(o, "worker_queue");
  append_uint(o, q.worker_queue);
  key(o, "timer_queue");
  append_uint(o, q.timer_queue);
  o.push_back('}');
}

void delete_result(std::string& o, const DeleteInstanceResult& d) {
  o += "{\"instances_deleted\":";
  append_uint(o, d.instances_deleted);
  key(o, "executions_deleted");
  append_uint(o, d.executions_deleted);
  key(o, "events_deleted");
  append_uint(o, d.events_deleted);
  key(o, "queue_messages_deleted");
  append_uint(o, d.queue_messages_deleted);
  o.push_back('}');
}

void prune_result(std::string& o, const PruneResult& p) {
  o += "{\"instances_processed\":";
  append_uint(o, p.instances_processed);
  key(o, "executions_deleted");
  append_uint(o, p.executions_deleted);
  key(o, "events_deleted");
  append_uint(o, p.events_deleted);
  o.push_back('}');
}

void instance_tree(std::string& o, const InstanceTree& t) {
  o += "{\"root_id\":";
  append_json_string(o, t.root_id);
  key(o, "all_ids");
  strings(o, t.all_ids);
  o.push_back('}');
}

}  // namespace duroxide::capi::out
