// bench/codec_bench — wire codec throughput (issue 3).
//
// Datasets (all generated with a fixed seed, so runs are comparable):
//   history      1,000 events of mixed kinds as an orchestration writes them, payloads 10 B to
//                100 KiB (log-uniform), payloads are JSON text (so they are double-encoded and
//                full of \" escapes, as real Duroxide payloads are)
//   large-plain  100 events with a 100 KiB plain-text payload (no escapes): raw string speed
//   large-json   100 events with a 100 KiB JSON-text payload (an escape every ~6 bytes)
//   small        100,000 small events (ids, names, short JSON payloads; ~220 B each)
//   small-wi     100,000 small work items (ActivityExecute / ActivityCompleted / TimerFired)
// For each: decode (WireDecoder, reused) and encode (encode_to into a reused buffer), in MB/s of
// JSON text and in items/s, single thread. Rates are computed from the thread's CPU time (what
// one core achieves, even when the machine is shared); the wall-clock MB/s is shown beside. For reference, the time simdjson's DOM parser needs
// just to parse the same text (no extraction into our types) is shown as "dom-parse".
//
// Usage: codec_bench [min_seconds_per_row=0.5] [dataset] [op]
#include <simdjson.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "duroxide/wire.h"

using namespace duroxide;
using Clock = std::chrono::steady_clock;

