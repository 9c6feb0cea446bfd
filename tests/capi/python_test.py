"""The C API from Python with only the standard library (ctypes): open a provider on a fresh
schema, enqueue a start, fetch it, ack it as Completed, read the history back, drop, close.
This is the flow of c-api.md §10.2. The library path comes from DUROXIDE_PG_C_LIB (set by meson),
else the system's libduroxide-pg-c.so.1."""
import ctypes
import ctypes.util
import itertools
import json
import os
import sys
import threading
import time

if "DATABASE_URL" not in os.environ:
    print("skipped: DATABASE_URL is not set")
    sys.exit(77)

lib = ctypes.CDLL(os.environ.get("DUROXIDE_PG_C_LIB")
                  or ctypes.util.find_library("duroxide-pg-c") or "libduroxide-pg-c.so.1")
lib.duroxide_c_api_version.restype = ctypes.c_uint32
if lib.duroxide_c_api_version() >> 16 != 1:
    raise SystemExit("unsupported C API version")
lib.duroxide_version.restype = ctypes.c_char_p


class Result(ctypes.Structure):
    _fields_ = [("ok", ctypes.c_int), ("retryable", ctypes.c_int),
                ("operation", ctypes.c_char_p), ("message", ctypes.c_char_p),
                ("sqlstate", ctypes.c_char_p), ("json", ctypes.c_void_p),
                ("json_len", ctypes.c_size_t)]


assert ctypes.sizeof(Result) == 48

CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(Result), ctypes.c_void_p)
H, S, U64, I64, INT = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64,
                       ctypes.c_int64, ctypes.c_int)
SIGNATURES = {
    "duroxide_provider_enqueue_for_orchestrator": [H, S, I64],
    "duroxide_provider_fetch_orchestration_item": [H, U64, U64, S],
    "duroxide_provider_ack_orchestration_item": [H, S, U64, S, S, S, S, S],
    "duroxide_provider_read": [H, S],
    "duroxide_admin_get_instance_info": [H, S],
    "duroxide_provider_drop_schema": [H],
}
for name, args in SIGNATURES.items():
    getattr(lib, name).argtypes = args + [CALLBACK, ctypes.c_void_p]
    getattr(lib, name).restype = INT
lib.duroxide_provider_open.argtypes = [S, S, S, ctypes.POINTER(ctypes.c_void_p)]
lib.duroxide_provider_open.restype = H
lib.duroxide_provider_close.argtypes = [H]
lib.duroxide_provider_close.restype = INT
lib.duroxide_provider_free.argtypes = [H]
lib.duroxide_provider_free.restype = None
lib.duroxide_provider_schema.argtypes = [H]
lib.duroxide_provider_schema.restype = ctypes.c_char_p
lib.duroxide_string_free.argtypes = [ctypes.c_void_p]
lib.duroxide_string_free.restype = None


class ProviderError(Exception):
    def __init__(self, operation, message, retryable, sqlstate):
        super().__init__(f"{operation}: {message}")
        self.retryable, self.sqlstate = retryable, sqlstate


pending, keys, pending_lock = {}, itertools.count(1), threading.Lock()
callback_threads = set()


@CALLBACK
def on_result(res, key):
    r = res.contents
    try:
        callback_threads.add(threading.get_ident())
        if r.ok:
            value = json.loads(ctypes.string_at(r.json, r.json_len).decode("utf-8"))
        else:
            value = ProviderError(r.operation.decode(), r.message.decode(),
                                  bool(r.retryable), r.sqlstate.decode())
    except Exception as e:  # never let an exception escape into C
        value = e
    with pending_lock:
        slot = pending.pop(key)
    slot["value"] = value
    slot["done"].set()


def call(name, *args):
    """Start one operation, wait for its callback, return the decoded JSON."""
    key = next(keys)
    slot = {"done": threading.Event()}
    with pending_lock:
        pending[key] = slot
    rc = getattr(lib, name)(*args, on_result, key)
    if rc != 0:
        with pending_lock:
            del pending[key]
        raise RuntimeError(f"{name} not started: {rc}")
    if not slot["done"].wait(60):
        raise RuntimeError(f"{name}: no callback within 60 s")
    if isinstance(slot["value"], Exception):
        raise slot["value"]
    return slot["value"]


schema = f"py_capi_{os.getpid()}_{int(time.time() * 1000) % 1000000}"
error = ctypes.c_void_p()
p = lib.duroxide_provider_open(os.environ["DATABASE_URL"].encode(), schema.encode(),
                               b'{"pool_max":2}', ctypes.byref(error))
if not p:
    text = ctypes.string_at(error.value).decode() if error.value else "open failed"
    lib.duroxide_string_free(error)
    raise SystemExit(text)
assert lib.duroxide_provider_schema(p).decode() == schema

start = {"StartOrchestration": {"instance": "order-1", "orchestration": "Proc",
                                "input": "{}", "version": "1.0.0", "parent_instance": None,
                                "parent_id": None, "execution_id": 1}}
assert call("duroxide_provider_enqueue_for_orchestrator", p, json.dumps(start).encode(), -1) is None

fetched = call("duroxide_provider_fetch_orchestration_item", p, 30000, 5000, None)
if fetched is None:
    raise SystemExit("nothing fetched")
assert list(fetched) == ["lock_token", "attempt_count", "item"]
assert fetched["attempt_count"] == 1
item = fetched["item"]
assert item["instance"] == "order-1" and item["messages"] == [start]


def event(event_id, kind, **fields):
    return {"event_id": event_id, "source_event_id": None, "instance_id": item["instance"],
            "execution_id": item["execution_id"], "timestamp_ms": int(time.time() * 1000),
            "duroxide_version": "0.1.26", "type": kind, **fields}


delta = [event(1, "OrchestrationStarted", name="Proc", version="1.0.0", input="{}",
               parent_instance=None, parent_id=None),
         event(2, "OrchestrationCompleted", output="done")]
metadata = {"status": "Completed", "output": "done", "orchestration_name": "Proc",
            "orchestration_version": "1.0.0", "pinned_duroxide_version": "0.1.26"}
assert call("duroxide_provider_ack_orchestration_item", p, fetched["lock_token"].encode(),
            item["execution_id"], json.dumps(delta).encode(), None, None,
            json.dumps(metadata).encode(), None) is None

history = call("duroxide_provider_read", p, b"order-1")
assert [e["type"] for e in history] == ["OrchestrationStarted", "OrchestrationCompleted"]
assert history == delta, history
info = call("duroxide_admin_get_instance_info", p, b"order-1")
assert info["status"] == "Completed" and info["output"] == "done"

# An error crosses with its fields intact.
try:
    call("duroxide_provider_ack_orchestration_item", p, b"no-such-token", 1, None, None, None, None, None)
    raise AssertionError("ack with an unknown token succeeded")
except ProviderError as e:
    assert not e.retryable and e.sqlstate == "QD001" and "Invalid lock token" in str(e), e

call("duroxide_provider_drop_schema", p)
assert lib.duroxide_provider_close(p) == 0
lib.duroxide_provider_free(p)
assert threading.get_ident() not in callback_threads and len(callback_threads) == 1
print(f"python ctypes: C API {lib.duroxide_version().decode()}, history {[e['type'] for e in history]}")
