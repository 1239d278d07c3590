package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
)

// postgresScript is scripts/postgres.sh, relative to this package.
const postgresScript = "../scripts/postgres.sh"

// firstOwnPostgresPort is the first port tried for a test's own PostgreSQL
// server. Like the test brokers' ports it lies below Linux's ephemeral
// range, so no client connection takes it while the server is down.
const firstOwnPostgresPort = 25432

// ownPostgres is a PostgreSQL server that scripts/postgres.sh runs for one
// test.
type ownPostgres struct {
	scriptEnv []string // environment of scripts/postgres.sh: state directory and port
	clientEnv []string // PG* settings from the server's env file
	dsn       string   // connection string for the test's own queries
}

// startOwnPostgres starts a server in a temporary state directory on a free
// port and stops it when the test ends. It skips, or fails under
// WIFIQ_REQUIRE_SERVERS=1, where the shared server is not set up, because
// that server's env file shows that Debian's postgresql package is there.
func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server of its own; skipped with -short")
	}
	if os.Getenv("PGHOST") == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") == "1" {
			t.Fatal("PGHOST is not set: run scripts/postgres.sh start and source its env file")
		}
		t.Skip("PGHOST is not set: run scripts/postgres.sh start and source its env file")
	}
	port := 0
	for p := firstOwnPostgresPort; p < firstOwnPostgresPort+1000; p += 10 {
		if portsFree(p, 1) {
			port = p
			break
		}
	}
	if port == 0 {
		t.Fatalf("no free port on 127.0.0.1 from %d", firstOwnPostgresPort)
	}

	// The server runs as the operating system user postgres, which must
	// reach its data directory. The script opens the state directory to
	// other users, but t.TempDir's parent is private to root, so the state
	// directory lies directly in the system's temporary directory.
	state, err := os.MkdirTemp("", "wifiq-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })

	s := &ownPostgres{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "WIFIQ_STATE" || name == "WIFIQ_POSTGRES_PORT" || strings.HasPrefix(name, "PG") {
			continue
		}
		s.scriptEnv = append(s.scriptEnv, kv)
	}
	s.scriptEnv = append(s.scriptEnv, "WIFIQ_STATE="+state, "WIFIQ_POSTGRES_PORT="+strconv.Itoa(port))

	// The stop is registered before the start, so a start that fails
	// halfway still stops the server. It runs before the state directory
	// is removed.
	t.Cleanup(func() { s.run(t, "stop") })
	s.run(t, "start")

	settings := readEnvFile(t, filepath.Join(state, "postgres", "env"))
	for _, name := range []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSFILE"} {
		if settings[name] == "" {
			t.Fatalf("the env file of scripts/postgres.sh in %s sets no %s", state, name)
		}
	}
	for name, value := range settings {
		s.clientEnv = append(s.clientEnv, name+"="+value)
	}
	s.dsn = fmt.Sprintf("host=%s port=%s user=%s dbname=%s passfile=%s sslmode=disable",
		settings["PGHOST"], settings["PGPORT"], settings["PGUSER"], settings["PGDATABASE"], settings["PGPASSFILE"])
	return s
}

// run runs scripts/postgres.sh COMMAND for this server.
func (s *ownPostgres) run(t *testing.T, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, postgresScript, command)
	cmd.Env = s.scriptEnv
	// The server runs detached with its own log file, but a stray child
	// holding the output pipe must not block Wait.
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/postgres.sh %s: %v\n%s", command, err, out)
	}
}

// readEnvFile returns the NAME=VALUE settings of the `export` lines of a
// shell env file that scripts/*.sh write.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line, found := strings.CutPrefix(strings.TrimSpace(scanner.Text()), "export ")
		if !found {
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		// The script quotes values with printf %q, which leaves paths of
		// letters, digits, '-', '_', '.' and '/' as they are.
		if strings.ContainsAny(value, `'"\$ `) {
			t.Fatalf("%s: value of %s is shell-quoted (%s), which this test does not parse", path, name, value)
		}
		settings[name] = value
	}
	return settings
}

