#!/usr/bin/env bash
# Fetch, start and stop a single Neo4j 5 community server on 127.0.0.1 for
# the wifiq tests and benchmarks. The server is an embedded DBMS with the
# Bolt connector, run by the small launcher in scripts/neo4j/ from the jars
# on Maven Central. Run `scripts/neo4j.sh help` for the commands;
# scripts/README.md lists the port, files and environment variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_NAME="neo4j.sh"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings (see scripts/README.md)

# 5.26 is the long-term support line of Neo4j 5, and Neo4j 5 runs on Java 17
# (the 2025.x releases need Java 21).
NEO4J_VERSION="${WIFIQ_NEO4J_VERSION:-5.26.12}"
HOST="127.0.0.1"
BOLT_PORT="${WIFIQ_NEO4J_BOLT_PORT:-17687}"
HEAP_OPTS="${WIFIQ_NEO4J_HEAP_OPTS:--Xms512m -Xmx1g}"
PAGECACHE_SIZE="${WIFIQ_NEO4J_PAGECACHE:-256m}"
START_TIMEOUT="${WIFIQ_NEO4J_START_TIMEOUT:-180}"
STOP_TIMEOUT="${WIFIQ_NEO4J_STOP_TIMEOUT:-60}"
JAVA_HOME_17="${WIFIQ_NEO4J_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
USER_NAME="neo4j"

JAR_DIR="$WIFIQ_CACHE/neo4j-$NEO4J_VERSION"
LAUNCHER_SOURCE="$SCRIPT_DIR/neo4j/WifiqNeo4j.java"
LAUNCHER_CLASS_NAME="WifiqNeo4j"

STATE_DIR="$WIFIQ_STATE/neo4j"
HOME_DIR="$STATE_DIR/home"
CLASS_DIR="$STATE_DIR/classes"
CONF_FILE="$STATE_DIR/neo4j.conf"
PASSWORD_FILE="$STATE_DIR/password"
PID_FILE="$STATE_DIR/neo4j.pid"
ENV_FILE="$STATE_DIR/env"
CONSOLE_LOG="$STATE_DIR/neo4j.out"
DEBUG_LOG="$HOME_DIR/logs/debug.log"

# The lock lives outside STATE_DIR so that `reset` can delete STATE_DIR
# while holding it.
STATE_LOCK="$WIFIQ_STATE/neo4j.lock"
FETCH_LOCK="$WIFIQ_CACHE/neo4j-$NEO4J_VERSION.lock"

# The server's command line contains this string; it identifies our process
# when the pid file is checked.
PROCESS_PATTERN="$LAUNCHER_CLASS_NAME $HOME_DIR"
# The launcher prints this line after the password is set and the default
# database has returned the result of a query.
READY_MESSAGE="wifiq-neo4j: ready"

usage() {
  cat <<EOF
Usage: scripts/neo4j.sh COMMAND

Runs a Neo4j $NEO4J_VERSION community DBMS (embedded, Bolt connector only) on
$HOST:$BOLT_PORT for tests, without Docker.

Commands:
  fetch     Download the Neo4j jars with mvn into $JAR_DIR (skipped when present).
  start     Fetch if needed, compile the launcher, start the server in the
            background and wait until it responds on Bolt. Does nothing when
            the server is already running.
  stop      Stop the server (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s). Keeps the data.
  restart   stop, then start. Keeps the data and the password.
  status    Print whether the server runs; exit status 0 if it runs, 3 if not.
  reset     Stop the server and delete $STATE_DIR.
  logs [N]  Print the last N lines (default 100) of the debug log; "logs -f" follows it.
  env       Print the shell exports that tests read (the file $ENV_FILE).
EOF
}

# ---------------------------------------------------------------------------
# fetch

jar_dependencies_xml() {
  cat <<EOF
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>$NEO4J_VERSION</version>
    </dependency>
EOF
}

jars_present() {
  [[ -f "$JAR_DIR/.complete" && -f "$JAR_DIR/neo4j-bolt-$NEO4J_VERSION.jar" ]]
}

