#!/usr/bin/env bash
# Fetch, configure, start and stop a single-node Apache Kafka broker (KRaft
# mode, combined broker and controller) on 127.0.0.1 for the wifiq tests and
# benchmarks. Run `scripts/kafka.sh help` for the commands; scripts/README.md
# lists the ports, files and environment variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_NAME="kafka.sh"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings (see scripts/README.md)

KAFKA_VERSION="${WIFIQ_KAFKA_VERSION:-4.4.0}"
# log4j 2.25.5 is the version that kafka-server 4.4.0 depends on. Kafka 4.x
# logs through SLF4J 1.7, so the binding is log4j-slf4j-impl, because
# log4j-slf4j2-impl needs SLF4J 2.
LOG4J_VERSION="${WIFIQ_KAFKA_LOG4J_VERSION:-2.25.5}"

HOST="127.0.0.1"
PLAINTEXT_PORT="${WIFIQ_KAFKA_PORT:-19092}"
SASL_SSL_PORT="${WIFIQ_KAFKA_SASL_SSL_PORT:-19093}"
SASL_PLAINTEXT_PORT="${WIFIQ_KAFKA_SASL_PLAINTEXT_PORT:-19094}"
CONTROLLER_PORT="${WIFIQ_KAFKA_CONTROLLER_PORT:-19095}"

DEFAULT_SASL_USER="${WIFIQ_KAFKA_SASL_USER:-wifiq}"
HEAP_OPTS="${WIFIQ_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${WIFIQ_KAFKA_START_TIMEOUT:-120}"
LOG_ROLL_SIZE="${WIFIQ_KAFKA_LOG_ROLL_SIZE:-20MB}"
STOP_TIMEOUT="${WIFIQ_KAFKA_STOP_TIMEOUT:-30}"
JAVA_HOME_17="${WIFIQ_KAFKA_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"

JAR_DIR="$WIFIQ_CACHE/kafka-$KAFKA_VERSION"
STATE_DIR="$WIFIQ_STATE/kafka"
CONFIG_DIR="$STATE_DIR/config"
DATA_DIR="$STATE_DIR/data"
LOG_DIR="$STATE_DIR/logs"
TLS_DIR="$STATE_DIR/tls"

SERVER_PROPERTIES="$CONFIG_DIR/server.properties"
SERVER_LOG4J="$CONFIG_DIR/log4j2.properties"
TOOLS_LOG4J="$CONFIG_DIR/tools-log4j2.properties"
ADMIN_PROPERTIES="$CONFIG_DIR/admin-sasl-ssl.properties"
SERVER_LOG="$LOG_DIR/server.log"
CONSOLE_LOG="$LOG_DIR/kafka.out"
PID_FILE="$STATE_DIR/kafka.pid"
ENV_FILE="$STATE_DIR/env"
CLIENT_PROPERTIES="$STATE_DIR/client.properties"
SASL_USER_FILE="$STATE_DIR/sasl-user"
SASL_PASSWORD_FILE="$STATE_DIR/sasl-password"
CLUSTER_ID_FILE="$STATE_DIR/cluster-id"
VERSION_FILE="$STATE_DIR/kafka-version"
CA_PEM="$TLS_DIR/ca.pem"
KEYSTORE="$TLS_DIR/broker.p12"
KEYSTORE_PASSWORD_FILE="$TLS_DIR/keystore-password"

# The lock lives outside STATE_DIR so that `reset` can delete STATE_DIR
# while holding it.
STATE_LOCK="$WIFIQ_STATE/kafka.lock"
FETCH_LOCK="$WIFIQ_CACHE/kafka-$KAFKA_VERSION.lock"

# The broker's command line contains this string; it identifies our process
# when the pid file is checked.
PROCESS_PATTERN="kafka.Kafka $SERVER_PROPERTIES"
# KafkaRaftServer logs this line after the broker and controller have
# started and the listeners accept connections (checked with Kafka 4.4.0).
STARTED_MESSAGE="Kafka Server started"

