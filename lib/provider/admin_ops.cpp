// The management capability, ProviderAdmin (contract §8). Reads are single prepared statements;
// deletion and pruning are the server functions of migrations/0002_admin.sql, one call = one
// transaction. Error texts callers rely on (§9.4): 'not found' (QD003/QD004), 'still running'
// (QD005), 'sub-orchestration' (QD006), 'orphan'/'child'/'tree' (QD007) — raised by SQL or built
// here with the same SQLSTATE.
#include <algorithm>
#include <utility>

#include "duroxide/pg/postgres_provider.h"
#include "provider/impl.h"
#include "provider/pg_text.h"

namespace duroxide::pg {
namespace {

using Impl = PostgresProvider::Impl;

// Completes `cb` with `value` on the next loop turn (never inside the caller's call).
template <class T>
void succeed_later(Impl& s, Callback<T>& cb, T value) {
  s.deferred.post([cb = std::move(cb), v = std::move(value)]() mutable { cb(std::move(v)); });
}

ProviderError instance_not_found(std::string_view op, std::string_view instance) {
  return ProviderError{std::string(op), "Instance " + std::string(instance) + " not found", false, "QD003"};
}

ProviderError execution_not_found(std::string_view op, std::string_view instance, uint64_t execution_id) {
  return ProviderError{std::string(op),
                       "Execution " + std::to_string(execution_id) + " not found for instance " + std::string(instance),
                       false, "QD004"};
}

// Stored timestamps are non-negative epoch ms; the management structs expose them unsigned.
uint64_t as_u64(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

std::optional<std::string> optional_bytea(const QueryResult& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return bytea_decode(r.get(row, col));
}

std::vector<std::string> string_column(const QueryResult& r) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
  return out;
}

DeleteInstanceResult delete_result(const QueryResult& r) {
  DeleteInstanceResult d;
  if (r.rows() == 0) return d;
  d.instances_deleted = as_u64(r.get_int64(0, 0));
  d.executions_deleted = as_u64(r.get_int64(0, 1));
  d.events_deleted = as_u64(r.get_int64(0, 2));
  d.queue_messages_deleted = as_u64(r.get_int64(0, 3));
  return d;
}

PruneResult prune_result(const QueryResult& r) {
  PruneResult p;
  if (r.rows() == 0) return p;
  p.instances_processed = as_u64(r.get_int64(0, 0));
  p.executions_deleted = as_u64(r.get_int64(0, 1));
  p.events_deleted = as_u64(r.get_int64(0, 2));
  return p;
}

// The instance_ids allow-list of a filter as a text[] parameter: NULL when absent (no
// restriction), the storable ids otherwise (an id containing U+0000 cannot exist; an empty list
// stays empty and matches nothing).
void add_id_filter(Params& p, const std::optional<std::vector<std::string>>& ids) {
  if (!ids) {
    p.add_null();
    return;
  }
  ArrayLiteral a;
  for (const std::string& id : *ids)
    if (storable_text(id)) a.add(id);
  p.add(a.finish());
}

// u64 epoch ms cut-offs above the stored range compare like INT64_MAX.
void add_cutoff(Params& p, const std::optional<uint64_t>& t) {
  if (!t) p.add_null();
  else p.add_int(fits_int64(*t) ? static_cast<int64_t>(*t) : INT64_MAX);
}


}  // namespace

void PostgresProvider::Impl::prepare_admin_statements() {
  const std::string& q = quoted;
  auto fn = [&](const char* name, std::string sql) { return pool->prepare(name, std::move(sql)); };
  const std::string current_join =
      " JOIN " + q + ".executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id";
  st.admin_list_instances = fn("dx_admin_list_instances",
      "SELECT instance_id FROM " + q + ".instances ORDER BY created_at DESC, instance_id");
  st.admin_list_by_status = fn("dx_admin_list_by_status",
      "SELECT i.instance_id FROM " + q + ".instances i" + current_join +
      " WHERE e.status = $1 ORDER BY i.created_at DESC, i.instance_id");
  st.admin_list_executions = fn("dx_admin_list_executions",
      "SELECT execution_id FROM " + q + ".executions WHERE instance_id = $1 ORDER BY execution_id");
  st.admin_latest_execution = fn("dx_admin_latest_execution",
      "SELECT coalesce(max(execution_id), 1) FROM " + q + ".executions WHERE instance_id = $1");
  st.admin_instance_info = fn("dx_admin_instance_info",
      "SELECT i.orchestration_name, coalesce(i.orchestration_version, 'unknown'), i.current_execution_id, "
      "coalesce(e.status, 'Unknown'), e.output, i.created_at, i.updated_at, i.parent_instance_id FROM " + q +
      ".instances i LEFT" + current_join + " WHERE i.instance_id = $1");
  st.admin_execution_info = fn("dx_admin_execution_info",
      "SELECT e.status, e.output, e.started_at, e.completed_at, "
      "(SELECT count(*) FROM " + q + ".history h WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id) "
      "FROM " + q + ".executions e WHERE e.instance_id = $1 AND e.execution_id = $2");
  st.admin_system_metrics = fn("dx_admin_system_metrics",
      "SELECT (SELECT count(*) FROM " + q + ".instances), (SELECT count(*) FROM " + q + ".executions), "
      "c.running, c.completed, c.failed, (SELECT count(*) FROM " + q + ".history) "
      "FROM (SELECT count(*) FILTER (WHERE e.status = 'Running') AS running, "
      "count(*) FILTER (WHERE e.status = 'Completed') AS completed, "
      "count(*) FILTER (WHERE e.status = 'Failed') AS failed FROM " + q + ".instances i" + current_join + ") c");
  // Visible rows whose instance holds no live lock / visible rows without a live lock (§8).
  st.admin_queue_depths = fn("dx_admin_queue_depths",
      "SELECT (SELECT count(*) FROM " + q + ".orchestrator_queue o WHERE o.visible_at <= $1 AND NOT EXISTS "
      "(SELECT 1 FROM " + q + ".instance_locks l WHERE l.instance_id = o.instance_id AND l.locked_until > $1)), "
      "(SELECT count(*) FROM " + q + ".worker_queue w WHERE w.visible_at <= $1 "
      "AND (w.lock_token IS NULL OR w.locked_until <= $1))");
  st.admin_list_children = fn("dx_admin_list_children",
      "SELECT instance_id FROM " + q + ".instances WHERE parent_instance_id = $1 ORDER BY instance_id");
  st.admin_parent_id = fn("dx_admin_parent_id",
      "SELECT parent_instance_id FROM " + q + ".instances WHERE instance_id = $1");
  const std::string delete_cols = "SELECT instances_deleted, executions_deleted, events_deleted, queue_messages_deleted FROM ";
  st.admin_delete_atomic = fn("dx_admin_delete_atomic", delete_cols + q + ".delete_instances_atomic($1, $2)");
  st.admin_delete_instance = fn("dx_admin_delete_instance", delete_cols + q + ".delete_instance($1, $2)");
  st.admin_delete_bulk = fn("dx_admin_delete_bulk", delete_cols + q + ".delete_instance_bulk($1, $2, $3)");
  st.admin_instance_tree = fn("dx_admin_instance_tree", "SELECT instance_id FROM " + q + ".get_instance_tree($1)");
  const std::string prune_cols = "SELECT instances_processed, executions_deleted, events_deleted FROM ";
  st.admin_prune = fn("dx_admin_prune", prune_cols + q + ".prune_executions($1, $2, $3)");
  st.admin_prune_bulk = fn("dx_admin_prune_bulk", prune_cols + q + ".prune_executions_bulk($1, $2, $3, $4, $5)");
}

// ---- listings -------------------------------------------------------------------------------

void PostgresProvider::list_instances(Callback<std::vector<std::string>> cb) {
  cb = impl_->track("list_instances", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "list_instances";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  s.pool->query(s.st.admin_list_instances, Params(), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("list_instances", r.error())));
    cb(string_column(*r));
  });
}

