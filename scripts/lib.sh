# shellcheck shell=bash
# Shared helpers for the scripts that run local test servers (kafka.sh and
# the scripts for other servers). Source this file, do not run it.
#
# The caller sets LOG_NAME (used as the message prefix) before calling these
# functions and runs with `set -euo pipefail`.

WIFIQ_CACHE="${WIFIQ_CACHE:-${HOME:-/root}/.cache/wifiq}"
WIFIQ_STATE="${WIFIQ_STATE:-/tmp/wifiq-servers}"

# ---------------------------------------------------------------------------
# Messages

log_info() {
  printf '%s: %s\n' "${LOG_NAME:-${0##*/}}" "$*" >&2
}

log_warn() {
  printf '%s: warning: %s\n' "${LOG_NAME:-${0##*/}}" "$*" >&2
}

# Print an error message and exit with status 1.
die() {
  printf '%s: error: %s\n' "${LOG_NAME:-${0##*/}}" "$*" >&2
  exit 1
}

# Exit with an error naming the missing command and how to get it.
require_command() {
  local command_name="$1" install_hint="${2:-}"
  if ! command -v "$command_name" >/dev/null 2>&1; then
    die "required command '$command_name' not found in PATH${install_hint:+ ($install_hint)}"
  fi
}

# ---------------------------------------------------------------------------
# Time and waiting

# Print seconds since the epoch with millisecond precision.
now_seconds() {
  date +%s.%3N
}

# Print the seconds elapsed since START (a now_seconds value), e.g. "12.3".
elapsed_since() {
  local start="$1"
  awk -v start="$start" -v now="$(now_seconds)" 'BEGIN { printf "%.1f", now - start }'
}