usage() {
  cat <<EOF
Usage: scripts/kafka.sh COMMAND

Runs a single-node Apache Kafka $KAFKA_VERSION broker (KRaft, combined broker
and controller) on $HOST for tests, without Docker.

Commands:
  fetch     Download the broker jars with mvn into $JAR_DIR (skipped when present).
  start     Fetch if needed, create the state directory on first use, start the
            broker in the background and wait until it accepts requests.
            Does nothing when the broker is already running.
  stop      Stop the broker (SIGTERM, then SIGKILL after ${STOP_TIMEOUT}s). Keeps the data.
  restart   stop, then start. Keeps topics, messages and credentials.
  status    Print whether the broker runs; exit status 0 if it runs, 3 if not.
  reset     Stop the broker and delete $STATE_DIR.
  logs [N]  Print the last N lines (default 100) of the server log; "logs -f" follows it.
  env       Print the shell exports that tests read (the file $ENV_FILE).

Listeners: PLAINTEXT $HOST:$PLAINTEXT_PORT, SASL_SSL $HOST:$SASL_SSL_PORT,
SASL_PLAINTEXT $HOST:$SASL_PLAINTEXT_PORT, controller $HOST:$CONTROLLER_PORT.
EOF
}

# ---------------------------------------------------------------------------
# fetch

jar_dependencies_xml() {
  local artifact
  for artifact in kafka_2.13 kafka-tools; do
    cat <<EOF
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>$artifact</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <!-- kafka-tools needs Kafka Connect only for the Connect tools; the
             broker and the admin tools used here run without it. -->
        <exclusion>
          <groupId>org.apache.kafka</groupId>
          <artifactId>connect-runtime</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
EOF
  done
  for artifact in log4j-api log4j-core log4j-slf4j-impl; do
    cat <<EOF
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>$artifact</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
EOF
  done
}