namespace {

std::string json_payload(std::mt19937_64& rng, std::size_t size) {
  // {"k0":"lorem…","k1":12345,...} until `size` bytes.
  static constexpr char kWords[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do";
  std::string s = "{";
  for (int k = 0; s.size() + 2 < size; ++k) {
    if (k) s += ',';
    s += "\"k" + std::to_string(k) + "\":";
    if (rng() % 3 == 0) {
      s += std::to_string(rng() % 100000);
    } else {
      s += '"';
      const std::size_t start = rng() % 30;
      s.append(kWords + start, 1 + rng() % 28);
      s += '"';
    }
  }
  s += '}';
  if (s.size() > size && size >= 2) {
    s.resize(size - 1);
    s += '}';
  }
  return s;
}

std::string plain_payload(std::mt19937_64& rng, std::size_t size) {
  std::string s(size, ' ');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

std::size_t log_uniform(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  std::uniform_real_distribution<double> d(std::log(double(lo)), std::log(double(hi)));
  return static_cast<std::size_t>(std::exp(d(rng)));
}

Event envelope(std::uint64_t id, std::optional<std::uint64_t> source) {
  Event e;
  e.event_id = id;
  e.source_event_id = source;
  e.instance_id = "order-8f3a2c1e-4b7d-4e9a-9c1f-2d3e4f5a6b7c";
  e.execution_id = 1;
  e.timestamp_ms = 1700000000000 + id * 17;
  e.duroxide_version = "0.1.26";
  return e;
}

std::vector<Event> history(std::mt19937_64& rng, std::size_t n, std::size_t lo, std::size_t hi,
                           bool plain) {
  const auto payload = [&] {
    const std::size_t size = lo == hi ? lo : log_uniform(rng, lo, hi);
    return plain ? plain_payload(rng, size) : json_payload(rng, size);
  };
  std::vector<Event> events;
  Event start = envelope(1, std::nullopt);
  start.kind = event_kind::OrchestrationStarted{"ProcessOrder", "1.0.0", payload(), std::nullopt,
                                                std::nullopt, std::nullopt, std::nullopt};
  events.push_back(start);
  while (events.size() < n) {
    const std::uint64_t id = events.size() + 1;
    Event e = envelope(id, std::nullopt);
    switch (rng() % 10) {
      case 0: case 1: case 2:
        e.kind = event_kind::ActivityScheduled{"ChargeCard", payload(), std::nullopt,
                                               rng() % 4 == 0 ? std::optional<std::string>("gpu")
                                                              : std::nullopt};
        break;
      case 3: case 4: case 5:
        e.source_event_id = id - 1;
        e.kind = event_kind::ActivityCompleted{payload()};
        break;
      case 6:
        e.kind = event_kind::TimerCreated{1700000005000 + id};
        break;
      case 7:
        e.kind = event_kind::ExternalEvent{"Approval", payload()};
        break;
      case 8:
        e.kind = event_kind::KeyValueSet{"stage", payload(), 1700000000000 + id};
        break;
      default:
        e.source_event_id = id - 1;
        e.kind = event_kind::ActivityFailed{error_details::Application{
            app_error_kind::ActivityFailed{}, payload(), false}};
        break;
    }
    events.push_back(std::move(e));
  }
  return events;
}

std::vector<WorkItem> small_work_items(std::mt19937_64& rng, std::size_t n) {
  std::vector<WorkItem> items;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string inst = "order-" + std::to_string(rng() % 1000000);
    switch (i % 3) {
      case 0:
        items.push_back(work_item::ActivityExecute{inst, 1, i, "ChargeCard", json_payload(rng, 40),
                                                   std::nullopt, std::nullopt});
        break;
      case 1:
        items.push_back(work_item::ActivityCompleted{inst, 1, i, json_payload(rng, 40)});
        break;
      default:
        items.push_back(work_item::TimerFired{inst, 1, i, 1700000005000 + i});
        break;
    }
  }
  return items;
}

struct Row {
  std::string dataset, op;
  double mb_per_s, items_per_s, avg_bytes, wall_mb_per_s;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Repeats `pass` (one pass over the dataset) until `min_seconds` elapsed.
template <class F>
Row measure(const std::string& dataset, const std::string& op, std::size_t items,
            std::size_t bytes, double min_seconds, F&& pass) {
  pass();  // warm-up
  std::size_t passes = 0;
  const auto t0 = Clock::now();
  const double c0 = thread_cpu_seconds();
  double cpu = 0;
  do {
    pass();
    ++passes;
    cpu = thread_cpu_seconds() - c0;
  } while (cpu < min_seconds);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double total = double(bytes) * double(passes);
  return Row{dataset, op, total / cpu / 1e6, double(items) * double(passes) / cpu,
             double(bytes) / double(items), total / wall / 1e6};
}

std::string g_only_op;  // benchmark-driver setting, written once in main

template <class T>
void bench_dataset(std::vector<Row>& rows, const std::string& name, const std::vector<T>& values,
                   double min_seconds) {
  const auto want = [](const char* op) { return g_only_op.empty() || g_only_op == op; };
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (const auto& v : values) {
    texts.push_back(encode(v));
    bytes += texts.back().size();
  }
  WireDecoder decoder;
  std::size_t sink = 0;
  if (want("decode")) rows.push_back(measure(name, "decode", values.size(), bytes, min_seconds, [&] {
    for (const auto& t : texts) {
      if constexpr (std::is_same_v<T, Event>) {
        auto r = decoder.decode_event(t);
        if (!r) std::abort();
        sink += r->event_id;
      } else {
        auto r = decoder.decode_work_item(t);
        if (!r) std::abort();
        sink += r->index();
      }
    }
  }));
  std::string out;
  if (want("encode")) rows.push_back(measure(name, "encode", values.size(), bytes, min_seconds, [&] {
    for (const auto& v : values) {
      out.clear();
      encode_to(out, v);
      sink += out.size();
    }
  }));
  simdjson::dom::parser dom;
  std::vector<simdjson::padded_string> padded;
  for (const auto& t : texts) padded.emplace_back(t);
  if (want("dom-parse")) rows.push_back(measure(name, "dom-parse", values.size(), bytes, min_seconds, [&] {
    for (const auto& p : padded) {
      simdjson::dom::element root;
      if (dom.parse(p).get(root)) std::abort();
      sink += root.is_object();
    }
  }));
  if (sink == 42) std::puts("");  // keep the work observable
}

}  // namespace

int main(int argc, char** argv) {
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  std::mt19937_64 rng(20240003);
  const std::string only = argc > 2 ? argv[2] : "";
  if (argc > 3) g_only_op = argv[3];
  const auto want = [&](const char* name) { return only.empty() || only == name; };
  std::vector<Row> rows;
  // Each dataset draws from its own generator, so selecting one does not change its content.
  if (want("history")) {
    std::mt19937_64 g(rng());
    bench_dataset(rows, "history", history(g, 1000, 10, 100 * 1024, false), min_seconds);
  }
  if (want("large-plain")) {
    std::mt19937_64 g(rng() + 1);
    bench_dataset(rows, "large-plain", history(g, 100, 100 * 1024, 100 * 1024, true), min_seconds);
  }
  if (want("large-json")) {
    std::mt19937_64 g(rng() + 2);
    bench_dataset(rows, "large-json", history(g, 100, 100 * 1024, 100 * 1024, false), min_seconds);
  }
  if (want("small")) {
    std::mt19937_64 g(rng() + 3);
    bench_dataset(rows, "small", history(g, 100000, 10, 60, false), min_seconds);
  }
  if (want("small-wi")) {
    std::mt19937_64 g(rng() + 4);
    bench_dataset(rows, "small-wi", small_work_items(g, 100000), min_seconds);
  }

  std::printf("simdjson %d.%d.%d, active implementation: %s\n", int(simdjson::SIMDJSON_VERSION_MAJOR),
              int(simdjson::SIMDJSON_VERSION_MINOR), int(simdjson::SIMDJSON_VERSION_REVISION),
              simdjson::get_active_implementation()->name().c_str());
  std::printf("%-12s %-10s %10s %12s %10s %12s\n", "dataset", "op", "MB/s(cpu)", "items/s(cpu)",
              "avg bytes", "MB/s(wall)");
  for (const auto& r : rows)
    std::printf("%-12s %-10s %10.0f %12.0f %10.0f %12.0f\n", r.dataset.c_str(), r.op.c_str(),
                r.mb_per_s, r.items_per_s, r.avg_bytes, r.wall_mb_per_s);
  return 0;
}
