#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]
#
# Runs CMD with DATABASE_URL pointing at a throwaway PostgreSQL 15 cluster that lives in a fresh
# temporary folder and is stopped and deleted on every exit path (success, failure, Ctrl-C, TERM).
# If DATABASE_URL is already set, CMD runs against that server instead and nothing is started.
#
# The server runs as an unprivileged user: when invoked as root it runs as the `postgres` account
# (created if missing). It listens on 127.0.0.1 and on a Unix socket inside the temporary folder,
# on a free port. TCP connections authenticate with SCRAM (a random password, part of
# DATABASE_URL); Unix-socket connections are trusted.
#
# TLS (for the Entra ID tests, which always use sslmode=verify-full): a throwaway CA and a server
# certificate for DNS:localhost only are made with the openssl command line, and ssl is on.
# DATABASE_URL says sslmode=disable, so every other test and benchmark connects exactly as before.
# Exported for the TLS tests: DUROXIDE_PG_TEST_CA (the CA's PEM file), DUROXIDE_PG_TEST_OTHER_CA
# (an unrelated CA), DUROXIDE_PG_TLS_HOST (localhost; 127.0.0.1 is then a wrong host name) and
# DUROXIDE_PG_PORT.
#
# Knobs: PG_BINDIR (default: the postgresql-15 package's bin folder), DUROXIDE_PG_FSYNC (on|off,
# default on), DUROXIDE_PG_KEEP=1 keeps the data folder for post-mortems.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [ -n "${DATABASE_URL:-}" ]; then
  exec "$@"
fi

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BINDIR/initdb" ]; then
  echo "with-postgres: $PG_BINDIR/initdb not found; run scripts/setup.sh" >&2
  exit 1
fi

run_as=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  run_as=(runuser -u postgres --)
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/duroxide-pg.XXXXXX")
chmod 755 "$workdir"
datadir="$workdir/data"
sockdir="$workdir/sock"
mkdir -p "$sockdir"
[ ${#run_as[@]} -eq 0 ] || chown -R postgres: "$workdir"

started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$started" -eq 1 ]; then
    "${run_as[@]}" "$PG_BINDIR/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "${DUROXIDE_PG_KEEP:-0}" = 1 ]; then
    echo "with-postgres: kept $workdir" >&2
  else
    rm -rf "$workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" > "$workdir/pwfile"
[ ${#run_as[@]} -eq 0 ] || chown postgres: "$workdir/pwfile"
"${run_as[@]}" "$PG_BINDIR/initdb" -D "$datadir" -U duroxide --pwfile="$workdir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
rm -f "$workdir/pwfile"

# Test CA and server certificate. The server certificate names DNS:localhost only, so connecting
# to 127.0.0.1 with verify-full is refused (wrong host name) while "localhost" is accepted.
tlsdir="$workdir/tls"
mkdir -p "$tlsdir"
(
  cd "$tlsdir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=duroxide-pg test CA" \
    -keyout ca.key -out ca.crt
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=duroxide-pg unrelated CA" \
    -keyout other-ca.key -out other-ca.crt
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt
  rm -f ca.key other-ca.key server.csr server.ext ca.srl
  chmod 600 server.key
  chmod 644 ca.crt other-ca.crt server.crt
) >"$workdir/tls.log" 2>&1 || { cat "$workdir/tls.log" >&2; exit 1; }
[ ${#run_as[@]} -eq 0 ] || chown -R postgres: "$tlsdir"
# initdb's host lines (scram-sha-256 for 127.0.0.1) match TLS and plain connections alike; the
# explicit hostssl line documents that SCRAM over TLS is what the Entra tests rely on.
sed -i '1i hostssl all all 127.0.0.1/32 scram-sha-256' "$datadir/pg_hba.conf"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fsync=${DUROXIDE_PG_FSYNC:-on}
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  if "${run_as[@]}" "$PG_BINDIR/pg_ctl" -D "$datadir" -l "$workdir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$sockdir \
          -c max_connections=300 -c fsync=$fsync -c shared_buffers=128MB \
          -c ssl=on -c ssl_cert_file=$tlsdir/server.crt -c ssl_key_file=$tlsdir/server.key \
          -c log_min_messages=warning -c log_min_error_statement=panic" start >/dev/null 2>&1; then
    started=1
    break
  fi
  echo "with-postgres: start on port $port failed (attempt $attempt)" >&2
  tail -n 5 "$workdir/server.log" >&2 || true
done
[ "$started" -eq 1 ] || exit 1

"${run_as[@]}" "$PG_BINDIR/psql" -h "$sockdir" -p "$port" -U duroxide -d postgres -qAt \
  -c "CREATE DATABASE duroxide" >/dev/null

export DATABASE_URL="postgresql://duroxide:${password}@127.0.0.1:${port}/duroxide?sslmode=disable"
export DUROXIDE_PG_TEST_CA="$tlsdir/ca.crt"
export DUROXIDE_PG_TEST_OTHER_CA="$tlsdir/other-ca.crt"
export DUROXIDE_PG_TLS_HOST=localhost
export DUROXIDE_PG_SOCKET_DIR="$sockdir"
export DUROXIDE_PG_PORT="$port"
export DUROXIDE_PG_DATADIR="$datadir"
export DUROXIDE_PG_BINDIR="$PG_BINDIR"
export DUROXIDE_PG_RUN_AS="${run_as[*]}"
echo "with-postgres: PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $workdir)" >&2

set +e
"$@"
rc=$?
set -e
exit "$rc"
