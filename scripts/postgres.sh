#!/usr/bin/env bash
# Create, start and stop a private PostgreSQL cluster on 127.0.0.1 for the
# wifiq tests and benchmarks, from Debian's PostgreSQL packages. Run
# `scripts/postgres.sh help` for the commands; scripts/README.md lists the
# port, files and environment variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_NAME="postgres.sh"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings (see scripts/README.md)

PG_VERSION="${WIFIQ_POSTGRES_VERSION:-15}"
PG_BIN="${WIFIQ_POSTGRES_BIN:-/usr/lib/postgresql/$PG_VERSION/bin}"
HOST="127.0.0.1"
PORT="${WIFIQ_POSTGRES_PORT:-15432}"
# The server refuses to run as root, so the cluster belongs to this
# operating system user. Debian's postgresql package creates it.
OS_USER="${WIFIQ_POSTGRES_OS_USER:-postgres}"
ROLE="${WIFIQ_POSTGRES_ROLE:-wifiq}"
DATABASE="${WIFIQ_POSTGRES_DATABASE:-wifiq}"
START_TIMEOUT="${WIFIQ_POSTGRES_START_TIMEOUT:-60}"
STOP_TIMEOUT="${WIFIQ_POSTGRES_STOP_TIMEOUT:-30}"

STATE_DIR="$WIFIQ_STATE/postgres"
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
SERVER_LOG="$LOG_DIR/server.log"
ENV_FILE="$STATE_DIR/env"
PGPASS_FILE="$STATE_DIR/pgpass"
PASSWORD_FILE="$STATE_DIR/password"
STATE_LOCK="$WIFIQ_STATE/postgres.lock"

usage() {
  cat <<EOF
Usage: scripts/postgres.sh COMMAND

Runs a private PostgreSQL $PG_VERSION cluster on $HOST:$PORT for tests, without
Docker, from Debian's postgresql packages (apt-get install postgresql).

Commands:
  start     Create the cluster on first use (initdb, role '$ROLE' with a random
            password, database '$DATABASE'), start it in the background and wait
            until it accepts connections. Does nothing when it already runs.
  stop      Stop the server (fast shutdown: open transactions roll back). Keeps the data.
  restart   stop, then start.
  status    Print whether the server runs; exit status 0 if it runs, 3 if not.
  reset     Stop the server and delete $STATE_DIR.
  logs [N]  Print the last N lines (default 100) of the server log.
  env       Print the shell exports that tests read (the file $ENV_FILE).
EOF
}

# Run a PostgreSQL program as the cluster's operating system user.
as_os_user() {
  if [[ "$(id -un)" == "$OS_USER" ]]; then
    "$@"
  else
    runuser -u "$OS_USER" -- "$@"
  fi
}

server_running() {
  as_os_user "$PG_BIN/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1
}

accepts_connections() {
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PORT" -d "$DATABASE" -U "$ROLE"
}

# Run SQL from standard input as the superuser over the private socket,
# which only the cluster's operating system user may use (peer auth).
superuser_sql() {
  as_os_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres -d "${1:-postgres}"
}

check_installed() {
  [[ -x "$PG_BIN/initdb" ]] || die "no PostgreSQL $PG_VERSION programs in $PG_BIN: install Debian package postgresql (apt-get install -y postgresql) or set WIFIQ_POSTGRES_BIN"
  id "$OS_USER" >/dev/null 2>&1 || die "operating system user '$OS_USER' not found: install Debian package postgresql, which creates it, or set WIFIQ_POSTGRES_OS_USER"
  if [[ "$(id -un)" != "$OS_USER" ]]; then
    require_command runuser "Debian package util-linux"
  fi
}

# Create the cluster, the role and the database on first use.
init_cluster() {
  if [[ -f "$DATA_DIR/PG_VERSION" ]]; then
    return 0
  fi
  log_info "creating a PostgreSQL $PG_VERSION cluster in $DATA_DIR"
  mkdir -p "$STATE_DIR" "$LOG_DIR" "$SOCKET_DIR"
  chown "$OS_USER" "$STATE_DIR" "$LOG_DIR" "$SOCKET_DIR"
  # The server runs as OS_USER and must reach its data through the parent.
  chmod 755 "$WIFIQ_STATE" "$STATE_DIR"
  rm -rf "$DATA_DIR"
  if ! as_os_user "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$LOG_DIR/initdb.log" 2>&1; then
    show_log_tail 30 "$LOG_DIR/initdb.log"
    rm -rf "$DATA_DIR"
    die "initdb failed (output above, also in $LOG_DIR/initdb.log)"
  fi
  write_server_settings

  # The password goes to the server inside SQL on standard input, so it is
  # never on a command line.
  printf '%s' "$(random_secret 24)" | write_private_file "$PASSWORD_FILE"
  start_server
  superuser_sql <<EOF
CREATE ROLE "$ROLE" LOGIN PASSWORD '$(cat "$PASSWORD_FILE")';
CREATE DATABASE "$DATABASE" OWNER "$ROLE";
EOF
  log_info "created role '$ROLE' and database '$DATABASE'"
}

