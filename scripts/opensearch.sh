#!/usr/bin/env bash
# Fetch, configure, start and stop a single-node OpenSearch server on
# 127.0.0.1 for the wifiq tests and benchmarks, from the Maven jars of
# OpenSearch (no distribution archive). Run `scripts/opensearch.sh help` for
# the commands; scripts/README.md lists the ports, files and variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_NAME="opensearch.sh"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings (see scripts/README.md)

# 2.19 is the last OpenSearch line that runs on Java 17; 3.x needs Java 21.
OPENSEARCH_VERSION="${WIFIQ_OPENSEARCH_VERSION:-2.19.6}"
# The log4j-api version that opensearch 2.19.6 depends on; log4j-core must
# match it.
LOG4J_VERSION="${WIFIQ_OPENSEARCH_LOG4J_VERSION:-2.25.4}"

HOST="127.0.0.1"
HTTP_PORT="${WIFIQ_OPENSEARCH_PORT:-19200}"
TRANSPORT_PORT="${WIFIQ_OPENSEARCH_TRANSPORT_PORT:-19300}"
HEAP_OPTS="${WIFIQ_OPENSEARCH_HEAP_OPTS:--Xms512m -Xmx1g}"
START_TIMEOUT="${WIFIQ_OPENSEARCH_START_TIMEOUT:-180}"
STOP_TIMEOUT="${WIFIQ_OPENSEARCH_STOP_TIMEOUT:-30}"
JAVA_HOME_17="${WIFIQ_OPENSEARCH_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"

JAR_DIR="$WIFIQ_CACHE/opensearch-$OPENSEARCH_VERSION"
LIB_DIR="$JAR_DIR/lib"
NETTY_MODULE_CACHE="$JAR_DIR/transport-netty4"

STATE_DIR="$WIFIQ_STATE/opensearch"
HOME_DIR="$STATE_DIR/home"
CONFIG_DIR="$HOME_DIR/config"
MODULES_DIR="$HOME_DIR/modules"
PLUGINS_DIR="$HOME_DIR/plugins"
DATA_DIR="$STATE_DIR/data"
LOG_DIR="$STATE_DIR/logs"
TMP_DIR="$STATE_DIR/tmp"

CLUSTER_NAME="wifiq"
SERVER_LOG="$LOG_DIR/$CLUSTER_NAME.log"
CONSOLE_LOG="$LOG_DIR/opensearch.out"
PID_FILE="$STATE_DIR/opensearch.pid"
ENV_FILE="$STATE_DIR/env"
VERSION_FILE="$STATE_DIR/opensearch-version"

STATE_LOCK="$WIFIQ_STATE/opensearch.lock"
FETCH_LOCK="$WIFIQ_CACHE/opensearch-$OPENSEARCH_VERSION.lock"

MAIN_CLASS="org.opensearch.bootstrap.OpenSearch"
# The server's command line contains this string; it identifies our process
# when the pid file is checked.
PROCESS_PATTERN="-Dopensearch.path.home=$HOME_DIR"

usage() {
  cat <<EOF
Usage: scripts/opensearch.sh COMMAND

Runs a single-node OpenSearch $OPENSEARCH_VERSION server on $HOST for tests,
from the Maven jars of OpenSearch, without Docker and without the security
plugin (plain HTTP, no authentication).

Commands:
  fetch     Download the server jars with mvn into $JAR_DIR (skipped when present).
  start     Fetch if needed, lay out the node home, start the server in the
            background and wait until the cluster health is yellow or green.
            Does nothing when the server is already running.
  stop      Stop the server (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s). Keeps the data.
  restart   stop, then start. Keeps the indices.
  status    Print whether the server runs; exit status 0 if it runs, 3 if not.
  reset     Stop the server and delete $STATE_DIR.
  logs [N]  Print the last N lines (default 100) of the server log; "logs -f" follows it.
  env       Print the shell exports that tests read (the file $ENV_FILE).

HTTP: http://$HOST:$HTTP_PORT, transport: $HOST:$TRANSPORT_PORT.
EOF
}

# ---------------------------------------------------------------------------
# fetch

core_dependencies_xml() {
  local artifact
  for artifact in opensearch opensearch-plugin-classloader; do
    cat <<EOF
    <dependency>
      <groupId>org.opensearch</groupId>
      <artifactId>$artifact</artifactId>
      <version>$OPENSEARCH_VERSION</version>
    </dependency>
EOF
  done
  cat <<EOF
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
EOF
}