command_fetch() {
  if jars_present; then
    log_info "Neo4j $NEO4J_VERSION jars already in $JAR_DIR"
    return 0
  fi
  acquire_lock "$FETCH_LOCK"
  # Another run may have finished the download while this one waited.
  if jars_present; then
    log_info "Neo4j $NEO4J_VERSION jars already in $JAR_DIR"
    return 0
  fi

  local started
  started="$(now_seconds)"
  log_info "downloading Neo4j $NEO4J_VERSION jars with mvn into $JAR_DIR"
  maven_fetch_jars "$JAR_DIR" "$(jar_dependencies_xml)"
  if [[ ! -f "$JAR_DIR/neo4j-bolt-$NEO4J_VERSION.jar" ]]; then
    rm -f "$JAR_DIR/.complete"
    die "mvn finished but $JAR_DIR/neo4j-bolt-$NEO4J_VERSION.jar is missing. Delete $JAR_DIR and run fetch again."
  fi
  log_info "fetched $(find "$JAR_DIR" -name '*.jar' | wc -l) jars in $(elapsed_since "$started")s"
}

# ---------------------------------------------------------------------------
# start

running_pid() {
  read_live_pid "$PID_FILE" "$PROCESS_PATTERN"
}

# Compile the launcher when its class is missing or older than its source
# or the jars.
compile_launcher() {
  local java_binary="$1" javac_binary
  javac_binary="$(dirname "$java_binary")/javac"
  if [[ ! -x "$javac_binary" ]]; then
    die "javac not found next to $java_binary. Install openjdk-17-jdk-headless or set WIFIQ_NEO4J_JAVA_HOME to a JDK."
  fi
  local class_file="$CLASS_DIR/$LAUNCHER_CLASS_NAME.class"
  if [[ -f "$class_file" && "$class_file" -nt "$LAUNCHER_SOURCE" && "$class_file" -nt "$JAR_DIR/.complete" ]]; then
    return 0
  fi
  mkdir -p "$CLASS_DIR"
  if ! "$javac_binary" -nowarn -d "$CLASS_DIR" -cp "$JAR_DIR/*" "$LAUNCHER_SOURCE" >"$STATE_DIR/javac.log" 2>&1; then
    show_log_tail 30 "$STATE_DIR/javac.log"
    die "javac failed to compile $LAUNCHER_SOURCE against the jars in $JAR_DIR (output above)"
  fi
}

ensure_password() {
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    random_secret 24 | write_private_file "$PASSWORD_FILE"
  fi
}

write_config() {
  if [[ ! "$BOLT_PORT" =~ ^[0-9]+$ ]] || ((BOLT_PORT < 1 || BOLT_PORT > 65535)); then
    die "invalid WIFIQ_NEO4J_BOLT_PORT '$BOLT_PORT': want a port number from 1 to 65535"
  fi
  write_file "$CONF_FILE" <<EOF
# Written by scripts/neo4j.sh on every start; edit the script, not this file.
server.bolt.enabled=true
server.bolt.listen_address=$HOST:$BOLT_PORT
server.bolt.advertised_address=$HOST:$BOLT_PORT
server.bolt.tls_level=DISABLED
dbms.security.auth_enabled=true
server.memory.pagecache.size=$PAGECACHE_SIZE
db.tx_log.rotation.retention_policy=2 files
# No usage reports: the test server makes no connections to other hosts.
dbms.usage_report.enabled=false
EOF
}

write_client_files() {
  local password
  password="$(cat "$PASSWORD_FILE")"
  write_private_file "$ENV_FILE" <<EOF
export WIFIQ_NEO4J_URI=bolt://$HOST:$BOLT_PORT
export NEO4J_USERNAME=$USER_NAME
export NEO4J_PASSWORD=$password
export WIFIQ_NEO4J_VERSION=$NEO4J_VERSION
EOF
}

check_port_free() {
  if port_open "$HOST" "$BOLT_PORT"; then
    die "port $HOST:$BOLT_PORT is already in use by another process. Stop that process or choose another port with WIFIQ_NEO4J_BOLT_PORT."
  fi
}

# Return 0 when the server on HOST:BOLT_PORT completes the Bolt handshake
# with a Bolt 5 version. The launcher has already run a query through the
# embedded API, so this checks that the connector serves it.
bolt_handshake() {
  local reply
  # The magic preamble, then four version proposals: 5.0 to 5.4, then none.
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner shell.
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x60\x60\xb0\x17\x00\x04\x04\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" >&3
    head -c 4 <&3 | od -An -tx1' _ "$HOST" "$BOLT_PORT" 2>/dev/null)" || return 1
  reply="${reply//[[:space:]]/}"
  [[ "$reply" =~ ^0000[0-9a-f]{2}05$ ]]
}