write_server_settings() {
  as_os_user tee -a "$DATA_DIR/postgresql.conf" >/dev/null <<EOF

# Added by scripts/postgres.sh.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 50
shared_buffers = 128MB
EOF
}

# Write the pgpass and env files that clients and tests read.
write_client_files() {
  printf '%s:%s:%s:%s:%s\n' "$HOST" "$PORT" "*" "$ROLE" "$(cat "$PASSWORD_FILE")" | write_private_file "$PGPASS_FILE"
  {
    printf '# Generated by scripts/postgres.sh. Load with: . %s\n' "$ENV_FILE"
    printf 'export PGHOST=%q\n' "$HOST"
    printf 'export PGPORT=%q\n' "$PORT"
    printf 'export PGUSER=%q\n' "$ROLE"
    printf 'export PGDATABASE=%q\n' "$DATABASE"
    printf 'export PGPASSFILE=%q\n' "$PGPASS_FILE"
    printf 'export PGSSLMODE=disable\n'
  } | write_file "$ENV_FILE"
}

start_server() {
  if server_running; then
    return 0
  fi
  check_port_free
  local started
  started="$(now_seconds)"
  log_info "starting PostgreSQL on $HOST:$PORT (log: $SERVER_LOG)"
  # The server must not inherit the lock files that acquire_lock holds open,
  # or the next run of this script waits for a lock the server keeps.
  if ! (
    for lock_fd in "${WIFIQ_LOCK_FDS[@]}"; do
      exec {lock_fd}>&-
    done
    as_os_user "$PG_BIN/pg_ctl" start -D "$DATA_DIR" -l "$SERVER_LOG" -w -t "$START_TIMEOUT" >/dev/null
  ); then
    show_log_tail 30 "$SERVER_LOG"
    die "PostgreSQL did not start within ${START_TIMEOUT}s (log above, also in $SERVER_LOG)"
  fi
  log_info "PostgreSQL started after $(elapsed_since "$started")s"
}

check_port_free() {
  if port_open "$HOST" "$PORT"; then
    die "port $HOST:$PORT is taken by another process: stop it or set WIFIQ_POSTGRES_PORT"
  fi
}

command_start() {
  check_installed
  acquire_lock "$STATE_LOCK"
  if server_running && accepts_connections; then
    log_info "PostgreSQL already running on $HOST:$PORT"
    write_client_files
    return 0
  fi
  init_cluster
  start_server
  write_client_files
  if ! wait_until "$START_TIMEOUT" 0.5 accepts_connections; then
    die "PostgreSQL runs but does not accept connections on $HOST:$PORT within ${START_TIMEOUT}s (see $SERVER_LOG)"
  fi
}

stop_server() {
  if [[ ! -f "$DATA_DIR/PG_VERSION" ]] || ! server_running; then
    log_info "PostgreSQL is not running"
    return 0
  fi
  local started
  started="$(now_seconds)"
  if ! as_os_user "$PG_BIN/pg_ctl" stop -D "$DATA_DIR" -m fast -w -t "$STOP_TIMEOUT" >/dev/null; then
    die "PostgreSQL did not stop within ${STOP_TIMEOUT}s (see $SERVER_LOG)"
  fi
  log_info "PostgreSQL stopped after $(elapsed_since "$started")s"
}

command_stop() {
  check_installed
  acquire_lock "$STATE_LOCK"
  stop_server
}

command_restart() {
  command_stop
  command_start
}

command_status() {
  check_installed
  if [[ -f "$DATA_DIR/PG_VERSION" ]] && server_running; then
    printf 'PostgreSQL %s is running on %s:%s\n' "$PG_VERSION" "$HOST" "$PORT"
    printf '  state dir  %s\n' "$STATE_DIR"
    printf '  env file   %s\n' "$ENV_FILE"
    return 0
  fi
  printf 'PostgreSQL is not running (state dir %s)\n' "$STATE_DIR"
  return 3
}

command_reset() {
  command_stop
  delete_state_dir "$STATE_DIR" postgres
}

command_logs() {
  show_server_log "$SERVER_LOG" postgres.sh "$@"
}

command_env() {
  print_env_file "$ENV_FILE" postgres.sh
}

dispatch_command "$@"