void PostgresProvider::list_instances_by_status(std::string status, Callback<std::vector<std::string>> cb) {
  cb = impl_->track("list_instances_by_status", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "list_instances_by_status";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(status)) return succeed_later(s, cb, std::vector<std::string>{});  // no such status
  s.pool->query(s.st.admin_list_by_status, Params().add(status), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("list_instances_by_status", r.error())));
    cb(string_column(*r));
  });
}

void PostgresProvider::list_executions(std::string instance, Callback<std::vector<std::uint64_t>> cb) {
  cb = impl_->track("list_executions", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "list_executions";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return succeed_later(s, cb, std::vector<std::uint64_t>{});  // cannot exist
  s.pool->query(s.st.admin_list_executions, Params().add(instance), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("list_executions", r.error())));
    std::vector<std::uint64_t> out;
    out.reserve(static_cast<size_t>(r->rows()));
    for (int i = 0; i < r->rows(); ++i) out.push_back(as_u64(r->get_int64(i, 0)));
    cb(std::move(out));
  });
}

void PostgresProvider::list_children(std::string instance, Callback<std::vector<std::string>> cb) {
  cb = impl_->track("list_children", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "list_children";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return succeed_later(s, cb, std::vector<std::string>{});
  s.pool->query(s.st.admin_list_children, Params().add(instance), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("list_children", r.error())));
    cb(string_column(*r));
  });
}