netty_dependencies_xml() {
  cat <<EOF
    <dependency>
      <groupId>org.opensearch.plugin</groupId>
      <artifactId>transport-netty4-client</artifactId>
      <version>$OPENSEARCH_VERSION</version>
    </dependency>
EOF
}

jars_present() {
  [[ -f "$LIB_DIR/.complete" && -f "$LIB_DIR/opensearch-$OPENSEARCH_VERSION.jar" &&
    -f "$NETTY_MODULE_CACHE/.complete" && -f "$NETTY_MODULE_CACHE/transport-netty4-client-$OPENSEARCH_VERSION.jar" ]]
}

command_fetch() {
  if jars_present; then
    log_info "OpenSearch $OPENSEARCH_VERSION jars already in $JAR_DIR"
    return 0
  fi
  acquire_lock "$FETCH_LOCK"
  # Another run may have finished the download while this one waited.
  if jars_present; then
    log_info "OpenSearch $OPENSEARCH_VERSION jars already in $JAR_DIR"
    return 0
  fi

  local started
  started="$(now_seconds)"
  log_info "downloading OpenSearch $OPENSEARCH_VERSION jars with mvn into $JAR_DIR"
  maven_fetch_jars "$LIB_DIR" "$(core_dependencies_xml)"
  if [[ ! -f "$LIB_DIR/opensearch-$OPENSEARCH_VERSION.jar" ]]; then
    rm -f "$LIB_DIR/.complete"
    die "mvn finished but $LIB_DIR/opensearch-$OPENSEARCH_VERSION.jar is missing. Delete $JAR_DIR and run fetch again."
  fi

  # The module gets only the jars that the server's class path lacks:
  # OpenSearch stops at startup when a class is on both ("jar hell").
  maven_fetch_jars "$NETTY_MODULE_CACHE" "$(netty_dependencies_xml)"
  local jar
  for jar in "$NETTY_MODULE_CACHE"/*.jar; do
    if [[ -f "$LIB_DIR/$(basename "$jar")" ]]; then
      rm -f "$jar"
    fi
  done
  if [[ ! -f "$NETTY_MODULE_CACHE/transport-netty4-client-$OPENSEARCH_VERSION.jar" ]]; then
    rm -f "$NETTY_MODULE_CACHE/.complete"
    die "mvn finished but transport-netty4-client-$OPENSEARCH_VERSION.jar is missing. Delete $JAR_DIR and run fetch again."
  fi
  log_info "fetched $(find "$JAR_DIR" -name '*.jar' | wc -l) jars in $(elapsed_since "$started")s"
}

# ---------------------------------------------------------------------------
# start

running_pid() {
  read_live_pid "$PID_FILE" "$PROCESS_PATTERN"
}

# Copy the transport-netty4 module into the node home with the descriptor
# and security policy that a distribution ships next to the jars. The
# module provides the HTTP server and the transport layer.
write_netty_module() {
  local module_dir="$MODULES_DIR/transport-netty4"
  rm -rf "$module_dir"
  mkdir -p "$module_dir"
  cp "$NETTY_MODULE_CACHE"/*.jar "$module_dir/"
  write_file "$module_dir/plugin-descriptor.properties" <<EOF
# Written by scripts/opensearch.sh: the module descriptor that the
# OpenSearch distribution ships, which the Maven jar lacks.
description=Netty 4 based HTTP server and transport
version=$OPENSEARCH_VERSION
name=transport-netty4
classname=org.opensearch.transport.Netty4Plugin
java.version=11
opensearch.version=$OPENSEARCH_VERSION
custom.foldername=transport-netty4
extended.plugins=
has.native.controller=false
EOF
  # Netty reads system properties, sets up selectors and reads the
  # available processors; the security manager allows only what is listed.
  write_file "$module_dir/plugin-security.policy" <<'EOF'
// Written by scripts/opensearch.sh: permissions of the Netty 4 module.
grant codeBase "${codebase.netty-common}" {
  permission java.lang.RuntimePermission "setContextClassLoader";
  permission java.util.PropertyPermission "io.netty.*", "read";
  permission java.net.SocketPermission "*", "accept,connect";
};

grant codeBase "${codebase.netty-transport}" {
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};

grant {
  permission java.util.PropertyPermission "io.netty.*", "read";
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
}

write_config() {
  write_file "$CONFIG_DIR/opensearch.yml" <<EOF
# Written by scripts/opensearch.sh at every start; changes are lost.
cluster.name: $CLUSTER_NAME
node.name: wifiq-1
path.data: $DATA_DIR
path.logs: $LOG_DIR
network.host: $HOST
http.port: $HTTP_PORT
transport.port: $TRANSPORT_PORT
discovery.type: single-node
# A nearly full disk must not turn the test indices read-only.
cluster.routing.allocation.disk.threshold_enabled: false
# Indices get one shard and no replica, so a single node is green.
EOF

  # The launcher of a distribution reads jvm.options; this script passes
  # the same options on the java command line (see java_options) and writes
  # them here so that the node home looks like a distribution's.
  java_options | write_file "$CONFIG_DIR/jvm.options"

  write_file "$CONFIG_DIR/log4j2.properties" <<'EOF'
# Written by scripts/opensearch.sh at every start; changes are lost.
status = error

appender.rolling.type = RollingFile
appender.rolling.name = rolling
appender.rolling.fileName = ${sys:opensearch.logs.base_path}${sys:file.separator}${sys:opensearch.logs.cluster_name}.log
appender.rolling.filePattern = ${sys:opensearch.logs.base_path}${sys:file.separator}${sys:opensearch.logs.cluster_name}.log.%i
appender.rolling.layout.type = PatternLayout
appender.rolling.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
appender.rolling.policies.type = Policies
appender.rolling.policies.size.type = SizeBasedTriggeringPolicy
appender.rolling.policies.size.size = 20MB
appender.rolling.strategy.type = DefaultRolloverStrategy
appender.rolling.strategy.max = 3

rootLogger.level = info
rootLogger.appenderRef.rolling.ref = rolling
EOF
}

# Print the JVM options, one per line.
#
# OpenSearch refuses to run as root when JNA's native library tells it that
# it does, and CI runs as root. jna.nosys and jna.noclasspath stop JNA from
# loading that library (from the system or from its jar), so OpenSearch logs
# that native methods are disabled (no memory locking, no system call
# filter, neither of which a test node needs) and starts.
java_options() {
  local heap_opts=() option
  read -r -a heap_opts <<<"$HEAP_OPTS"
  for option in "${heap_opts[@]}"; do
    printf '%s\n' "$option"
  done
  cat <<EOF
-XX:+UseG1GC
-XX:G1ReservePercent=25
-XX:InitiatingHeapOccupancyPercent=30
-XX:-OmitStackTraceInFastThrow
-XX:+HeapDumpOnOutOfMemoryError
-XX:HeapDumpPath=$TMP_DIR
-Xss1m
-Djava.awt.headless=true
-Dfile.encoding=UTF-8
-Djava.io.tmpdir=$TMP_DIR
-Djava.locale.providers=SPI,COMPAT
-Djava.security.manager=allow
-Dio.netty.noUnsafe=true
-Dio.netty.noKeySetOptimization=true
-Dio.netty.recycler.maxCapacityPerThread=0
-Dio.netty.allocator.numDirectArenas=0
-Dlog4j.shutdownHookEnabled=false
-Dlog4j2.disable.jmx=true
-Dopensearch.path.home=$HOME_DIR
-Dopensearch.path.conf=$CONFIG_DIR
-Dopensearch.distribution.type=tar
-Djna.nosys=true
-Djna.noclasspath=true
EOF
}

check_ports_free() {
  local port
  for port in "$HTTP_PORT" "$TRANSPORT_PORT"; do
    if port_open "$HOST" "$port"; then
      die "port $HOST:$port is already in use by another process. Stop that process or choose other ports with WIFIQ_OPENSEARCH_PORT and WIFIQ_OPENSEARCH_TRANSPORT_PORT"
    fi
  done
}

file_size() {
  if [[ -f "$1" ]]; then
    stat -c %s "$1"
  else
    echo 0
  fi
}

SERVER_LOG_OFFSET=0
CONSOLE_LOG_OFFSET=0

show_startup_output() {
  show_log_tail_after "$SERVER_LOG" "$SERVER_LOG_OFFSET" 40
  show_log_tail_after "$CONSOLE_LOG" "$CONSOLE_LOG_OFFSET" 40
}

# Print the cluster health status (green, yellow or red), or fail.
cluster_health() {
  local body
  body="$(curl -sS --max-time 5 "http://$HOST:$HTTP_PORT/_cluster/health" 2>/dev/null)" || return 1
  sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$body"
}

# Return 0 once the cluster health is yellow or green. Exit with the log
# tail when the server process has died.
server_ready() {
  local pid="$1" status
  if ! process_matches "$pid" "$PROCESS_PATTERN"; then
    show_startup_output
    rm -f "$PID_FILE"
    die "OpenSearch (pid $pid) exited during startup; see the output above and the logs in $LOG_DIR"
  fi
  status="$(cluster_health)" || return 1
  [[ "$status" == green || "$status" == yellow ]]
}

write_env_file() {
  write_file "$ENV_FILE" <<EOF
export WIFIQ_OPENSEARCH_URL=http://$HOST:$HTTP_PORT
export WIFIQ_OPENSEARCH_VERSION=$OPENSEARCH_VERSION
EOF
}

command_start() {
  acquire_lock "$STATE_LOCK"
  local pid
  if pid="$(running_pid)"; then
    log_info "OpenSearch is already running (pid $pid) on http://$HOST:$HTTP_PORT; env file: $ENV_FILE"
    return 0
  fi

  local started java_binary
  started="$(now_seconds)"
  require_command curl "install Debian package curl"
  jars_present || command_fetch
  java_binary="$(find_java 17 "$JAVA_HOME_17")"
  check_ports_free

  mkdir -p "$CONFIG_DIR" "$MODULES_DIR" "$PLUGINS_DIR" "$DATA_DIR" "$LOG_DIR" "$TMP_DIR"
  if [[ -s "$VERSION_FILE" && "$(cat "$VERSION_FILE")" != "$OPENSEARCH_VERSION" ]]; then
    log_warn "the data in $DATA_DIR was written by OpenSearch $(cat "$VERSION_FILE"); starting it with OpenSearch $OPENSEARCH_VERSION fails if that version is newer (run reset to start over)"
  fi
  write_config
  write_netty_module
  printf '%s\n' "$OPENSEARCH_VERSION" | write_file "$VERSION_FILE"

  SERVER_LOG_OFFSET="$(file_size "$SERVER_LOG")"
  CONSOLE_LOG_OFFSET="$(file_size "$CONSOLE_LOG")"
  printf '\n===== %s: opensearch.sh start, OpenSearch %s, %s =====\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$OPENSEARCH_VERSION" "$java_binary" >>"$CONSOLE_LOG"

  log_info "starting OpenSearch $OPENSEARCH_VERSION on $HOST (HTTP $HTTP_PORT, transport $TRANSPORT_PORT)"
  local options=()
  mapfile -t options < <(java_options)
  start_detached "$PID_FILE" "$CONSOLE_LOG" \
    "$java_binary" "${options[@]}" -cp "$LIB_DIR/*" "$MAIN_CLASS"
  pid="$(tr -d '[:space:]' <"$PID_FILE")"

  if ! wait_until "$START_TIMEOUT" 1 server_ready "$pid"; then
    show_startup_output
    die "timed out after ${START_TIMEOUT}s waiting for OpenSearch (pid $pid) to report cluster health yellow or green on http://$HOST:$HTTP_PORT. It is still running. Check the log above, then run scripts/opensearch.sh stop, or raise WIFIQ_OPENSEARCH_START_TIMEOUT."
  fi
  write_env_file
  log_info "OpenSearch is running (pid $pid), health $(cluster_health) after $(elapsed_since "$started")s; env file: $ENV_FILE"
}

# ---------------------------------------------------------------------------
# stop, status, reset, logs, env

stop_server() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log_info "OpenSearch is not running"
    return 0
  fi
  local started
  started="$(now_seconds)"
  log_info "stopping OpenSearch (pid $pid)"
  if ! stop_process "$pid" "$STOP_TIMEOUT" "OpenSearch"; then
    die "OpenSearch (pid $pid) is still running after SIGKILL. Check the process with: ps -fp $pid"
  fi
  rm -f "$PID_FILE"
  log_info "OpenSearch stopped after $(elapsed_since "$started")s"
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
    printf 'OpenSearch %s is running (pid %s)\n' "$(cat "$VERSION_FILE" 2>/dev/null || echo "$OPENSEARCH_VERSION")" "$pid"
    printf '  HTTP            http://%s:%s (health %s)\n' "$HOST" "$HTTP_PORT" "$(cluster_health || echo unknown)"
    printf '  transport       %s:%s\n' "$HOST" "$TRANSPORT_PORT"
    printf '  state dir       %s\n' "$STATE_DIR"
    printf '  env file        %s\n' "$ENV_FILE"
    return 0
  fi
  if [[ -d "$STATE_DIR" ]]; then
    printf 'OpenSearch is not running (state dir %s exists)\n' "$STATE_DIR"
  else
    printf 'OpenSearch is not running (no state dir %s)\n' "$STATE_DIR"
  fi
  return 3
}

command_reset() {
  acquire_lock "$STATE_LOCK"
  stop_server
  delete_state_dir "$STATE_DIR" opensearch
}

command_logs() {
  show_server_log "$SERVER_LOG" opensearch.sh "$@"
}

command_env() {
  print_env_file "$ENV_FILE" opensearch.sh
}

dispatch_command "$@"