# Return 0 when a TCP connection to HOST:PORT succeeds within one second.
port_open() {
  local host="$1" port="$2"
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner shell.
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# Run COMMAND... every INTERVAL seconds until it succeeds or TIMEOUT seconds
# pass. Return 0 on success and 1 on timeout.
wait_until() {
  local timeout_seconds="$1" interval_seconds="$2"
  shift 2
  local deadline=$((SECONDS + timeout_seconds))
  while true; do
    if "$@"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep "$interval_seconds"
  done
}

# ---------------------------------------------------------------------------
# Processes

# Return 0 when PID is a live process whose command line contains PATTERN
# (a fixed string). The pattern guards against a reused pid.
process_matches() {
  local pid="$1" pattern="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# Print the pid stored in PID_FILE when that process is alive and its command
# line contains PATTERN. Return 1 (and print nothing) otherwise.
read_live_pid() {
  local pid_file="$1" pattern="$2" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(tr -d '[:space:]' <"$pid_file")"
  process_matches "$pid" "$pattern" || return 1
  printf '%s\n' "$pid"
}

# Send SIGTERM to PID, wait up to TIMEOUT seconds for it to exit, then send
# SIGKILL. Return 0 once the process is gone.
stop_process() {
  local pid="$1" timeout_seconds="$2" name="${3:-process}"
  kill -TERM "$pid" 2>/dev/null || return 0
  if wait_until "$timeout_seconds" 0.5 process_gone "$pid"; then
    return 0
  fi
  log_warn "$name (pid $pid) did not exit within ${timeout_seconds}s after SIGTERM, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || return 0
  wait_until 10 0.2 process_gone "$pid"
}

# Return 0 when PID no longer runs. A zombie (exited, not yet reaped by its
# parent) counts as gone.
process_gone() {
  local pid="$1" stat_line
  kill -0 "$pid" 2>/dev/null || return 0
  stat_line="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 0
  # The state letter follows the command name, which is in parentheses.
  [[ "${stat_line##*) }" == Z* ]]
}

# Start COMMAND... detached in its own session, with stdin from /dev/null and
# stdout and stderr appended to LOG_FILE. The process writes its own pid to
# PID_FILE before it execs COMMAND, so the pid is right even when setsid has
# to fork. The lock files taken with acquire_lock are closed in the child, so
# a long-running server does not hold them.
start_detached() {
  local pid_file="$1" log_file="$2"
  shift 2
  rm -f "$pid_file"
  (
    for lock_fd in "${WIFIQ_LOCK_FDS[@]}"; do
      exec {lock_fd}>&-
    done
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell.
    exec setsid bash -c 'printf "%s\n" "$$" >"$0"; exec "$@"' "$pid_file" "$@" \
      </dev/null >>"$log_file" 2>&1
  ) &
  if ! wait_until 10 0.1 test -s "$pid_file"; then
    die "the process started with '$1' did not write its pid file $pid_file within 10s (see $log_file)"
  fi
}

# ---------------------------------------------------------------------------
# Files and locks

# File descriptors of the locks this shell holds, by lock file path.
declare -A WIFIQ_LOCK_FDS=()

# Hold an exclusive lock on LOCK_FILE until the calling shell exits, so that
# concurrent runs (for example parallel test packages that all call `start`)
# take turns. Waits up to TIMEOUT seconds (default 300). Taking a lock that
# this shell already holds does nothing.
acquire_lock() {
  local lock_file="$1" timeout_seconds="${2:-300}" lock_fd
  if [[ -n "${WIFIQ_LOCK_FDS[$lock_file]:-}" ]]; then
    return 0
  fi
  require_command flock "Debian package util-linux"
  mkdir -p "$(dirname "$lock_file")"
  exec {lock_fd}>>"$lock_file"
  if ! flock -w "$timeout_seconds" "$lock_fd"; then
    die "timed out after ${timeout_seconds}s waiting for the lock $lock_file, held by another run of this script"
  fi
  WIFIQ_LOCK_FDS[$lock_file]="$lock_fd"
}

# Print a random string of LENGTH letters and digits (default 24).
random_secret() {
  local length="${1:-24}" secret
  secret="$(openssl rand -base64 $((length * 2)) | tr -dc 'A-Za-z0-9')"
  printf '%s\n' "${secret:0:length}"
}

# Write standard input to FILE with mode 0600, replacing it atomically.
write_private_file() {
  local file="$1" temporary
  temporary="$(mktemp "$file.XXXXXX")"
  chmod 600 "$temporary"
  cat >"$temporary"
  mv -f "$temporary" "$file"
}

# Write standard input to FILE with mode 0644, replacing it atomically.
write_file() {
  local file="$1" temporary
  temporary="$(mktemp "$file.XXXXXX")"
  cat >"$temporary"
  chmod 644 "$temporary"
  mv -f "$temporary" "$file"
}

# Print the last LINES lines of FILE that come after byte OFFSET, with a
# header, to stderr. Use it to show only what one run of a server wrote.
show_log_tail_after() {
  local file="$1" offset="$2" lines="$3"
  [[ -f "$file" ]] || return 0
  # A file smaller than OFFSET was rotated or truncated, so show all of it.
  local size
  size="$(stat -c %s "$file")"
  if ((size < offset)); then
    offset=0
  elif ((size == offset)); then
    return 0
  fi
  printf -- '----- last %s lines written to %s during this run -----\n' "$lines" "$file" >&2
  tail -c "+$((offset + 1))" "$file" | tail -n "$lines" >&2
}

# Print the last LINES lines of each existing FILE, with a header, to stderr.
show_log_tail() {
  local lines="$1"
  shift
  local file
  for file in "$@"; do
    [[ -s "$file" ]] || continue
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
  done
}

# ---------------------------------------------------------------------------
# Java and Maven

# Print the path of a java binary of at least MIN_MAJOR (default 17).
# Looks at PREFERRED_HOME first (if given and present), then JAVA_HOME, then
# java on PATH.
find_java() {
  local min_major="${1:-17}" preferred_home="${2:-}" candidate major
  local candidates=()
  [[ -n "$preferred_home" ]] && candidates+=("$preferred_home/bin/java")
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(command -v java)")
  fi
  for candidate in "${candidates[@]}"; do
    [[ -x "$candidate" ]] || continue
    major="$(java_major_version "$candidate")" || continue
    if ((major >= min_major)); then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  die "no Java $min_major or newer found (checked: ${candidates[*]:-nothing}). Install openjdk-$min_major-jre-headless or set JAVA_HOME."
}

# Print the major version of the java binary JAVA (for example 17).
java_major_version() {
  local java_binary="$1" version_line version
  version_line="$("$java_binary" -version 2>&1 | grep -m1 -E 'version "')" || return 1
  version="${version_line#*\"}"
  version="${version%%\"*}"
  # Java 8 and older report "1.8.0_x"; newer ones report "17.0.15".
  if [[ "$version" == 1.* ]]; then
    version="${version#1.}"
  fi
  printf '%s\n' "${version%%[.+-]*}"
}

# Download jars and their runtime dependencies from the Maven repository
# into DEST_DIR with the installed mvn. DEPENDENCIES_XML is the content of a
# <dependencies> element (one or more <dependency> entries). DEST_DIR is
# replaced only when the download succeeds, and the file DEST_DIR/.complete
# marks a finished download, so callers can skip Maven on later runs.
maven_fetch_jars() {
  local dest_dir="$1" dependencies_xml="$2"
  local plugin="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
  local work_dir mvn_log

  require_command mvn "install Debian package maven"
  mkdir -p "$(dirname "$dest_dir")"
  work_dir="$(mktemp -d "$dest_dir.fetch.XXXXXX")"
  mvn_log="$work_dir/mvn.log"

  cat >"$work_dir/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by ${LOG_NAME:-${0##*/}} to download server jars; safe to delete. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.wifiq</groupId>
  <artifactId>server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$dependencies_xml
  </dependencies>
</project>
EOF

  if ! mvn --batch-mode --no-transfer-progress -f "$work_dir/pom.xml" \
    "$plugin:copy-dependencies" \
    -DincludeScope=runtime \
    -DoutputDirectory="$work_dir/lib" >"$mvn_log" 2>&1; then
    show_log_tail 40 "$mvn_log"
    die "mvn could not download the jars (full output: $mvn_log). Check that the Maven repository is reachable and that the versions exist, then run fetch again."
  fi

  date -u +%Y-%m-%dT%H:%M:%SZ >"$work_dir/lib/.complete"
  rm -rf "$dest_dir"
  mv "$work_dir/lib" "$dest_dir"
  rm -rf "$work_dir"
}

# ---------------------------------------------------------------------------
# Commands that every server script shares. A script defines command_start,
# command_stop and the others, then ends with: dispatch_command "$@".

# Delete the state directory DIR of server NAME. The caller stops the server
# first. The path must end in /NAME, which guards the recursive delete
# against an empty or unexpected value.
delete_state_dir() {
  local dir="$1" name="$2"
  if [[ "$dir" != */"$name" || "$dir" == "/$name" ]]; then
    die "not deleting state dir '$dir': expected a path that ends in /$name"
  fi
  if [[ -d "$dir" ]]; then
    rm -rf "$dir"
    log_info "deleted $dir"
  else
    log_info "nothing to delete: $dir does not exist"
  fi
}

# Print the last N lines (default 100) of the server log LOG, or follow it
# when N is -f. SCRIPT names the script for the hint when LOG is missing.
show_server_log() {
  local log="$1" script="$2" argument="${3:-100}"
  if [[ ! -f "$log" ]]; then
    die "no server log at $log. Start the server first with scripts/$script start."
  fi
  if [[ "$argument" == "-f" ]]; then
    exec tail -n 100 -F "$log"
  fi
  if [[ ! "$argument" =~ ^[0-9]+$ ]]; then
    die "invalid line count '$argument' for logs: give a number or -f"
  fi
  tail -n "$argument" "$log"
}

# Print the env file FILE that the start command of SCRIPT writes.
print_env_file() {
  local file="$1" script="$2"
  if [[ ! -f "$file" ]]; then
    die "no env file at $file. Run scripts/$script start first."
  fi
  cat "$file"
}

# Run command_NAME for the first argument NAME with the other arguments,
# or print the usage for help, -h and --help.
dispatch_command() {
  local command="${1:-help}"
  shift || true
  case "$command" in
    help | -h | --help)
      usage
      return 0
      ;;
  esac
  if [[ "$command" =~ ^[a-z]+$ ]] && declare -F "command_$command" >/dev/null; then
    "command_$command" "$@"
  else
    usage >&2
    die "unknown command '$command'"
  fi
}