// ---- history --------------------------------------------------------------------------------

void PostgresProvider::read_history_with_execution_id(std::string instance, std::uint64_t execution_id,
                                                      Callback<std::vector<Event>> cb) {
  cb = impl_->track("read_history_with_execution_id", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "read_history_with_execution_id";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  if (!fits_int64(execution_id)) return succeed_later(s, cb, std::vector<Event>{});  // cannot be stored
  s.pool->query(s.st.read_execution, Params().add(instance).add_int(static_cast<int64_t>(execution_id)),
                [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("read_history_with_execution_id", r.error())));
                  cb(decode_history(s, "read_history_with_execution_id", *r));
                });
}

void PostgresProvider::read_history(std::string instance, Callback<std::vector<Event>> cb) {
  cb = impl_->track("read_history", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "read_history";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  // read_history() in SQL reads the highest execution id, else 1 (= latest_execution_id).
  s.pool->query(s.st.read_latest, Params().add(instance), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("read_history", r.error())));
    cb(decode_history(s, "read_history", *r));
  });
}

void PostgresProvider::latest_execution_id(std::string instance, Callback<std::uint64_t> cb) {
  cb = impl_->track("latest_execution_id", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "latest_execution_id";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return succeed_later(s, cb, std::uint64_t{1});
  s.pool->query(s.st.admin_latest_execution, Params().add(instance), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("latest_execution_id", r.error())));
    cb(r->rows() == 0 ? std::uint64_t{1} : as_u64(r->get_int64(0, 0)));
  });
}

// ---- instance and execution details --------------------------------------------------------

