"""Lossless values through the C API (c-api.md §11.3), with the shared wire fixtures and ctypes:
 * events.jsonl and Event cases of lenient_inputs.jsonl: append_with_execution as the only element,
   read back with read_with_execution; stored cases come back as canonical text byte for byte,
   rejected cases (event id 0, ids above 2^63-1, U+0000 in a stored identifier) fail with a
   permanent QD008 and store nothing;
 * work_items.jsonl and WorkItem cases of lenient_inputs.jsonl: ActivityExecute through
   enqueue_for_worker + fetch_work_item, other items through enqueue_for_orchestrator with a
   StartOrchestration for their routing instance + fetch_orchestration_item;
 * invalid_inputs.jsonl: every case rejected with QD008 (WorkItem cases as item_json, Event cases
   as the only element of events_json, skipping the empty and whitespace-only ones)."""
import ctypes
import json
import os
import sys
import threading
import time

if "DATABASE_URL" not in os.environ:
    print("skipped: DATABASE_URL is not set")
    sys.exit(77)

FIXTURES = os.environ.get("DUROXIDE_WIRE_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "wire", "fixtures"))
lib = ctypes.CDLL(os.environ.get("DUROXIDE_PG_C_LIB", "libduroxide-pg-c.so.1"))


class Result(ctypes.Structure):
    _fields_ = [("ok", ctypes.c_int), ("retryable", ctypes.c_int),
                ("operation", ctypes.c_char_p), ("message", ctypes.c_char_p),
                ("sqlstate", ctypes.c_char_p), ("json", ctypes.c_void_p),
                ("json_len", ctypes.c_size_t)]


CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(Result), ctypes.c_void_p)
H, S, U64, I64, INT = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int
for name, args in {
    "duroxide_provider_append_with_execution": [H, S, U64, S],
    "duroxide_provider_read_with_execution": [H, S, U64],
    "duroxide_provider_enqueue_for_worker": [H, S],
    "duroxide_provider_enqueue_for_orchestrator": [H, S, I64],
    "duroxide_provider_fetch_work_item": [H, U64, U64, S, S],
    "duroxide_provider_fetch_orchestration_item": [H, U64, U64, S],
    "duroxide_provider_ack_work_item": [H, S, S],
    "duroxide_provider_ack_orchestration_item": [H, S, U64, S, S, S, S, S],
    "duroxide_provider_drop_schema": [H],
}.items():
    getattr(lib, name).argtypes = args + [CALLBACK, ctypes.c_void_p]
    getattr(lib, name).restype = INT
lib.duroxide_provider_open.argtypes = [S, S, S, ctypes.POINTER(ctypes.c_void_p)]
lib.duroxide_provider_open.restype = H
lib.duroxide_provider_free.argtypes = [H]
lib.duroxide_provider_free.restype = None

done = threading.Event()
slot = {}


@CALLBACK
def on_result(res, _):
    r = res.contents
    if r.ok:
        slot["value"] = (True, ctypes.string_at(r.json, r.json_len))
    else:
        slot["value"] = (False, (r.retryable, r.sqlstate.decode(), r.message.decode("utf-8", "replace")))
    done.set()


def call(name, *args):
    done.clear()
    rc = getattr(lib, name)(p, *args, on_result, None)
    assert rc == 0, (name, rc)
    assert done.wait(60), name
    return slot["value"]