# Return 0 once the launcher has printed the ready line (after byte OFFSET
# of the console log, where this start began) and the Bolt handshake
# succeeds. Exit with the log tail when the server process has died.
server_ready() {
  local pid="$1" offset="$2"
  if ! process_matches "$pid" "$PROCESS_PATTERN"; then
    show_log_tail_after "$CONSOLE_LOG" "$offset" 40
    show_log_tail 20 "$DEBUG_LOG"
    rm -f "$PID_FILE"
    die "the Neo4j server (pid $pid) exited during startup; see the output above and $CONSOLE_LOG"
  fi
  tail -c "+$((offset + 1))" "$CONSOLE_LOG" | grep -qF "$READY_MESSAGE" || return 1
  bolt_handshake
}

command_start() {
  acquire_lock "$STATE_LOCK"
  local pid
  if pid="$(running_pid)"; then
    log_info "Neo4j is already running (pid $pid) on $HOST:$BOLT_PORT; env file: $ENV_FILE"
    return 0
  fi

  local started java_binary
  started="$(now_seconds)"
  jars_present || command_fetch
  java_binary="$(find_java 17 "$JAVA_HOME_17")"
  check_port_free

  mkdir -p "$STATE_DIR" "$HOME_DIR"
  compile_launcher "$java_binary"
  ensure_password
  write_config

  local console_offset=0
  [[ -f "$CONSOLE_LOG" ]] && console_offset="$(stat -c %s "$CONSOLE_LOG")"
  printf '\n===== %s: neo4j.sh start, Neo4j %s, %s =====\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NEO4J_VERSION" "$java_binary" >>"$CONSOLE_LOG"

  log_info "starting Neo4j $NEO4J_VERSION on $HOST:$BOLT_PORT (Bolt)"
  local heap_opts=()
  read -r -a heap_opts <<<"$HEAP_OPTS"
  start_detached "$PID_FILE" "$CONSOLE_LOG" \
    "$java_binary" "${heap_opts[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
    -cp "$CLASS_DIR:$JAR_DIR/*" "$LAUNCHER_CLASS_NAME" "$HOME_DIR" "$CONF_FILE" "$PASSWORD_FILE"
  pid="$(tr -d '[:space:]' <"$PID_FILE")"

  if ! wait_until "$START_TIMEOUT" 0.5 server_ready "$pid" "$console_offset"; then
    show_log_tail_after "$CONSOLE_LOG" "$console_offset" 40
    die "timed out after ${START_TIMEOUT}s waiting for Neo4j (pid $pid) to print '$READY_MESSAGE' and respond on $HOST:$BOLT_PORT. It is still running. Check $DEBUG_LOG, then run scripts/neo4j.sh stop, or raise WIFIQ_NEO4J_START_TIMEOUT."
  fi
  write_client_files
  log_info "Neo4j is running (pid $pid), ready after $(elapsed_since "$started")s; env file: $ENV_FILE"
}

# ---------------------------------------------------------------------------
# stop, status, reset, logs, env

stop_server() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log_info "Neo4j is not running"
    return 0
  fi
  local started
  started="$(now_seconds)"
  log_info "stopping Neo4j (pid $pid)"
  if ! stop_process "$pid" "$STOP_TIMEOUT" "Neo4j"; then
    die "Neo4j (pid $pid) is still running after SIGKILL. Check the process with: ps -fp $pid"
  fi
  rm -f "$PID_FILE"
  log_info "Neo4j stopped after $(elapsed_since "$started")s"
}

command_stop() {
  acquire_lock "$STATE_LOCK"
  stop_server
}

command_restart() {
  acquire_lock "$STATE_LOCK"
  stop_server
  command_start
}

command_status() {
  local pid
  if pid="$(running_pid)"; then
    printf 'Neo4j %s is running (pid %s)\n' "$NEO4J_VERSION" "$pid"
    printf '  Bolt       bolt://%s:%s\n' "$HOST" "$BOLT_PORT"
    printf '  state dir  %s\n' "$STATE_DIR"
    printf '  env file   %s\n' "$ENV_FILE"
    return 0
  fi
  if [[ -d "$STATE_DIR" ]]; then
    printf 'Neo4j is not running (state dir %s exists)\n' "$STATE_DIR"
  else
    printf 'Neo4j is not running (no state dir %s)\n' "$STATE_DIR"
  fi
  return 3
}

command_reset() {
  acquire_lock "$STATE_LOCK"
  stop_server
  delete_state_dir "$STATE_DIR" neo4j
}

command_logs() {
  show_server_log "$DEBUG_LOG" neo4j.sh "$@"
}

command_env() {
  print_env_file "$ENV_FILE" neo4j.sh
}

dispatch_command "$@"
