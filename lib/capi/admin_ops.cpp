// The ProviderAdmin operations of the C API (c-api.md §7).
#include "capi/ops.h"

using namespace duroxide;
using namespace duroxide::capi;

namespace {

// An admin operation taking only the instance string.
template <class T, class Call, class Write>
int instance_op(duroxide_provider* p, const char* name, const char* param, const char* instance, duroxide_callback cb,
                void* ud, Call call, Write write) {
  return run_start(p, cb, ud, name, OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str(param, instance);
    return [inst = std::move(inst), call, write](Op* op) mutable { call(core(op), std::move(inst), reply<T>(op, write)); };
  });
}

}  // namespace

extern "C" {

int duroxide_admin_list_instances(duroxide_provider* p, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "list_instances", OpKind::kPlain, [&](Reader&) -> Work {
    return [](Op* op) { core(op).list_instances(reply<std::vector<std::string>>(op, out::strings)); };
  });
}

int duroxide_admin_list_instances_by_status(duroxide_provider* p, const char* status, duroxide_callback cb,
                                            void* ud) {
  return instance_op<std::vector<std::string>>(
      p, "list_instances_by_status", "status", status, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<std::vector<std::string>> k) {
        c.list_instances_by_status(std::move(s), std::move(k));
      },
      out::strings);
}

int duroxide_admin_list_executions(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return instance_op<std::vector<uint64_t>>(
      p, "list_executions", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<std::vector<uint64_t>> k) {
        c.list_executions(std::move(s), std::move(k));
      },
      out::u64s);
}

int duroxide_admin_read_history_with_execution_id(duroxide_provider* p, const char* instance,
                                                  uint64_t execution_id, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "read_history_with_execution_id", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst), execution_id](Op* op) mutable {
      core(op).read_history_with_execution_id(std::move(inst), execution_id,
                                              reply<std::vector<Event>>(op, out::events));
    };
  });
}

int duroxide_admin_read_history(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return instance_op<std::vector<Event>>(
      p, "read_history", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<std::vector<Event>> k) {
        c.read_history(std::move(s), std::move(k));
      },
      out::events);
}

int duroxide_admin_latest_execution_id(duroxide_provider* p, const char* instance, duroxide_callback cb,
                                       void* ud) {
  return instance_op<uint64_t>(
      p, "latest_execution_id", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<uint64_t> k) {
        c.latest_execution_id(std::move(s), std::move(k));
      },
      out::u64);
}

int duroxide_admin_get_instance_info(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return instance_op<InstanceInfo>(
      p, "get_instance_info", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<InstanceInfo> k) {
        c.get_instance_info(std::move(s), std::move(k));
      },
      out::instance_info);
}

int duroxide_admin_get_execution_info(duroxide_provider* p, const char* instance, uint64_t execution_id,
                                      duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "get_execution_info", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst), execution_id](Op* op) mutable {
      core(op).get_execution_info(std::move(inst), execution_id, reply<ExecutionInfo>(op, out::execution_info));
    };
  });
}

int duroxide_admin_get_system_metrics(duroxide_provider* p, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "get_system_metrics", OpKind::kPlain, [&](Reader&) -> Work {
    return [](Op* op) { core(op).get_system_metrics(reply<SystemMetrics>(op, out::system_metrics)); };
  });
}

int duroxide_admin_get_queue_depths(duroxide_provider* p, duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "get_queue_depths", OpKind::kPlain, [&](Reader&) -> Work {
    return [](Op* op) { core(op).get_queue_depths(reply<QueueDepths>(op, out::queue_depths)); };
  });
}

int duroxide_admin_list_children(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return instance_op<std::vector<std::string>>(
      p, "list_children", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<std::vector<std::string>> k) {
        c.list_children(std::move(s), std::move(k));
      },
      out::strings);
}

int duroxide_admin_get_parent_id(duroxide_provider* p, const char* instance, duroxide_callback cb, void* ud) {
  return instance_op<std::optional<std::string>>(
      p, "get_parent_id", "instance", instance, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<std::optional<std::string>> k) {
        c.get_parent_id(std::move(s), std::move(k));
      },
      out::opt_str);
}

int duroxide_admin_delete_instances_atomic(duroxide_provider* p, const char* ids_json, int force,
                                           duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "delete_instances_atomic", OpKind::kPlain, [&](Reader& r) -> Work {
    auto ids = r.identifiers("ids", ids_json);
    return [ids = std::move(ids), force = force != 0](Op* op) mutable {
      core(op).delete_instances_atomic(std::move(ids), force, reply<DeleteInstanceResult>(op, out::delete_result));
    };
  });
}

int duroxide_admin_get_instance_tree(duroxide_provider* p, const char* root, duroxide_callback cb, void* ud) {
  return instance_op<InstanceTree>(
      p, "get_instance_tree", "root", root, cb, ud,
      [](pg::PostgresProvider& c, std::string s, Callback<InstanceTree> k) {
        c.get_instance_tree(std::move(s), std::move(k));
      },
      out::instance_tree);
}

int duroxide_admin_delete_instance(duroxide_provider* p, const char* instance, int force, duroxide_callback cb,
                                   void* ud) {
  return run_start(p, cb, ud, "delete_instance", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    return [inst = std::move(inst), force = force != 0](Op* op) mutable {
      core(op).delete_instance(std::move(inst), force, reply<DeleteInstanceResult>(op, out::delete_result));
    };
  });
}

int duroxide_admin_delete_instance_bulk(duroxide_provider* p, const char* filter_json, duroxide_callback cb,
                                        void* ud) {
  return run_start(p, cb, ud, "delete_instance_bulk", OpKind::kPlain, [&](Reader& r) -> Work {
    auto filter = r.instance_filter("filter", filter_json);
    return [filter = std::move(filter)](Op* op) mutable {
      core(op).delete_instance_bulk(std::move(filter), reply<DeleteInstanceResult>(op, out::delete_result));
    };
  });
}

int duroxide_admin_prune_executions(duroxide_provider* p, const char* instance, const char* options_json,
                                    duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "prune_executions", OpKind::kPlain, [&](Reader& r) -> Work {
    auto inst = r.str("instance", instance);
    auto opts = r.prune_options("options", options_json);
    return [inst = std::move(inst), opts](Op* op) mutable {
      core(op).prune_executions(std::move(inst), opts, reply<PruneResult>(op, out::prune_result));
    };
  });
}

int duroxide_admin_prune_executions_bulk(duroxide_provider* p, const char* filter_json, const char* options_json,
                                         duroxide_callback cb, void* ud) {
  return run_start(p, cb, ud, "prune_executions_bulk", OpKind::kPlain, [&](Reader& r) -> Work {
    auto filter = r.instance_filter("filter", filter_json);
    auto opts = r.prune_options("options", options_json);
    return [filter = std::move(filter), opts](Op* op) mutable {
      core(op).prune_executions_bulk(std::move(filter), opts, reply<PruneResult>(op, out::prune_result));
    };
  });
}

}  // extern "C"
