// Small helpers shared by the benchmark programs: latency percentiles, running pgbench as a child
// process for the in-run reference figures, and command-line parsing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace duroxide::bench {

struct LatencyStats {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, mean_ms = 0;
  size_t count = 0;
};

inline LatencyStats summarize(std::vector<double> us) {
  LatencyStats s;
  s.count = us.size();
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))] / 1000.0; };
  s.p50_ms = pct(0.50);
  s.p95_ms = pct(0.95);
  s.p99_ms = pct(0.99);
  double sum = 0;
  for (double v : us) sum += v;
  s.mean_ms = sum / static_cast<double>(us.size()) / 1000.0;
  return s;
}

struct PgbenchResult {
  bool ok = false;
  double tps = 0;
  LatencyStats latency;
  std::string error;
};

// Runs pgbench with a custom script for `seconds` with `clients` connections (prepared protocol,
// -j min(clients, 2)), logging each transaction so percentiles can be computed like ours.
inline PgbenchResult run_pgbench(const std::string& url, const std::string& script, int clients,
                                 int seconds) {
  PgbenchResult r;
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("duroxide-pgbench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "script.sql") << script << "\n";
  }
  const int threads = std::min(clients, 2);
  std::string cmd = "cd '" + dir.string() + "' && pgbench -n -M prepared -l -c " + std::to_string(clients) +
                    " -j " + std::to_string(threads) + " -T " + std::to_string(seconds) +
                    " -f script.sql \"$DUROXIDE_BENCH_URL\" 2>&1";
  ::setenv("DUROXIDE_BENCH_URL", url.c_str(), 1);  // keeps the password off the command line
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    r.error = "cannot start pgbench";
    return r;
  }
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = ::pclose(p);
  const size_t pos = out.find("tps = ");
  if (rc != 0 || pos == std::string::npos) {
    r.error = "pgbench failed: " + out.substr(0, 400);
    fs::remove_all(dir);
    return r;
  }
  r.tps = std::strtod(out.c_str() + pos + 6, nullptr);
  std::vector<double> lat;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("pgbench_log", 0) != 0) continue;
    std::ifstream in(e.path());
    // client_id transaction_no time_us script_no time_epoch time_us
    long client, tx, script_no, epoch, epoch_us;
    double us;
    while (in >> client >> tx >> us >> script_no >> epoch >> epoch_us) lat.push_back(us);
  }
  r.latency = summarize(std::move(lat));
  r.ok = true;
  fs::remove_all(dir);
  return r;
}

inline const char* arg_value(int argc, char** argv, const char* name, const char* dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return dflt;
}

inline bool has_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == name) return true;
  return false;
}

}  // namespace duroxide::bench