void PostgresProvider::get_instance_info(std::string instance, Callback<InstanceInfo> cb) {
  cb = impl_->track("get_instance_info", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_instance_info";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, instance_not_found(op, "(id containing U+0000)"));
  Params p;  // built before the callback takes `instance` (argument evaluation order is unspecified)
  p.add(instance);
  s.pool->query(s.st.admin_instance_info, std::move(p),
                [instance = std::move(instance), cb = std::move(cb)](Result<QueryResult> r) mutable {
                  constexpr std::string_view name = "get_instance_info";
                  if (!r) return cb(std::unexpected(op_error(name, r.error())));
                  if (r->rows() == 0) return cb(std::unexpected(instance_not_found(name, instance)));
                  InstanceInfo info;
                  info.orchestration_name = std::string(r->get(0, 0));
                  info.orchestration_version = std::string(r->get(0, 1));
                  info.current_execution_id = as_u64(r->get_int64(0, 2));
                  info.status = std::string(r->get(0, 3));
                  info.output = optional_bytea(*r, 0, 4);
                  info.created_at = as_u64(r->get_int64(0, 5));
                  info.updated_at = as_u64(r->get_int64(0, 6));
                  if (!r->is_null(0, 7)) info.parent_instance_id = std::string(r->get(0, 7));
                  info.instance_id = std::move(instance);
                  cb(std::move(info));
                });
}

void PostgresProvider::get_execution_info(std::string instance, std::uint64_t execution_id,
                                          Callback<ExecutionInfo> cb) {
  cb = impl_->track("get_execution_info", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_execution_info";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance) || !fits_int64(execution_id))  // cannot be stored, so not found
    return s.fail_later(cb, execution_not_found(op, storable_text(instance) ? instance : "(id containing U+0000)",
                                                execution_id));
  Params p;  // built before the callback takes `instance`
  p.add(instance).add_int(static_cast<int64_t>(execution_id));
  s.pool->query(s.st.admin_execution_info, std::move(p),
                [instance = std::move(instance), execution_id, cb = std::move(cb)](Result<QueryResult> r) mutable {
                  constexpr std::string_view name = "get_execution_info";
                  if (!r) return cb(std::unexpected(op_error(name, r.error())));
                  if (r->rows() == 0) return cb(std::unexpected(execution_not_found(name, instance, execution_id)));
                  ExecutionInfo info;
                  info.execution_id = execution_id;
                  info.status = std::string(r->get(0, 0));
                  info.output = optional_bytea(*r, 0, 1);
                  info.started_at = as_u64(r->get_int64(0, 2));
                  if (!r->is_null(0, 3)) info.completed_at = as_u64(r->get_int64(0, 3));
                  info.event_count = as_u64(r->get_int64(0, 4));
                  cb(std::move(info));
                });
}

void PostgresProvider::get_system_metrics(Callback<SystemMetrics> cb) {
  cb = impl_->track("get_system_metrics", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_system_metrics";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  s.pool->query(s.st.admin_system_metrics, Params(), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("get_system_metrics", r.error())));
    SystemMetrics m;
    if (r->rows() > 0) {
      m.total_instances = as_u64(r->get_int64(0, 0));
      m.total_executions = as_u64(r->get_int64(0, 1));
      m.running_instances = as_u64(r->get_int64(0, 2));
      m.completed_instances = as_u64(r->get_int64(0, 3));
      m.failed_instances = as_u64(r->get_int64(0, 4));
      m.total_events = as_u64(r->get_int64(0, 5));
    }
    cb(m);
  });
}

void PostgresProvider::get_queue_depths(Callback<QueueDepths> cb) {
  cb = impl_->track("get_queue_depths", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_queue_depths";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  s.pool->query(s.st.admin_queue_depths, Params().add_int(s.now()), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("get_queue_depths", r.error())));
    QueueDepths d;  // timer_queue stays 0: timers are delayed orchestrator rows
    if (r->rows() > 0) {
      d.orchestrator_queue = as_u64(r->get_int64(0, 0));
      d.worker_queue = as_u64(r->get_int64(0, 1));
    }
    cb(d);
  });
}

// ---- hierarchy ------------------------------------------------------------------------------

void PostgresProvider::get_parent_id(std::string instance, Callback<std::optional<std::string>> cb) {
  cb = impl_->track("get_parent_id", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_parent_id";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, instance_not_found(op, "(id containing U+0000)"));
  Params p;  // built before the callback takes `instance`
  p.add(instance);
  s.pool->query(s.st.admin_parent_id, std::move(p),
                [instance = std::move(instance), cb = std::move(cb)](Result<QueryResult> r) mutable {
                  constexpr std::string_view name = "get_parent_id";
                  if (!r) return cb(std::unexpected(op_error(name, r.error())));
                  if (r->rows() == 0) return cb(std::unexpected(instance_not_found(name, instance)));
                  if (r->is_null(0, 0)) return cb(std::optional<std::string>{});
                  cb(std::optional<std::string>(std::string(r->get(0, 0))));
                });
}

void PostgresProvider::get_instance_tree(std::string root, Callback<InstanceTree> cb) {
  cb = impl_->track("get_instance_tree", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "get_instance_tree";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(root)) {
    // Cannot be stored, so it has no descendants.
    InstanceTree t{root, {root}};
    return succeed_later(s, cb, std::move(t));
  }
  Params p;  // built before the callback takes `root`
  p.add(root);
  s.pool->query(s.st.admin_instance_tree, std::move(p),
                [root = std::move(root), cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("get_instance_tree", r.error())));
                  InstanceTree t;
                  t.all_ids = string_column(*r);  // root first (SQL orders it so)
                  if (t.all_ids.empty() || t.all_ids.front() != root) t.all_ids.insert(t.all_ids.begin(), root);
                  t.root_id = std::move(root);
                  cb(std::move(t));
                });
}

