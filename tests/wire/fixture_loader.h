// tests/wire/fixture_loader.h — reads the wire fixture files (*.jsonl) in their three formats.
//
// Each line is a JSON wrapper object; which format it has is decided by its fields, not by the
// file name:
//   {"case","json"}                   golden text; WorkItem or Event by file name, else by content
//   {"case","kind","input","canonical"}  lenient input and its canonical re-encoding
//   {"case","kind","input","error"}      input that must be rejected
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace wire_test {

enum class Kind { WorkItem, Event, Unknown };

struct FixtureCase {
  std::string file;
  std::size_t line = 0;
  std::string name;   // "case"
  Kind kind = Kind::Unknown;
  std::string input;  // "json" or "input"
  std::optional<std::string> canonical;  // expected encoding; == input for golden lines
  bool must_fail = false;                // an "error" line
};

inline Kind kind_from_text(std::string_view k) {
  if (k == "WorkItem") return Kind::WorkItem;
  if (k == "Event") return Kind::Event;
  return Kind::Unknown;
}

// Returns false (with `error` set) when the file or one of its lines is not a recognisable case.
inline bool load_fixture_file(const std::filesystem::path& path, std::vector<FixtureCase>& out,
                              std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path.string();
    return false;
  }
  const std::string file = path.filename().string();
  Kind file_kind = Kind::Unknown;
  if (file.find("work_item") != std::string::npos) file_kind = Kind::WorkItem;
  else if (file.find("event") != std::string::npos) file_kind = Kind::Event;

  simdjson::dom::parser parser;
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    simdjson::dom::element root;
    if (auto e = parser.parse(line).get(root)) {
      error = file + ":" + std::to_string(lineno) + ": wrapper is not JSON: " +
              simdjson::error_message(e);
      return false;
    }
    const auto str = [&](const char* key) -> std::optional<std::string> {
      std::string_view v;
      if (root[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
      return std::string(v);
    };
    FixtureCase c;
    c.file = file;
    c.line = lineno;
    c.name = str("case").value_or("line " + std::to_string(lineno));
    if (auto json = str("json")) {
      c.input = *json;
      c.canonical = *json;
      c.kind = file_kind;
      if (c.kind == Kind::Unknown) {
        // No hint in the file name: an Event is a flat object with an "event_id" key.
        c.kind = c.input.find("\"event_id\"") != std::string::npos ? Kind::Event : Kind::WorkItem;
      }
    } else if (auto input = str("input")) {
      c.input = *input;
      c.kind = kind_from_text(str("kind").value_or(""));
      if (c.kind == Kind::Unknown) {
        error = file + ":" + std::to_string(lineno) + ": unknown or missing \"kind\"";
        return false;
      }
      if (auto canonical = str("canonical")) c.canonical = *canonical;
      else if (str("error")) c.must_fail = true;
      else {
        error = file + ":" + std::to_string(lineno) + ": neither \"canonical\" nor \"error\"";
        return false;
      }
    } else {
      error = file + ":" + std::to_string(lineno) + ": neither \"json\" nor \"input\"";
      return false;
    }
    out.push_back(std::move(c));
  }
  return true;
}

inline std::vector<std::filesystem::path> jsonl_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace wire_test
