#!/usr/bin/env bash
# Build, start and stop an Apicurio Registry on 127.0.0.1 for the wifiq
# Avro tests and benchmarks. Its Confluent-compatible API (ccompat v7) is
# what `wifiq split --format avro` and the readers of Avro values use. Run
# `scripts/registry.sh help` for the commands; scripts/README.md lists the
# port, files and environment variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_NAME="registry.sh"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings (see scripts/README.md)

# The version is fixed in scripts/registry/pom.xml: 2.4.2.Final is the
# newest release whose modules are all in the Maven repository (3.x and
# 2.6.x lack apicurio-registry-schema-util-provider there).
REGISTRY_VERSION="2.4.2.Final"
HOST="127.0.0.1"
PORT="${WIFIQ_REGISTRY_PORT:-18081}"
HEAP_OPTS="${WIFIQ_REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}"
START_TIMEOUT="${WIFIQ_REGISTRY_START_TIMEOUT:-120}"
STOP_TIMEOUT="${WIFIQ_REGISTRY_STOP_TIMEOUT:-20}"
# The compatibility level of subjects without their own, as Confluent's
# registry has by default.
COMPATIBILITY="${WIFIQ_REGISTRY_COMPATIBILITY:-BACKWARD}"
JAVA_HOME_17="${WIFIQ_REGISTRY_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"

POM="$SCRIPT_DIR/registry/pom.xml"
BUILD_DIR="$WIFIQ_CACHE/registry-$REGISTRY_VERSION"
RUNNER_JAR="$BUILD_DIR/wifiq-registry-runner-$REGISTRY_VERSION-runner.jar"
STATE_DIR="$WIFIQ_STATE/registry"
LOG_FILE="$STATE_DIR/registry.log"
PID_FILE="$STATE_DIR/registry.pid"
ENV_FILE="$STATE_DIR/env"
URL="http://$HOST:$PORT/apis/ccompat/v7"

# The lock lives outside STATE_DIR so that `reset` can delete STATE_DIR
# while holding it.
STATE_LOCK="$WIFIQ_STATE/registry.lock"
BUILD_LOCK="$WIFIQ_CACHE/registry-$REGISTRY_VERSION.lock"

# The server's command line contains this string; it identifies our process
# when the pid file is checked.
PROCESS_PATTERN="-Dwifiq.registry.state=$STATE_DIR"

usage() {
  cat <<EOF
Usage: scripts/registry.sh COMMAND

Runs Apicurio Registry $REGISTRY_VERSION with in-memory storage on
$HOST:$PORT for tests, without Docker. Confluent clients use $URL.

Commands:
  fetch     Assemble the server with mvn from $POM into
            $BUILD_DIR (skipped when present).
  start     Fetch if needed, start the server in the background and wait until
            it answers. Does nothing when it is already running.
  stop      Stop the server (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s). The
            storage is in memory: every schema is lost.
  status    Print whether the server runs; exit status 0 if it runs, 3 if not.
  reset     Stop the server and delete $STATE_DIR.
  logs [N]  Print the last N lines (default 100) of the server log; "logs -f" follows it.
  env       Print the shell exports that tests read (the file $ENV_FILE).
EOF
}

# ---------------------------------------------------------------------------
# fetch

command_fetch() {
  if [[ -f "$BUILD_DIR/.complete" && -f "$RUNNER_JAR" ]]; then
    return 0
  fi
  acquire_lock "$BUILD_LOCK"
  if [[ -f "$BUILD_DIR/.complete" && -f "$RUNNER_JAR" ]]; then
    return 0
  fi
  require_command mvn "Debian package maven"
  local java_binary
  java_binary="$(find_java 17 "$JAVA_HOME_17")"
  log_info "assembling Apicurio Registry $REGISTRY_VERSION with mvn (first run only; a few minutes)"
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  local build_log="$BUILD_DIR/mvn.log"
  if ! JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java_binary")")")" MAVEN_OPTS="${MAVEN_OPTS:--Xmx1g}" \
    mvn -B -q -f "$POM" -Dregistry.build.dir="$BUILD_DIR/target" package >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "mvn failed to assemble Apicurio Registry (full output in $build_log)"
  fi
  mv "$BUILD_DIR/target/lib" "$BUILD_DIR/lib"
  mv "$BUILD_DIR/target/wifiq-registry-runner-$REGISTRY_VERSION-runner.jar" "$RUNNER_JAR"
  rm -rf "$BUILD_DIR/target"
  touch "$BUILD_DIR/.complete"
  log_info "Apicurio Registry assembled in $BUILD_DIR"
}

