// lib/capi/json_out.h — the success texts of the C API (c-api.md §4.2, §5): compact, members in
// the documented order, serde_json string escaping, WorkItem/Event values in canonical wire text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "duroxide/admin_types.h"
#include "duroxide/provider.h"

namespace duroxide::capi::out {

void str(std::string& o, std::string_view s);
void opt_str(std::string& o, const std::optional<std::string>& s);
void u64(std::string& o, uint64_t v);
void strings(std::string& o, const std::vector<std::string>& v);
void u64s(std::string& o, const std::vector<uint64_t>& v);
void events(std::string& o, const std::vector<Event>& v);
void fetched_orchestration(std::string& o, const std::optional<LockedOrchestration>& f);
void fetched_work_item(std::string& o, const std::optional<LockedWorkItem>& f);
void custom_status(std::string& o, const std::optional<CustomStatus>& c);
void kv_map(std::string& o, const std::map<std::string, std::string>& m);
void system_stats(std::string& o, const std::optional<SystemStats>& s);
void instance_info(std::string& o, const InstanceInfo& i);
void execution_info(std::string& o, const ExecutionInfo& e);
void system_metrics(std::string& o, const SystemMetrics& m);
void queue_depths(std::string& o, const QueueDepths& q);
void delete_result(std::string& o, const DeleteInstanceResult& d);
void prune_result(std::string& o, const PruneResult& p);
void instance_tree(std::string& o, const InstanceTree& t);

}  // namespace duroxide::capi::out
