// duroxide/provider_admin.h — the management capability (provider-contract §8).
//
// Reached through Provider::as_management_capability(). Same completion contract as Provider:
// loop thread, exactly one callback per call, never inside the call. Errors are permanent unless
// caused by storage trouble; the message texts callers rely on ("not found", "still running",
// "sub-orchestration", "orphan"/"child"/"tree") are part of the contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "duroxide/admin_types.h"
#include "duroxide/provider.h"

namespace duroxide {

class ProviderAdmin {
 public:
  virtual ~ProviderAdmin() = default;

  virtual void list_instances(Callback<std::vector<std::string>> cb) = 0;
  virtual void list_instances_by_status(std::string status,
                                        Callback<std::vector<std::string>> cb) = 0;
  virtual void list_executions(std::string instance, Callback<std::vector<std::uint64_t>> cb) = 0;
  virtual void read_history_with_execution_id(std::string instance, std::uint64_t execution_id,
                                              Callback<std::vector<Event>> cb) = 0;
  virtual void read_history(std::string instance, Callback<std::vector<Event>> cb) = 0;
  virtual void latest_execution_id(std::string instance, Callback<std::uint64_t> cb) = 0;
  virtual void get_instance_info(std::string instance, Callback<InstanceInfo> cb) = 0;
  virtual void get_execution_info(std::string instance, std::uint64_t execution_id,
                                  Callback<ExecutionInfo> cb) = 0;
  virtual void get_system_metrics(Callback<SystemMetrics> cb) = 0;
  virtual void get_queue_depths(Callback<QueueDepths> cb) = 0;
  virtual void list_children(std::string instance, Callback<std::vector<std::string>> cb) = 0;
  virtual void get_parent_id(std::string instance, Callback<std::optional<std::string>> cb) = 0;
  virtual void delete_instances_atomic(std::vector<std::string> ids, bool force,
                                       Callback<DeleteInstanceResult> cb) = 0;
  virtual void get_instance_tree(std::string root, Callback<InstanceTree> cb) = 0;
  virtual void delete_instance(std::string id, bool force, Callback<DeleteInstanceResult> cb) = 0;
  virtual void delete_instance_bulk(InstanceFilter filter, Callback<DeleteInstanceResult> cb) = 0;
  virtual void prune_executions(std::string instance, PruneOptions options,
                                Callback<PruneResult> cb) = 0;
  virtual void prune_executions_bulk(InstanceFilter filter, PruneOptions options,
                                     Callback<PruneResult> cb) = 0;
};

}  // namespace duroxide