# ---------------------------------------------------------------------------
# start, stop, status

running_pid() {
  read_live_pid "$PID_FILE" "$PROCESS_PATTERN"
}

registry_answers() {
  curl -fs --max-time 5 -o /dev/null "$URL/subjects"
}

write_env_file() {
  write_file "$ENV_FILE" <<EOF
# Written by scripts/registry.sh. Load with: set -a; . $ENV_FILE; set +a
WIFIQ_SCHEMA_REGISTRY_URL=$URL
EOF
}

command_start() {
  command_fetch
  acquire_lock "$STATE_LOCK"
  mkdir -p "$STATE_DIR"
  local pid
  if pid="$(running_pid)"; then
    write_env_file
    log_info "Apicurio Registry already runs (pid $pid) at $URL"
    return 0
  fi
  if port_open "$HOST" "$PORT"; then
    die "port $HOST:$PORT is taken by another process; stop it or set WIFIQ_REGISTRY_PORT"
  fi
  require_command curl "Debian package curl"
  local java_binary log_offset=0
  java_binary="$(find_java 17 "$JAVA_HOME_17")"
  [[ -f "$LOG_FILE" ]] && log_offset="$(stat -c %s "$LOG_FILE")"

  # shellcheck disable=SC2086 # HEAP_OPTS holds several options.
  start_detached "$PID_FILE" "$LOG_FILE" "$java_binary" $HEAP_OPTS \
    "$PROCESS_PATTERN" \
    -Dquarkus.profile=prod \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$PORT" \
    -Dregistry.rules.global.compatibility="$COMPATIBILITY" \
    -jar "$RUNNER_JAR"
  pid="$(tr -d '[:space:]' <"$PID_FILE")"
  local started
  started="$(now_seconds)"
  if ! wait_until "$START_TIMEOUT" 1 registry_answers; then
    show_log_tail_after "$LOG_FILE" "$log_offset" 40
    if process_gone "$pid"; then
      die "Apicurio Registry exited during startup (see $LOG_FILE)"
    fi
    die "Apicurio Registry did not respond at $URL within ${START_TIMEOUT}s (pid $pid still runs; see $LOG_FILE)"
  fi
  write_env_file
  log_info "Apicurio Registry $REGISTRY_VERSION runs (pid $pid) at $URL, ready after $(elapsed_since "$started")s"
}

command_stop() {
  acquire_lock "$STATE_LOCK"
  local pid
  if ! pid="$(running_pid)"; then
    log_info "Apicurio Registry is not running"
    return 0
  fi
  stop_process "$pid" "$STOP_TIMEOUT" "Apicurio Registry"
  rm -f "$PID_FILE"
  log_info "Apicurio Registry stopped"
}

command_status() {
  local pid
  if pid="$(running_pid)"; then
    printf 'Apicurio Registry runs (pid %s) at %s\n' "$pid" "$URL"
    return 0
  fi
  printf 'Apicurio Registry is not running\n'
  return 3
}

command_reset() {
  command_stop
  acquire_lock "$STATE_LOCK"
  delete_state_dir "$STATE_DIR" registry
}

command_logs() {
  show_server_log "$LOG_FILE" registry.sh "$@"
}

command_env() {
  print_env_file "$ENV_FILE" registry.sh
}

dispatch_command "$@"