// withPostgresEnv returns env without PG* settings, plus settings.
func withPostgresEnv(env, settings []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return append(out, settings...)
}

// postgresProbe runs the test's queries on one connection and reconnects
// after an error, so that it can poll a server that stops and starts.
type postgresProbe struct {
	dsn  string
	conn *pgx.Conn
}

// queryInt returns the single bigint of a query, or false when the server
// cannot be reached or the query fails.
func (p *postgresProbe) queryInt(sql string, args ...any) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.conn == nil {
		conn, err := pgx.Connect(ctx, p.dsn)
		if err != nil {
			return 0, false
		}
		p.conn = conn
	}
	var n int64
	if err := p.conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		p.close()
		return 0, false
	}
	return n, true
}

func (p *postgresProbe) close() {
	if p.conn != nil {
		p.conn.Close(context.Background())
		p.conn = nil
	}
}

// storedOffsetSumSQL sums the next offsets that wifiq_offsets stores for a
// table ($1) and topic ($2): the number of messages the sink has committed
// when the topic's partitions start at offset 0.
const storedOffsetSumSQL = `SELECT coalesce(sum("offset"), 0)::bigint FROM wifiq_offsets WHERE "table" = $1 AND topic = $2`

// sequenceTableSummary is what a table of test sequence records contains.
type sequenceTableSummary struct {
	rows, distinct   int64
	minimum, maximum int64 // of wlan_seq, -1 in an empty table
	// wrongTimestamps counts rows whose timestamp column is not the
	// record's event time, base + wlan_seq milliseconds.
	wrongTimestamps int64
}

