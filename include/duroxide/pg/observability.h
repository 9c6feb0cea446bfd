// duroxide/pg/observability.h — what a PostgresProvider tells about itself: log lines through a
// caller-supplied logger, and a snapshot of counters and latency histograms.
//
// Nothing is printed unless the caller installs a logger. Log messages never contain passwords,
// access tokens or connection strings (they are built from the same scrubbed texts as errors).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace duroxide::pg {

enum class LogLevel : std::uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::string_view to_string(LogLevel level) noexcept;

// Called on the provider's loop thread; it should return promptly (the loop waits for it).
using Logger = std::function<void(LogLevel level, std::string_view message)>;

// Latencies in power-of-two microsecond buckets: counts[0] holds calls under 1 µs, counts[i]
// (i >= 1) calls of at least 2^(i-1) and under 2^i µs; the last bucket also holds anything longer.
struct LatencyHistogram {
  std::array<std::uint64_t, 32> counts{};

  void record(std::uint64_t micros) noexcept;
  std::uint64_t total() const noexcept;
  // The upper edge in µs of the bucket holding quantile q (0 < q <= 1): a value that at least a
  // fraction q of the calls stayed under; 0 when empty.
  std::uint64_t quantile_us(double q) const noexcept;
};

struct OperationMetrics {
  std::string operation;  // "fetch_work_item", "ack_orchestration_item", ...
  std::uint64_t calls = 0;  // completed calls
  std::uint64_t ok = 0;
  std::uint64_t retryable_errors = 0;
  std::uint64_t permanent_errors = 0;
  LatencyHistogram latency;  // call to callback, long-poll waits included
};

struct PoolMetrics {
  std::size_t max_size = 0;
  std::size_t connections = 0;  // open or opening (not those being closed)
  std::size_t idle = 0;         // ready with nothing in flight
  std::size_t in_flight = 0;    // queries sent and not yet answered
  std::size_t waiting = 0;      // queries and leases waiting for a connection
  std::uint64_t connects = 0;          // connection attempts started
  std::uint64_t connect_failures = 0;  // attempts that never became ready
  std::uint64_t connections_lost = 0;  // ready connections that failed later
  std::uint64_t idle_closed = 0;       // connections closed after pool_idle_timeout without work
};

struct ProviderMetrics {
  std::vector<OperationMetrics> operations;  // by operation name, only those called so far
  // Errors by the class of their SQLSTATE (its first two characters: "08" connection, "40"
  // serialization/deadlock, "57" operator intervention, "QD" the provider's own; "" none).
  std::map<std::string, std::uint64_t> errors_by_sqlstate_class;
  PoolMetrics pool;
  bool listening = false;                     // the long-poll listener is subscribed
  std::uint64_t notifications_received = 0;   // queue notifications heard by the listener
  std::uint64_t long_poll_scans = 0;          // fetch scans, first scans included
  std::uint64_t long_poll_wakeups = 0;        // rescans caused by a notification or a due time
  std::size_t long_poll_waiting = 0;          // fetches waiting right now
};

// A multi-line human-readable table of the snapshot.
std::string to_string(const ProviderMetrics& m);

}  // namespace duroxide::pg