def lines(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


schema = f"py_fix_{os.getpid()}_{int(time.time() * 1000) % 1000000}"
err = ctypes.c_void_p()
p = lib.duroxide_provider_open(os.environ["DATABASE_URL"].encode(), schema.encode(), None, ctypes.byref(err))
assert p, "open failed"
I64_MAX = 2**63 - 1
failures = []
stats = {"events stored": 0, "events rejected": 0, "items stored": 0, "items rejected": 0, "invalid rejected": 0}


def expect_rejected(case, ok, value):
    if ok or value[0] != 0 or value[1] != "QD008":
        failures.append(f"{case}: expected a permanent QD008, got {ok} {value}")
        return False
    return True


def event_case(n, case, text, canonical):
    inst = f"ev-{n}".encode()
    ok, value = call("duroxide_provider_append_with_execution", inst, 1, b"[" + text + b"]")
    ev = json.loads(canonical)
    storable = 1 <= ev["event_id"] <= I64_MAX and (ev.get("source_event_id") or 0) <= I64_MAX
    if ok:
        _, back = call("duroxide_provider_read_with_execution", inst, 1)
        if back != b"[" + canonical + b"]":
            failures.append(f"{case}: read back {back[:200]!r}, expected {canonical[:200]!r}")
        stats["events stored"] += 1
    else:
        # Rejections are allowed only for what the provider stores in its own columns.
        if storable and "\\u0000" not in canonical.decode():
            failures.append(f"{case}: rejected a storable event: {value}")
        elif expect_rejected(case, ok, value):
            _, back = call("duroxide_provider_read_with_execution", inst, 1)
            if back != b"[]":
                failures.append(f"{case}: a rejected append stored {back!r}")
            stats["events rejected"] += 1


def routing_instance(item):
    body = next(iter(item.values()))
    return body.get("instance", body.get("parent_instance"))


def work_item_case(n, case, text, canonical):
    item = json.loads(canonical)
    kind = next(iter(item))
    if kind == "ActivityExecute":
        ok, value = call("duroxide_provider_enqueue_for_worker", text)
        if not ok:
            if expect_rejected(case, ok, value):
                stats["items rejected"] += 1
            return
        session = b'{"owner_id":"fixtures","lock_timeout_ms":30000}' if "session_id" in item[kind] else None
        ok, got = call("duroxide_provider_fetch_work_item", 30000, 2000, session, b'{"mode":"any"}')
        if not ok or got == b"null" or b'"item":' + canonical + b"}" not in got:
            failures.append(f"{case}: fetched {got!r}")
            return
        token = json.loads(got)["lock_token"].encode()
        call("duroxide_provider_ack_work_item", token, None)
        stats["items stored"] += 1
        return
    ok, value = call("duroxide_provider_enqueue_for_orchestrator", text, -1)
    if not ok:
        if expect_rejected(case, ok, value):
            stats["items rejected"] += 1
        return
    inst = routing_instance(item)
    if kind != "StartOrchestration":
        start = {"StartOrchestration": {"instance": inst, "orchestration": "P", "input": "", "version": "1.0.0",
                                        "parent_instance": None, "parent_id": None, "execution_id": 1}}
        ok, value = call("duroxide_provider_enqueue_for_orchestrator", json.dumps(start).encode(), -1)
        assert ok, (case, value)
    # Turns of earlier cases may still be pending (messages the provider held back): consume them
    # with empty acks until this case's message arrives.
    for _ in range(8):
        ok, got = call("duroxide_provider_fetch_orchestration_item", 30000, 2000, None)
        if not ok or got == b"null":
            failures.append(f"{case}: fetched {got!r}")
            return
        fetched = json.loads(got)
        ok2, value = call("duroxide_provider_ack_orchestration_item", fetched["lock_token"].encode(),
                          fetched["item"]["execution_id"], None, None, None, None, None)
        assert ok2, (case, value)
        if canonical in got:
            break
    else:
        failures.append(f"{case}: never fetched")
        return
    stats["items stored"] += 1


n = 0
for c in lines("events.jsonl"):
    n += 1
    t = c["json"].encode()
    event_case(n, c["case"], t, t)
for c in lines("lenient_inputs.jsonl"):
    n += 1
    if c["kind"] == "Event":
        event_case(n, c["case"], c["input"].encode(), c["canonical"].encode())
# Work items: each orchestrator case on its own routing instance (cases share instance names).
for c in lines("work_items.jsonl") + [c for c in lines("lenient_inputs.jsonl") if c["kind"] == "WorkItem"]:
    n += 1
    canonical = c.get("canonical", c.get("json"))
    text = c.get("input", c.get("json"))
    item = json.loads(canonical)
    body = next(iter(item.values()))
    fresh = f"wi-{n}"
    # Rename the routing instance so that every case has its own (the texts stay byte-exact).
    for key in ("instance", "parent_instance"):
        if isinstance(body.get(key), str) and body[key]:
            old = json.dumps(body[key])[1:-1]
            if canonical.count(f'"{key}":"{old}"') == 1 and text.count(f'"{key}":"{old}"') == 1:
                canonical = canonical.replace(f'"{key}":"{old}"', f'"{key}":"{fresh}"')
                text = text.replace(f'"{key}":"{old}"', f'"{key}":"{fresh}"')
            break
    work_item_case(n, c["case"], text.encode(), canonical.encode())
for c in lines("invalid_inputs.jsonl"):
    text = c["input"].encode()
    if c["kind"] == "WorkItem":
        ok, value = call("duroxide_provider_enqueue_for_worker", text)
    else:
        if not text.strip():
            continue
        ok, value = call("duroxide_provider_append_with_execution", b"inv", 1, b"[" + text + b"]")
    if expect_rejected(c["case"], ok, value):
        stats["invalid rejected"] += 1

call("duroxide_provider_drop_schema")
lib.duroxide_provider_free(p)
print(", ".join(f"{k}: {v}" for k, v in stats.items()))
for f in failures[:40]:
    print("FAIL", f)
sys.exit(1 if failures else 0)