// summarizeSequenceTable reads the summary of table from conn.
func summarizeSequenceTable(t *testing.T, conn *pgx.Conn, table string, base int64) sequenceTableSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s sequenceTableSummary
	err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT wlan_seq), coalesce(min(wlan_seq), -1), coalesce(max(wlan_seq), -1),
		count(*) FILTER (WHERE (extract(epoch FROM "timestamp") * 1000)::bigint <> $1 + wlan_seq)
		FROM `+pgx.Identifier{table}.Sanitize(), base).Scan(&s.rows, &s.distinct, &s.minimum, &s.maximum, &s.wrongTimestamps)
	if err != nil {
		t.Fatalf("summarize table %s: %v", table, err)
	}
	return s
}

// checkSequenceTable checks that table contains each of the records 0 to
// total-1 of a test sequence once.
func checkSequenceTable(t *testing.T, conn *pgx.Conn, table string, base int64, total int64) {
	t.Helper()
	s := summarizeSequenceTable(t, conn, table, base)
	t.Logf("table %s: %d rows, %d distinct wlan_seq from %d to %d", table, s.rows, s.distinct, s.minimum, s.maximum)
	if s.rows != total {
		t.Errorf("table %s has %d rows, want %d", table, s.rows, total)
	}
	if s.distinct != total {
		t.Errorf("table %s has %d distinct wlan_seq values, want %d", table, s.distinct, total)
	}
	if s.minimum != 0 || s.maximum != total-1 {
		t.Errorf("wlan_seq ranges from %d to %d, want 0 to %d", s.minimum, s.maximum, total-1)
	}
	if s.wrongTimestamps != 0 {
		t.Errorf("%d rows have a timestamp other than the record's event time", s.wrongTimestamps)
	}
}

// createSequenceTopic creates a topic of 3 partitions on the shared broker
// and deletes it when the test ends.
func createSequenceTopic(t *testing.T, admin *kadm.Client, prefix string) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin.DeleteTopics(ctx, topic)
	})
	return topic
}

// TestSinkPostgresSurvivesServerRestart stops the sink's PostgreSQL server
// while records keep arriving and starts it again. The sink must retry and
// end with each record in the table exactly once. The table has no primary
// key, so a batch written twice would show as duplicate rows.
func TestSinkPostgresSurvivesServerRestart(t *testing.T) {
	brokers := realKafka(t)
	server := startOwnPostgres(t)
	const total, first = 20_000, 10_000
	const table = "restart"
	admin, closeAdmin := newAdmin(t, brokers)
	defer closeAdmin()
	topic := createSequenceTopic(t, admin, "pg-restart")
	base := time.Now().Add(-time.Hour).UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), 2*reliabilityTimeout)
	defer cancel()
	probe := &postgresProbe{dsn: server.dsn}
	defer probe.close()

	produceSequence(t, ctx, brokers, topic, base, 0, first)
	sink := wifiqCommand(t, ctx, "sink", "postgres", "--table", table, "--from", "kafka:"+topic,
		"--brokers", brokers, "--group", topic+"-group", "--follow", "--batch-size", "500", "--retry-for", "5m",
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000")
	sink.Env = withPostgresEnv(sink.Env, server.clientEnv)
	var stderr lockedBuffer
	sink.Stderr = &stderr
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var sinkErr error
	go func() { sinkErr = sink.Wait(); close(done) }()
	defer func() {
		sink.Process.Signal(syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("sink log:\n%s", lastLines(stderr.String(), 30))
		}
	}()

	// The server stops once the first rows are in, which on a slow machine
	// is while the sink still writes the first part.
	countSQL := "SELECT count(*) FROM " + pgx.Identifier{table}.Sanitize()
	var before int64
	waitUntil(t, "table "+table+" has rows", done, func() bool {
		n, ok := probe.queryInt(countSQL)
		before = n
		return ok && n > 0
	})
	probe.close()
	server.run(t, "stop")
	stopped := time.Now()

	// Records that arrive while the server is down wait in the sink's
	// retry loop.
	produceSequence(t, ctx, brokers, topic, base, first, total)
	waitUntil(t, "the sink logs a retry", done, func() bool {
		return strings.Contains(stderr.String(), "PostgreSQL unreachable, will retry")
	})
	time.Sleep(3 * time.Second)
	server.run(t, "start")
	t.Logf("stopped the server with %d rows in the table, started it again after %v", before, time.Since(stopped).Round(time.Millisecond))

	waitUntil(t, fmt.Sprintf("wifiq_offsets stores %d offsets for table %s", total, table), done, func() bool {
		n, ok := probe.queryInt(storedOffsetSumSQL, table, topic)
		return ok && n >= total
	})
	if err := sink.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-done
	if sinkErr != nil {
		t.Errorf("sink ended with %v after SIGINT, want exit 0\n%s", sinkErr, lastLines(stderr.String(), 20))
	}
	if !strings.Contains(stderr.String(), "PostgreSQL is reachable again") {
		t.Errorf("the sink did not log that the server was reachable again:\n%s", lastLines(stderr.String(), 20))
	}

	conn, err := pgx.Connect(ctx, server.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	checkSequenceTable(t, conn, table, base, total)
	if stored, ok := probe.queryInt(storedOffsetSumSQL, table, topic); !ok || stored != total {
		t.Errorf("wifiq_offsets stores %d offsets (query succeeded: %v), want %d", stored, ok, total)
	}
}

// TestSinkPostgresResumesAfterKill kills the sink with SIGKILL after its
// first batches are committed and runs it again with the same group and
// table. The second run must start after the offsets stored with the rows,
// even where the group's committed offsets lag behind them, so that each
// record lands once in a table without a primary key.
func TestSinkPostgresResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 rows; skipped with -short")
	}
	conn := requirePostgres(t)
	brokers := realKafka(t)
	const total = 100_000
	admin, closeAdmin := newAdmin(t, brokers)
	defer closeAdmin()
	topic := createSequenceTopic(t, admin, "pg-kill")
	group := topic + "-group"
	table := uniqueTable(t, conn, "kill")
	base := time.Now().Add(-time.Hour).UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	probe := &postgresProbe{dsn: ""} // the PG* settings of the shared server
	defer probe.close()

	// The first run follows the topic, so it cannot end before the kill.
	// The rest of the records arrive after the kill.
	produced := total / 2
	produceSequence(t, ctx, brokers, topic, base, 0, produced)
	args := []string{"sink", "postgres", "--table", table, "--from", "kafka:" + topic, "--brokers", brokers,
		"--group", group, "--batch-size", "500", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"}
	first := wifiqCommand(t, ctx, append(args, "--follow")...)
	var firstStderr lockedBuffer
	first.Stderr = &firstStderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var firstErr error
	go func() { firstErr = first.Wait(); close(done) }()

	waitUntil(t, "wifiq_offsets stores offsets for table "+table, done, func() bool {
		n, ok := probe.queryInt(storedOffsetSumSQL, table, topic)
		return ok && n > 0
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		<-done
		t.Fatalf("kill the first run: %v; it ended with %v:\n%s", err, firstErr, lastLines(firstStderr.String(), 20))
	}
	<-done
	var exitErr *exec.ExitError
	if !errors.As(firstErr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first run ended with %v, want death by SIGKILL\n%s", firstErr, firstStderr.String())
	}

	// Rows and offsets are committed in one transaction, so after the kill
	// the table has exactly as many rows as the stored offsets count.
	stored, ok := probe.queryInt(storedOffsetSumSQL, table, topic)
	if !ok {
		t.Fatal("unable to read wifiq_offsets after the kill")
	}
	rowsBefore := countRows(t, conn, table)
	groupCommitted, err := committedCount(ctx, admin, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the first run with %d rows, %d stored offsets and %d offsets committed by the group", rowsBefore, stored, groupCommitted)
	if stored >= int64(produced) {
		t.Errorf("wifiq_offsets stored %d offsets before the kill, want fewer than the %d records produced: the kill came after the end", stored, produced)
	}
	if rowsBefore != stored {
		t.Errorf("table has %d rows after the kill but wifiq_offsets stores %d offsets, want them equal", rowsBefore, stored)
	}

	produceSequence(t, ctx, brokers, topic, base, produced, total)
	second := wifiqCommand(t, ctx, args...)
	var secondStderr bytes.Buffer
	second.Stderr = &secondStderr
	started := time.Now()
	if err := second.Run(); err != nil {
		t.Fatalf("second run: %v\n%s", err, secondStderr.String())
	}
	t.Logf("second run took %v: %s", time.Since(started).Round(time.Millisecond), lastLines(secondStderr.String(), 1))

	checkSequenceTable(t, conn, table, base, total)
	checkStoredOffsets(t, ctx, conn, admin, table, topic)
}

// checkStoredOffsets checks that wifiq_offsets stores the end offset of
// every partition of topic for table.
func checkStoredOffsets(t *testing.T, ctx context.Context, conn *pgx.Conn, admin *kadm.Client, table, topic string) {
	t.Helper()
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	rows, err := conn.Query(ctx, `SELECT partition, "offset" FROM wifiq_offsets WHERE "table" = $1 AND topic = $2`, table, topic)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int32]int64{}
	var partition int32
	var offset int64
	if _, err := pgx.ForEachRow(rows, []any{&partition, &offset}, func() error { stored[partition] = offset; return nil }); err != nil {
		t.Fatal(err)
	}
	partitions := 0
	ends.Each(func(end kadm.ListedOffset) {
		partitions++
		if got, ok := stored[end.Partition]; !ok || got != end.Offset {
			t.Errorf("wifiq_offsets stores offset %d (row present: %v) for partition %d, want the end offset %d", got, ok, end.Partition, end.Offset)
		}
	})
	if len(stored) != partitions {
		t.Errorf("wifiq_offsets has %d rows for table %s, want one per partition (%d)", len(stored), table, partitions)
	}
}

// commitReplyDropper is a TCP proxy to a PostgreSQL server that forwards
// the first simple-protocol COMMIT, discards the server's reply and closes
// the connection, so the client cannot tell whether the commit happened.
// It forwards everything else unchanged.
type commitReplyDropper struct {
	listener net.Listener
	server   string
	cut      atomic.Bool // the one reply has been dropped
}

func startCommitReplyDropper(t *testing.T, server string) *commitReplyDropper {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitReplyDropper{listener: l, server: server}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(client)
		}
	}()
	return p
}

func (p *commitReplyDropper) serve(client net.Conn) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.server, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	var commitSent atomic.Bool
	go p.forwardClient(client, server, &commitSent)
	buf := make([]byte, 64*1024)
	for {
		n, err := server.Read(buf)
		if err != nil {
			return
		}
		// The client waits for the reply to COMMIT before it sends more,
		// so the first read after the COMMIT holds that reply.
		if commitSent.Load() && p.cut.CompareAndSwap(false, true) {
			return
		}
		if _, err := client.Write(buf[:n]); err != nil {
			return
		}
	}
}

// forwardClient copies the client's messages to the server and sets
// commitSent before it forwards a Query message whose text is COMMIT.
// The first message, the startup message, has no type byte.
func (p *commitReplyDropper) forwardClient(client, server net.Conn, commitSent *atomic.Bool) {
	defer server.Close()
	reader := bufio.NewReader(client)
	typed := false
	for {
		var header []byte
		if typed {
			header = make([]byte, 5)
		} else {
			header = make([]byte, 4)
		}
		if _, err := io.ReadFull(reader, header); err != nil {
			return
		}
		length := binary.BigEndian.Uint32(header[len(header)-4:])
		if length < 4 || length > 1<<30 {
			return
		}
		body := make([]byte, length-4)
		if _, err := io.ReadFull(reader, body); err != nil {
			return
		}
		if typed && header[0] == 'Q' && strings.EqualFold(strings.TrimRight(string(body), "\x00"), "commit") && !p.cut.Load() {
			commitSent.Store(true)
		}
		typed = true
		if _, err := server.Write(append(header, body...)); err != nil {
			return
		}
	}
}

// TestSinkPostgresLostCommitReply loses the server's reply to the first
// batch's COMMIT, after the server has committed it. The sink retries the
// batch on a new connection, and must find its offsets already stored
// instead of inserting its rows a second time.
func TestSinkPostgresLostCommitReply(t *testing.T) {
	conn := requirePostgres(t)
	brokers := fakeKafka(t, 2, "probes")
	table := uniqueTable(t, conn, "lost_commit")
	lines, times := recordLines(30)
	produceValues(t, brokers, "probes", lines, times)

	proxy := startCommitReplyDropper(t, net.JoinHostPort(conn.Config().Host, strconv.Itoa(int(conn.Config().Port))))
	// The pgpass file names the server's port, so the sink gets the
	// password directly while it connects through the proxy's port.
	t.Setenv("PGPASSWORD", conn.Config().Password)
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", strconv.Itoa(proxy.listener.Addr().(*net.TCPAddr).Port))

	code, _, stderr := wifiqKafka(t, "", "sink", "postgres", "--table", table, "--from", "kafka:probes", "--brokers", brokers, "--retry-for", "1m")
	if code != ExitOK {
		t.Fatalf("sink: exit %d\n%s", code, stderr)
	}
	if !proxy.cut.Load() {
		t.Fatalf("the proxy saw no COMMIT, so no reply was lost:\n%s", stderr)
	}
	if !strings.Contains(stderr, "will retry") {
		t.Errorf("the sink logged no retry after the lost reply:\n%s", stderr)
	}

	var rows, distinct int
	err := conn.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT wlan_seq) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 30 {
		t.Errorf("%d rows, want 30: a committed batch was written again", rows)
	}
	if distinct != 30 {
		t.Errorf("%d distinct wlan_seq values, want 30", distinct)
	}
}