jars_present() {
  [[ -f "$JAR_DIR/.complete" && -f "$JAR_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]]
}

command_fetch() {
  if jars_present; then
    log_info "Kafka $KAFKA_VERSION jars already in $JAR_DIR"
    return 0
  fi
  acquire_lock "$FETCH_LOCK"
  # Another run may have finished the download while this one waited.
  if jars_present; then
    log_info "Kafka $KAFKA_VERSION jars already in $JAR_DIR"
    return 0
  fi

  local started
  started="$(now_seconds)"
  log_info "downloading Kafka $KAFKA_VERSION jars with mvn into $JAR_DIR"
  maven_fetch_jars "$JAR_DIR" "$(jar_dependencies_xml)"
  if [[ ! -f "$JAR_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    rm -f "$JAR_DIR/.complete"
    die "mvn finished but $JAR_DIR/kafka_2.13-$KAFKA_VERSION.jar is missing. Delete $JAR_DIR and run fetch again."
  fi
  log_info "fetched $(find "$JAR_DIR" -name '*.jar' | wc -l) jars in $(elapsed_since "$started")s"
}

# ---------------------------------------------------------------------------
# State: credentials, TLS material, configuration files

# Print the broker pid when it runs, or return 1.
running_pid() {
  read_live_pid "$PID_FILE" "$PROCESS_PATTERN"
}

# Create the SCRAM user and password on first use. They are stored in the
# cluster metadata at format time, so later runs must reuse them.
ensure_credentials() {
  if [[ ! -s "$SASL_USER_FILE" ]]; then
    printf '%s\n' "$DEFAULT_SASL_USER" | write_file "$SASL_USER_FILE"
  fi
  if [[ ! -s "$SASL_PASSWORD_FILE" ]]; then
    # No trailing newline, so a test can use the file content as it is.
    printf '%s' "$(random_secret 24)" | write_private_file "$SASL_PASSWORD_FILE"
  fi
  local user
  user="$(sasl_user)"
  if [[ ! "$user" =~ ^[A-Za-z0-9._-]+$ ]]; then
    die "invalid SASL user name '$user' in $SASL_USER_FILE: use letters, digits, '.', '_' and '-' only (run reset after changing WIFIQ_KAFKA_SASL_USER)"
  fi
  if [[ -n "${WIFIQ_KAFKA_SASL_USER:-}" && "$WIFIQ_KAFKA_SASL_USER" != "$user" ]]; then
    log_warn "WIFIQ_KAFKA_SASL_USER=$WIFIQ_KAFKA_SASL_USER is ignored: the existing state uses user '$user' (run reset to change it)"
  fi
}

sasl_user() {
  tr -d '[:space:]' <"$SASL_USER_FILE"
}

sasl_password() {
  cat "$SASL_PASSWORD_FILE"
}

# Create a self-signed CA and a broker certificate for 127.0.0.1, ::1 and
# localhost, and a PKCS#12 keystore for the broker. Runs once per state dir.
ensure_tls() {
  if [[ -s "$KEYSTORE" && -s "$CA_PEM" && -s "$KEYSTORE_PASSWORD_FILE" ]]; then
    return 0
  fi
  require_command openssl "install Debian package openssl"
  log_info "creating a self-signed CA and broker certificate in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"

  local extensions="$TLS_DIR/broker-extensions.cnf"
  cat >"$extensions" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
EOF
  random_secret 24 | write_private_file "$KEYSTORE_PASSWORD_FILE"

  if ! {
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=wifiq local test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca.key" -out "$CA_PEM" &&
      openssl req -new -newkey rsa:2048 -nodes -sha256 \
        -subj "/CN=localhost" \
        -keyout "$TLS_DIR/broker.key" -out "$TLS_DIR/broker.csr" &&
      openssl x509 -req -sha256 -days 3650 -set_serial "0x$(openssl rand -hex 16)" \
        -in "$TLS_DIR/broker.csr" -CA "$CA_PEM" -CAkey "$TLS_DIR/ca.key" \
        -extfile "$extensions" -out "$TLS_DIR/broker.pem" &&
      openssl pkcs12 -export -name broker \
        -inkey "$TLS_DIR/broker.key" -in "$TLS_DIR/broker.pem" -certfile "$CA_PEM" \
        -passout "file:$KEYSTORE_PASSWORD_FILE" -out "$KEYSTORE"
  } >"$TLS_DIR/openssl.log" 2>&1; then
    show_log_tail 20 "$TLS_DIR/openssl.log"
    rm -f "$KEYSTORE"
    die "openssl failed to create the TLS files in $TLS_DIR (output above)"
  fi
  chmod 644 "$CA_PEM"
  rm -f "$TLS_DIR/broker.csr"
}

write_log4j_configs() {
  if [[ ! "$LOG_ROLL_SIZE" =~ ^[1-9][0-9]*(KB|MB|GB)$ ]]; then
    die "WIFIQ_KAFKA_LOG_ROLL_SIZE=$LOG_ROLL_SIZE is not a size such as 512KB, 20MB or 1GB"
  fi
  sed "s/@LOG_ROLL_SIZE@/$LOG_ROLL_SIZE/" <<'EOF' | write_file "$SERVER_LOG4J"
# Broker logging: one size-limited file, ${sys:kafka.logs.dir}/server.log.
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = @LOG_ROLL_SIZE@
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  write_file "$TOOLS_LOG4J" <<'EOF'
# Logging for the Kafka command-line tools that kafka.sh runs: warnings only.
status = warn
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = stderr
EOF
}

# Write server.properties from the current settings. Runs at every start, so
# port changes and script updates apply to an existing state dir.
write_server_properties() {
  local user password keystore_password
  user="$(sasl_user)"
  password="$(sasl_password)"
  keystore_password="$(tr -d '\n' <"$KEYSTORE_PASSWORD_FILE")"

  local plain_jaas="org.apache.kafka.common.security.plain.PlainLoginModule required user_$user=\"$password\";"
  local scram_jaas="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  local listener

  {
    cat <<EOF
# Generated by scripts/kafka.sh at every start, so edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=PLAINTEXT://$HOST:$PLAINTEXT_PORT,SASL_SSL://$HOST:$SASL_SSL_PORT,SASL_PLAINTEXT://$HOST:$SASL_PLAINTEXT_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PLAINTEXT_PORT,SASL_SSL://$HOST:$SASL_SSL_PORT,SASL_PLAINTEXT://$HOST:$SASL_PLAINTEXT_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT

log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# One node, so every internal topic has one replica and needs one in sync.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# TLS for the SASL_SSL listener. Clients verify it with $CA_PEM.
ssl.keystore.type=PKCS12
ssl.keystore.location=$KEYSTORE
ssl.keystore.password=$keystore_password
ssl.key.password=$keystore_password
ssl.client.auth=none

# Both SASL listeners accept all three mechanisms. SCRAM users come from the
# cluster metadata (added at format time) and PLAIN users from the JAAS lines.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
EOF
    for listener in sasl_ssl sasl_plaintext; do
      printf 'listener.name.%s.plain.sasl.jaas.config=%s\n' "$listener" "$plain_jaas"
      printf 'listener.name.%s.scram-sha-256.sasl.jaas.config=%s\n' "$listener" "$scram_jaas"
      printf 'listener.name.%s.scram-sha-512.sasl.jaas.config=%s\n' "$listener" "$scram_jaas"
    done
  } | write_private_file "$SERVER_PROPERTIES"
}

# Java client settings for the SASL_SSL listener, used by the readiness check.
write_admin_properties() {
  local user password
  user="$(sasl_user)"
  password="$(sasl_password)"
  write_private_file "$ADMIN_PROPERTIES" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$user" password="$password";
ssl.truststore.type=PEM
ssl.truststore.location=$CA_PEM
EOF
}

# Write the librdkafka-style client.properties and the env file that tests
# source.
write_client_files() {
  local user password
  user="$(sasl_user)"
  password="$(sasl_password)"
  write_private_file "$CLIENT_PROPERTIES" <<EOF
# Client settings for the local wifiq test broker, SASL_SSL listener
# (librdkafka / Confluent Cloud style). Generated by scripts/kafka.sh.
bootstrap.servers=$HOST:$SASL_SSL_PORT
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-256
sasl.username=$user
sasl.password=$password
ssl.ca.location=$CA_PEM
EOF

  local name value
  {
    printf '# Generated by scripts/kafka.sh. Load with: . %s\n' "$ENV_FILE"
    while read -r name value; do
      printf 'export %s=%q\n' "$name" "$value"
    done <<EOF
WIFIQ_KAFKA_BROKERS $HOST:$PLAINTEXT_PORT
WIFIQ_KAFKA_SASL_BROKERS $HOST:$SASL_SSL_PORT
WIFIQ_KAFKA_SASL_PLAINTEXT_BROKERS $HOST:$SASL_PLAINTEXT_PORT
WIFIQ_KAFKA_SASL_USER $user
WIFIQ_KAFKA_SASL_PASSWORD_FILE $SASL_PASSWORD_FILE
WIFIQ_KAFKA_CA $CA_PEM
WIFIQ_KAFKA_CLIENT_PROPERTIES $CLIENT_PROPERTIES
WIFIQ_KAFKA_VERSION $KAFKA_VERSION
EOF
  } | write_file "$ENV_FILE"
}

# ---------------------------------------------------------------------------
# start

# Run a Kafka command-line tool class with warnings-only logging.
run_kafka_tool() {
  local java_binary="$1"
  shift
  "$java_binary" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
    -cp "$JAR_DIR/*" "$@"
}

# Format the KRaft storage directory on first start. This writes the cluster
# id, the metadata version and the SCRAM credentials to the metadata log.
format_storage_if_needed() {
  local java_binary="$1"
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return 0
  fi
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    # A cluster id is 16 random bytes in URL-safe base64 without padding.
    # It may start with "-", hence --cluster-id=ID below: the storage tool
    # would take a separate "-..." argument for an option.
    openssl rand -base64 16 | tr '+/' '-_' | tr -d '=\n' | write_file "$CLUSTER_ID_FILE"
  fi

  local user password format_log="$LOG_DIR/format.log"
  user="$(sasl_user)"
  password="$(sasl_password)"
  # The format output lists the salted SCRAM keys, so keep it private.
  rm -f "$format_log"
  (umask 077 && : >"$format_log")
  log_info "formatting KRaft storage in $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"), SCRAM user '$user')"
  # NOTE: the SCRAM password is on this short-lived command line, so other
  # local users can see it in the process list while the tool runs.
  if ! run_kafka_tool "$java_binary" kafka.tools.StorageTool format \
    --config "$SERVER_PROPERTIES" \
    --cluster-id="$(cat "$CLUSTER_ID_FILE")" \
    --add-scram "SCRAM-SHA-256=[name=$user,password=$password]" \
    --add-scram "SCRAM-SHA-512=[name=$user,password=$password]" \
    >>"$format_log" 2>&1; then
    show_log_tail 30 "$format_log"
    rm -rf "$DATA_DIR"
    die "formatting the KRaft storage failed (output above, also in $format_log)"
  fi
  printf '%s\n' "$KAFKA_VERSION" | write_file "$VERSION_FILE"
}

# Exit with an error when one of the broker's ports is already taken.
check_ports_free() {
  local port
  for port in "$PLAINTEXT_PORT" "$SASL_SSL_PORT" "$SASL_PLAINTEXT_PORT" "$CONTROLLER_PORT"; do
    if port_open "$HOST" "$port"; then
      die "port $HOST:$port is already in use by another process. Stop that process or choose other ports with WIFIQ_KAFKA_PORT, WIFIQ_KAFKA_SASL_SSL_PORT, WIFIQ_KAFKA_SASL_PLAINTEXT_PORT and WIFIQ_KAFKA_CONTROLLER_PORT"
    fi
  done
}

# Sizes of the log files before the current start, so that startup checks
# and error output look only at what this run wrote. SERVER_LOG_INODE tells
# whether log4j has rolled server.log since: it renames the file to
# server.log.1 and opens a new one.
SERVER_LOG_OFFSET=0
SERVER_LOG_INODE=""
CONSOLE_LOG_OFFSET=0

file_inode() {
  stat -c %i "$1" 2>/dev/null || true
}

# Print what the broker wrote to its server log since this start began: the
# rest of the file that was server.log then (server.log.1 after a roll,
# or further on after several), any newer rolled file, then server.log.
server_log_since_start() {
  if [[ "$(file_inode "$SERVER_LOG")" == "$SERVER_LOG_INODE" ]]; then
    tail -c "+$((SERVER_LOG_OFFSET + 1))" "$SERVER_LOG" 2>/dev/null || true
    return 0
  fi
  local i file started=""
  for ((i = 3; i >= 1; i--)); do
    file="$SERVER_LOG.$i"
    [[ -f "$file" ]] || continue
    if [[ -n "$started" ]]; then
      cat "$file"
    elif [[ -n "$SERVER_LOG_INODE" && "$(file_inode "$file")" == "$SERVER_LOG_INODE" ]]; then
      tail -c "+$((SERVER_LOG_OFFSET + 1))" "$file"
      started=1
    fi
  done
  cat "$SERVER_LOG" 2>/dev/null || true
}

file_size() {
  if [[ -f "$1" ]]; then
    stat -c %s "$1"
  else
    echo 0
  fi
}

show_startup_output() {
  local server_output
  server_output="$(server_log_since_start | tail -n 40)"
  if [[ -n "$server_output" ]]; then
    printf -- '----- last 40 lines written to %s during this run -----\n%s\n' "$SERVER_LOG" "$server_output" >&2
  fi
  show_log_tail_after "$CONSOLE_LOG" "$CONSOLE_LOG_OFFSET" 20
}

# Return 0 once the server log has the started message (written after this
# start began) and the PLAINTEXT port accepts connections. Exit with the log
# tail when the broker process has died.
broker_started() {
  local pid="$1"
  if ! process_matches "$pid" "$PROCESS_PATTERN"; then
    show_startup_output
    rm -f "$PID_FILE"
    die "the Kafka broker (pid $pid) exited during startup; see the output above and the logs in $LOG_DIR"
  fi
  server_log_since_start | grep -qF "$STARTED_MESSAGE" || return 1
  port_open "$HOST" "$PLAINTEXT_PORT"
}

# List topics through the SASL_SSL listener with the Java admin tool. This
# checks TLS, SCRAM authentication and request handling in one call.
check_sasl_ssl_listener() {
  local java_binary="$1" check_log="$LOG_DIR/check-sasl-ssl.log"
  if ! run_kafka_tool "$java_binary" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$HOST:$SASL_SSL_PORT" \
    --command-config "$ADMIN_PROPERTIES" \
    --list >"$check_log" 2>&1; then
    show_log_tail 30 "$check_log" "$SERVER_LOG"
    die "the broker started, but listing topics over SASL_SSL on $HOST:$SASL_SSL_PORT failed (output above, also in $check_log). The broker is still running: check scripts/kafka.sh logs, then run scripts/kafka.sh stop."
  fi
}

command_start() {
  acquire_lock "$STATE_LOCK"
  local pid
  if pid="$(running_pid)"; then
    log_info "Kafka is already running (pid $pid) on $HOST:$PLAINTEXT_PORT; env file: $ENV_FILE"
    return 0
  fi

  local started java_binary
  started="$(now_seconds)"
  jars_present || command_fetch
  java_binary="$(find_java 17 "$JAVA_HOME_17")"
  check_ports_free

  mkdir -p "$CONFIG_DIR" "$DATA_DIR" "$LOG_DIR"
  if [[ -s "$VERSION_FILE" && "$(cat "$VERSION_FILE")" != "$KAFKA_VERSION" ]]; then
    log_warn "the data in $DATA_DIR was formatted by Kafka $(cat "$VERSION_FILE"); starting it with Kafka $KAFKA_VERSION fails if that version is older (run reset to start over)"
  fi
  ensure_credentials
  ensure_tls
  write_log4j_configs
  write_server_properties
  write_admin_properties
  format_storage_if_needed "$java_binary"

  SERVER_LOG_OFFSET="$(file_size "$SERVER_LOG")"
  SERVER_LOG_INODE="$(file_inode "$SERVER_LOG")"
  CONSOLE_LOG_OFFSET="$(file_size "$CONSOLE_LOG")"
  printf '\n===== %s: kafka.sh start, Kafka %s, %s =====\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$KAFKA_VERSION" "$java_binary" >>"$CONSOLE_LOG"

  log_info "starting Kafka $KAFKA_VERSION on $HOST (PLAINTEXT $PLAINTEXT_PORT, SASL_SSL $SASL_SSL_PORT, SASL_PLAINTEXT $SASL_PLAINTEXT_PORT, controller $CONTROLLER_PORT)"
  local heap_opts=()
  read -r -a heap_opts <<<"$HEAP_OPTS"
  start_detached "$PID_FILE" "$CONSOLE_LOG" \
    "$java_binary" "${heap_opts[@]}" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$SERVER_LOG4J" \
    -cp "$JAR_DIR/*" kafka.Kafka "$SERVER_PROPERTIES"
  pid="$(tr -d '[:space:]' <"$PID_FILE")"

  if ! wait_until "$START_TIMEOUT" 0.5 broker_started "$pid"; then
    show_startup_output
    die "timed out after ${START_TIMEOUT}s waiting for Kafka (pid $pid) to log '$STARTED_MESSAGE' and open $HOST:$PLAINTEXT_PORT. It is still running. Check the log above, then run scripts/kafka.sh stop, or raise WIFIQ_KAFKA_START_TIMEOUT."
  fi
  check_sasl_ssl_listener "$java_binary"
  write_client_files
  log_info "Kafka is running (pid $pid), ready after $(elapsed_since "$started")s; env file: $ENV_FILE"
}

# ---------------------------------------------------------------------------
# stop, status, reset, logs, env

stop_broker() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log_info "Kafka is not running"
    return 0
  fi
  local started
  started="$(now_seconds)"
  log_info "stopping Kafka (pid $pid)"
  if ! stop_process "$pid" "$STOP_TIMEOUT" "Kafka"; then
    die "Kafka (pid $pid) is still running after SIGKILL. Check the process with: ps -fp $pid"
  fi
  rm -f "$PID_FILE"
  log_info "Kafka stopped after $(elapsed_since "$started")s"
}

command_stop() {
  acquire_lock "$STATE_LOCK"
  stop_broker
}

command_restart() {
  acquire_lock "$STATE_LOCK"
  stop_broker
  command_start
}

command_status() {
  local pid
  if pid="$(running_pid)"; then
    # The env file is written by the start that launched this process, so it
    # has that run's version even when WIFIQ_KAFKA_VERSION differs now.
    local version
    version="$(sed -n 's/^export WIFIQ_KAFKA_VERSION=//p' "$ENV_FILE" 2>/dev/null)"
    printf 'Kafka %s is running (pid %s)\n' "${version:-$KAFKA_VERSION}" "$pid"
    printf '  PLAINTEXT       %s:%s\n' "$HOST" "$PLAINTEXT_PORT"
    printf '  SASL_SSL        %s:%s\n' "$HOST" "$SASL_SSL_PORT"
    printf '  SASL_PLAINTEXT  %s:%s\n' "$HOST" "$SASL_PLAINTEXT_PORT"
    printf '  controller      %s:%s\n' "$HOST" "$CONTROLLER_PORT"
    printf '  state dir       %s\n' "$STATE_DIR"
    printf '  env file        %s\n' "$ENV_FILE"
    return 0
  fi
  if [[ -d "$STATE_DIR" ]]; then
    printf 'Kafka is not running (state dir %s exists)\n' "$STATE_DIR"
  else
    printf 'Kafka is not running (no state dir %s)\n' "$STATE_DIR"
  fi
  return 3
}

command_reset() {
  acquire_lock "$STATE_LOCK"
  stop_broker
  delete_state_dir "$STATE_DIR" kafka
}

command_logs() {
  show_server_log "$SERVER_LOG" kafka.sh "$@"
}

command_env() {
  print_env_file "$ENV_FILE" kafka.sh
}

dispatch_command "$@"