// ---- deletion -------------------------------------------------------------------------------

void PostgresProvider::delete_instances_atomic(std::vector<std::string> ids, bool force,
                                               Callback<DeleteInstanceResult> cb) {
  cb = impl_->track("delete_instances_atomic", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "delete_instances_atomic";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  ArrayLiteral a;
  for (const std::string& id : ids)
    if (storable_text(id)) a.add(id);  // an id containing U+0000 cannot exist: it deletes nothing
  if (a.empty()) return succeed_later(s, cb, DeleteInstanceResult{});
  s.pool->query(s.st.admin_delete_atomic, Params().add(a.finish()).add_bool(force),
                [cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("delete_instances_atomic", r.error())));
                  cb(delete_result(*r));
                });
}

void PostgresProvider::delete_instance(std::string id, bool force, Callback<DeleteInstanceResult> cb) {
  cb = impl_->track("delete_instance", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "delete_instance";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(id)) return s.fail_later(cb, instance_not_found(op, "(id containing U+0000)"));
  // One server call: not found (QD003), sub-orchestration (QD006), tree walk, atomic delete.
  s.pool->query(s.st.admin_delete_instance, Params().add(id).add_bool(force),
                [cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("delete_instance", r.error())));
                  cb(delete_result(*r));
                });
}

void PostgresProvider::delete_instance_bulk(InstanceFilter filter, Callback<DeleteInstanceResult> cb) {
  cb = impl_->track("delete_instance_bulk", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "delete_instance_bulk";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (filter.instance_ids && filter.instance_ids->empty()) return succeed_later(s, cb, DeleteInstanceResult{});
  Params p;
  add_id_filter(p, filter.instance_ids);
  add_cutoff(p, filter.completed_before);
  p.add_int(filter.limit.value_or(1000));
  s.pool->query(s.st.admin_delete_bulk, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("delete_instance_bulk", r.error())));
    cb(delete_result(*r));
  });
}

// ---- pruning --------------------------------------------------------------------------------

void PostgresProvider::prune_executions(std::string instance, PruneOptions options, Callback<PruneResult> cb) {
  cb = impl_->track("prune_executions", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "prune_executions";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, instance_not_found(op, "(id containing U+0000)"));
  Params p;
  p.add(instance);
  if (options.keep_last) p.add_int(*options.keep_last); else p.add_null();
  add_cutoff(p, options.completed_before);
  s.pool->query(s.st.admin_prune, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("prune_executions", r.error())));
    cb(prune_result(*r));
  });
}

void PostgresProvider::prune_executions_bulk(InstanceFilter filter, PruneOptions options, Callback<PruneResult> cb) {
  cb = impl_->track("prune_executions_bulk", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "prune_executions_bulk";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (filter.instance_ids && filter.instance_ids->empty()) return succeed_later(s, cb, PruneResult{});
  Params p;
  add_id_filter(p, filter.instance_ids);
  add_cutoff(p, filter.completed_before);
  p.add_int(filter.limit.value_or(1000));
  if (options.keep_last) p.add_int(*options.keep_last); else p.add_null();
  add_cutoff(p, options.completed_before);
  s.pool->query(s.st.admin_prune_bulk, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("prune_executions_bulk", r.error())));
    cb(prune_result(*r));
  });
}

}  // namespace duroxide::pg
