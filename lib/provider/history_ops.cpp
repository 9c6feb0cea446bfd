// History reads and the test/fault-injection append (contract §5.5–§5.7).
#include "duroxide/pg/postgres_provider.h"
#include "provider/impl.h"
#include "provider/pg_text.h"

namespace duroxide::pg {

Result<std::vector<Event>> decode_history(PostgresProvider::Impl& s, std::string_view op, const QueryResult& r) {
  std::vector<Event> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    Result<Event> e = s.decoder.decode_event(r.get(i, 2));
    if (!e)
      return fail(permanent_error(std::string(op), "stored event " + std::string(r.get(i, 1)) + " of execution " +
                                                       std::string(r.get(i, 0)) + " is unreadable: " + e.error().message));
    out.push_back(std::move(*e));
  }
  return out;
}

void PostgresProvider::read(std::string instance, Callback<std::vector<Event>> cb) {
  cb = impl_->track("read", std::move(cb));
  Impl& s = *impl_;
  if (s.closing) return s.fail_later(cb, Impl::closed_error("read"));
  if (!storable_text(instance)) return s.fail_later(cb, invalid_argument("read", "instance id contains U+0000"));
  s.pool->query(s.st.read_latest, Params().add(instance), [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("read", r.error())));
    cb(decode_history(s, "read", *r));
  });
}

void PostgresProvider::read_with_execution(std::string instance, std::uint64_t execution_id,
                                           Callback<std::vector<Event>> cb) {
  cb = impl_->track("read_with_execution", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "read_with_execution";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  if (!fits_int64(execution_id)) {
    // No such execution can be stored.
    s.deferred.post([cb = std::move(cb)]() mutable { cb(std::vector<Event>{}); });
    return;
  }
  s.pool->query(s.st.read_execution, Params().add(instance).add_int(static_cast<int64_t>(execution_id)),
                [&s, cb = std::move(cb)](Result<QueryResult> r) mutable {
                  if (!r) return cb(std::unexpected(op_error("read_with_execution", r.error())));
                  cb(decode_history(s, "read_with_execution", *r));
                });
}

void PostgresProvider::append_with_execution(std::string instance, std::uint64_t execution_id,
                                             std::vector<Event> events, Callback<void> cb) {
  cb = impl_->track("append_with_execution", std::move(cb));
  Impl& s = *impl_;
  constexpr std::string_view op = "append_with_execution";
  if (s.closing) return s.fail_later(cb, Impl::closed_error(op));
  if (!storable_text(instance)) return s.fail_later(cb, invalid_argument(op, "instance id contains U+0000"));
  if (execution_id == 0 || !fits_int64(execution_id))
    return s.fail_later(cb, invalid_argument(op, "execution_id must be between 1 and 9223372036854775807"));
  ArrayLiteral ids, types, datas;
  std::string buf;
  for (const Event& e : events) {
    if (e.event_id == 0 || !fits_int64(e.event_id))
      return s.fail_later(cb, invalid_argument(op, "event_id " + std::to_string(e.event_id) +
                                                       " (must be between 1 and 9223372036854775807)"));
    buf.clear();
    encode_to(buf, e);
    ids.add(static_cast<int64_t>(e.event_id));
    types.add(event_type_name(e));
    datas.add(buf);
  }
  Params p;
  p.add_int(s.now()).add(instance).add_int(static_cast<int64_t>(execution_id));
  p.add(ids.finish()).add(types.finish()).add(datas.finish());
  s.pool->query(s.st.append, std::move(p), [cb = std::move(cb)](Result<QueryResult> r) mutable {
    if (!r) return cb(std::unexpected(op_error("append_with_execution", r.error())));
    cb({});
  });
}

}  // namespace duroxide::pg
