// Sans-I/O bookkeeping for libpq pipeline mode.
//
// Every query is sent as up to two commands (an optional Prepare, then the query itself) followed
// by its own Sync, so an error in one query aborts nothing but that query. The server answers each
// command with results then a terminating NULL from PQgetResult, and each Sync with a
// PGRES_PIPELINE_SYNC result. This class is fed the kind of each PQgetResult outcome, in order, and
// says what to do with it; it knows nothing of sockets or of libpq objects, so it is unit-tested on
// its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace duroxide::pg {

class PipelineBook {
 public:
  // What PQgetResult produced, reduced to what the bookkeeping needs.
  enum class Input : uint8_t {
    kResult,   // PGRES_COMMAND_OK / TUPLES_OK / other non-error status
    kError,    // PGRES_FATAL_ERROR (or NONFATAL)
    kAborted,  // PGRES_PIPELINE_ABORTED: skipped because an earlier command of the same query failed
    kEnd,      // NULL: the current command has no more results
    kSync,     // PGRES_PIPELINE_SYNC: the query is finished
  };

  enum class Action : uint8_t {
    kDiscard,   // drop the result (a Prepare's success, an abort marker, an end marker)
    kKeep,      // keep this result as the query's outcome (replacing nothing already kept as error)
    kKeepError, // keep this error as the query's outcome unless an earlier error is already kept
    kComplete,  // the query with this id is done: deliver what was kept
    kProtocolError,  // input that cannot happen in a healthy pipeline; the connection is unusable
  };

  struct Decision {
    Action action;
    uint64_t id;  // the query the input belongs to (0 for kProtocolError with nothing in flight)
    unsigned command = 0;  // which of the query's commands the input belongs to (0 = first)
  };

  // Registers a query that was just sent: `commands` is 1, or 2 when a Prepare precedes it.
  void push(uint64_t id, unsigned commands);

  Decision feed(Input in);

  size_t in_flight() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Ids in send order, e.g. to fail them all when the connection breaks.
  template <class F>
  void for_each(F&& f) const {
    for (const Entry& e : entries_) f(e.id);
  }
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    uint64_t id;
    uint8_t commands;  // commands sent for this query
    uint8_t current;   // index of the command whose results are arriving
    bool got_error;
  };
  std::deque<Entry> entries_;
};

}  // namespace duroxide::pg
