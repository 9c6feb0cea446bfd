"""Entra ID mode through the C API (c-api.md §3.3, §11.7), end to end against the throwaway
PostgreSQL: the `entra` options object (url NULL) with credential "workload_identity", a fake
Microsoft Entra authority (http.server on loopback, via AZURE_AUTHORITY_HOST) whose access token
is the SCRAM password of a fresh login role, and verify-full TLS against the test CA of
scripts/with-postgres.sh. Also: no token -> the open fails retryably, naming the source."""
import ctypes
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading

need = ["DATABASE_URL", "DUROXIDE_PG_TEST_CA", "DUROXIDE_PG_TLS_HOST", "DUROXIDE_PG_PORT"]
if any(n not in os.environ for n in need):
    print("skipped: needs " + ", ".join(need) + " (scripts/with-postgres.sh)")
    sys.exit(77)

lib = ctypes.CDLL(os.environ.get("DUROXIDE_PG_C_LIB", "libduroxide-pg-c.so.1"))


class Result(ctypes.Structure):
    _fields_ = [("ok", ctypes.c_int), ("retryable", ctypes.c_int),
                ("operation", ctypes.c_char_p), ("message", ctypes.c_char_p),
                ("sqlstate", ctypes.c_char_p), ("json", ctypes.c_void_p),
                ("json_len", ctypes.c_size_t)]


CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(Result), ctypes.c_void_p)
OPEN_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(Result), ctypes.c_void_p, ctypes.c_void_p)
H, S = ctypes.c_void_p, ctypes.c_char_p
lib.duroxide_provider_open.argtypes = [S, S, S, ctypes.POINTER(ctypes.c_void_p)]
lib.duroxide_provider_open.restype = H
lib.duroxide_provider_open_async.argtypes = [S, S, S, OPEN_CALLBACK, ctypes.c_void_p]
lib.duroxide_provider_open_async.restype = ctypes.c_int
for name, args in {"duroxide_provider_enqueue_for_orchestrator": [H, S, ctypes.c_int64],
                   "duroxide_admin_get_queue_depths": [H],
                   "duroxide_provider_drop_schema": [H]}.items():
    getattr(lib, name).argtypes = args + [CALLBACK, ctypes.c_void_p]
    getattr(lib, name).restype = ctypes.c_int
lib.duroxide_provider_free.argtypes = [H]
lib.duroxide_provider_free.restype = None
lib.duroxide_string_free.argtypes = [ctypes.c_void_p]
lib.duroxide_string_free.restype = None

done = threading.Event()
slot = {}


@CALLBACK
def on_result(res, _):
    r = res.contents
    slot["value"] = (r.ok, ctypes.string_at(r.json, r.json_len) if r.ok else r.message)
    done.set()


def call(name, p, *args):
    done.clear()
    assert getattr(lib, name)(p, *args, on_result, None) == 0
    assert done.wait(60)
    return slot["value"]


def psql(sql):
    bindir = os.environ.get("DUROXIDE_PG_BINDIR", "")
    exe = os.path.join(bindir, "psql") if bindir else "psql"
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    subprocess.run([exe, "-v", "ON_ERROR_STOP=1", "-q", "-X", "-d", os.environ["DATABASE_URL"], "-c", sql],
                   check=True, capture_output=True, env=env, timeout=60)


role = "capi_entra_" + secrets.token_hex(4)
schema = "capi_entra_" + secrets.token_hex(4)
token = "tok-" + secrets.token_hex(16)
requests = []


class Authority(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        requests.append((self.path, body))
        reply = json.dumps({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                            "access_token": token}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Authority)
threading.Thread(target=server.serve_forever, daemon=True).start()
assertion = tempfile.NamedTemporaryFile("w", delete=False)
assertion.write("federated-assertion")
assertion.close()
os.environ.update({"AZURE_FEDERATED_TOKEN_FILE": assertion.name, "AZURE_CLIENT_ID": "capi-test-client",
                   "AZURE_TENANT_ID": "capi-tenant",
                   "AZURE_AUTHORITY_HOST": f"http://127.0.0.1:{server.server_address[1]}/"})
options = {"entra": {"host": os.environ["DUROXIDE_PG_TLS_HOST"], "port": int(os.environ["DUROXIDE_PG_PORT"]),
                     "database": "duroxide", "user": role, "credential": "workload_identity",
                     "ssl_root_cert": os.environ["DUROXIDE_PG_TEST_CA"], "refresh_interval_ms": 600000}}
psql(f"CREATE ROLE {role} LOGIN PASSWORD '{token}'")
psql(f"DO $$ BEGIN EXECUTE format('GRANT CREATE, CONNECT ON DATABASE %I TO {role}', current_database()); END $$")
try:
    err = ctypes.c_void_p()
    p = lib.duroxide_provider_open(None, schema.encode(), json.dumps(options).encode(), ctypes.byref(err))
    if not p:
        raise SystemExit("entra open failed: " + ctypes.string_at(err.value).decode())
    assert requests and requests[0][0] == "/capi-tenant/oauth2/v2.0/token", requests
    assert "client_assertion=federated-assertion" in requests[0][1]
    assert token not in json.dumps(options)
    start = {"StartOrchestration": {"instance": "e-1", "orchestration": "P", "input": "", "version": "1.0.0",
                                    "parent_instance": None, "parent_id": None, "execution_id": 1}}
    assert call("duroxide_provider_enqueue_for_orchestrator", p, json.dumps(start).encode(), -1) == (1, b"null")
    depths = call("duroxide_admin_get_queue_depths", p)
    assert depths == (1, b'{"orchestrator_queue":1,"worker_queue":0,"timer_queue":0}'), depths
    assert call("duroxide_provider_drop_schema", p)[0] == 1
    lib.duroxide_provider_free(p)

    # No token: the authority is gone. The open fails retryably and names the source it tried.
    server.shutdown()
    server.server_close()
    opened = threading.Event()
    outcome = {}

    @OPEN_CALLBACK
    def on_open(res, handle, _):
        r = res.contents
        outcome.update(ok=r.ok, retryable=r.retryable, op=r.operation.decode(), message=r.message.decode(),
                       handle=handle)
        opened.set()

    assert lib.duroxide_provider_open_async(None, schema.encode(), json.dumps(options).encode(), on_open, None) == 0
    assert opened.wait(120)
    assert not outcome["ok"] and outcome["retryable"] and outcome["op"] == "open" and not outcome["handle"], outcome
    assert token not in outcome["message"]
    print("entra: opened with a token from the fake authority over verify-full TLS; without one: " +
          outcome["message"][:160])
finally:
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    psql(f"DROP OWNED BY {role}")
    psql(f"DROP ROLE IF EXISTS {role}")
    os.unlink(assertion.name)
