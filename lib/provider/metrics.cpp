// Operation counters and latency histograms of a provider, and their text form.
#include <bit>
#include <cmath>
#include <cstdio>

#include "provider/impl.h"

namespace duroxide::pg {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

void LatencyHistogram::record(std::uint64_t micros) noexcept {
  const auto bucket = std::min<std::size_t>(counts.size() - 1, std::bit_width(micros));
  ++counts[bucket];
}

std::uint64_t LatencyHistogram::total() const noexcept {
  std::uint64_t n = 0;
  for (auto c : counts) n += c;
  return n;
}

std::uint64_t LatencyHistogram::quantile_us(double q) const noexcept {
  const std::uint64_t n = total();
  if (n == 0) return 0;
  const auto want = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(n)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= std::max<std::uint64_t>(want, 1)) return i == 0 ? 1 : std::uint64_t{1} << i;
  }
  return std::uint64_t{1} << (counts.size() - 1);
}

void PostgresProvider::Impl::record(std::string_view op, uint64_t start_ns, const ProviderError* error) {
  auto it = op_metrics.find(op);
  if (it == op_metrics.end()) {
    it = op_metrics.emplace(std::string(op), OperationMetrics{}).first;
    it->second.operation = std::string(op);
  }
  OperationMetrics& m = it->second;
  ++m.calls;
  m.latency.record((uv_hrtime() - start_ns) / 1000);
  if (!error) {
    ++m.ok;
    return;
  }
  ++(error->retryable ? m.retryable_errors : m.permanent_errors);
  ++errors_by_class[error->sqlstate.substr(0, 2)];
}

ProviderMetrics PostgresProvider::Impl::metrics() const {
  ProviderMetrics out;
  for (const auto& [name, m] : op_metrics) out.operations.push_back(m);
  out.errors_by_sqlstate_class = errors_by_class;
  const Pool::Stats ps = pool->stats();
  out.pool = PoolMetrics{pool->max_size(), ps.connections, ps.idle, ps.in_flight, ps.waiting,
                         ps.connects, ps.connect_failures, ps.connections_lost, ps.idle_closed};
  out.listening = polls.listening();
  out.notifications_received = notifications_received;
  out.long_poll_scans = polls.scans();
  out.long_poll_wakeups = polls.wakeups();
  out.long_poll_waiting = polls.waiting();
  return out;
}

std::string to_string(const ProviderMetrics& m) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-32s %10s %10s %8s %8s %10s %10s %10s\n", "operation", "calls", "ok",
                "retry", "perm", "p50 us<=", "p99 us<=", "max us<=");
  out += line;
  for (const auto& op : m.operations) {
    std::snprintf(line, sizeof line, "%-32s %10llu %10llu %8llu %8llu %10llu %10llu %10llu\n",
                  op.operation.c_str(), static_cast<unsigned long long>(op.calls),
                  static_cast<unsigned long long>(op.ok), static_cast<unsigned long long>(op.retryable_errors),
                  static_cast<unsigned long long>(op.permanent_errors),
                  static_cast<unsigned long long>(op.latency.quantile_us(0.5)),
                  static_cast<unsigned long long>(op.latency.quantile_us(0.99)),
                  static_cast<unsigned long long>(op.latency.quantile_us(1.0)));
    out += line;
  }
  for (const auto& [cls, n] : m.errors_by_sqlstate_class) {
    std::snprintf(line, sizeof line, "errors with SQLSTATE class '%s': %llu\n", cls.c_str(),
                  static_cast<unsigned long long>(n));
    out += line;
  }
  const PoolMetrics& p = m.pool;
  std::snprintf(line, sizeof line,
                "pool: %zu/%zu connections, %zu idle, %zu in flight, %zu waiting; %llu connects, %llu failed, "
                "%llu lost, %llu closed idle\n",
                p.connections, p.max_size, p.idle, p.in_flight, p.waiting,
                static_cast<unsigned long long>(p.connects), static_cast<unsigned long long>(p.connect_failures),
                static_cast<unsigned long long>(p.connections_lost),
                static_cast<unsigned long long>(p.idle_closed));
  out += line;
  std::snprintf(line, sizeof line,
                "long poll: %s, %llu notifications, %llu scans, %llu wake-ups, %zu waiting\n",
                m.listening ? "listening" : "not listening",
                static_cast<unsigned long long>(m.notifications_received),
                static_cast<unsigned long long>(m.long_poll_scans),
                static_cast<unsigned long long>(m.long_poll_wakeups), m.long_poll_waiting);
  out += line;
  return out;
}

}  // namespace duroxide::pg
