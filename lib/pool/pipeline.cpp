#include "pool/pipeline.h"

namespace duroxide::pg {

void PipelineBook::push(uint64_t id, unsigned commands) {
  entries_.push_back(Entry{id, static_cast<uint8_t>(commands), 0, false});
}

PipelineBook::Decision PipelineBook::feed(Input in) {
  if (entries_.empty()) return {Action::kProtocolError, 0};
  Entry& e = entries_.front();
  const uint64_t id = e.id;
  const bool waiting_for_sync = e.current >= e.commands;
  switch (in) {
    case Input::kSync:
      if (!waiting_for_sync && !e.got_error) return {Action::kProtocolError, id};
      entries_.pop_front();
      return {Action::kComplete, id};
    case Input::kEnd:
      if (waiting_for_sync) return {Action::kProtocolError, id};
      ++e.current;
      return {Action::kDiscard, id};
    case Input::kAborted:
      // After an error the server skips the remaining commands up to the Sync; libpq reports each
      // skipped command as ABORTED followed by its NULL.
      if (waiting_for_sync) return {Action::kProtocolError, id};
      return {Action::kDiscard, id};
    case Input::kError:
      if (waiting_for_sync) return {Action::kProtocolError, id};
      if (e.got_error) return {Action::kDiscard, id};
      e.got_error = true;
      return {Action::kKeepError, id, e.current};
    case Input::kResult:
      if (waiting_for_sync) return {Action::kProtocolError, id};
      // Only the last command is the user's query; a Prepare's success is bookkeeping.
      if (e.current + 1 < e.commands) return {Action::kDiscard, id};
      return {Action::kKeep, id};
  }
  return {Action::kProtocolError, id};
}

}  // namespace duroxide::pg
