package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/record"
)

// requireNeo4j skips the test unless the environment names a server, as
// `. /tmp/wifiq-servers/neo4j/env` after scripts/neo4j.sh start does;
// WIFIQ_REQUIRE_SERVERS=1 turns the skip into a failure.
func requireNeo4j(t *testing.T) driver.DriverWithContext {
	t.Helper()
	uri := os.Getenv("WIFIQ_NEO4J_URI")
	if uri == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") == "1" {
			t.Fatal("WIFIQ_NEO4J_URI is not set: run scripts/neo4j.sh start and source its env file")
		}
		t.Skip("WIFIQ_NEO4J_URI is not set: run scripts/neo4j.sh start and source /tmp/wifiq-servers/neo4j/env")
	}
	return connectNeo4j(t, uri, os.Getenv("NEO4J_PASSWORD"))
}

func connectNeo4j(t *testing.T, uri, password string) driver.DriverWithContext {
	t.Helper()
	d, err := driver.NewDriverWithContext(uri, driver.BasicAuth("neo4j", password, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// cypherRows runs a read query and returns its rows.
func cypherRows(t *testing.T, d driver.DriverWithContext, query string, params map[string]any) [][]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := driver.ExecuteQuery(ctx, d, query, params, driver.EagerResultTransformer)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	rows := make([][]any, len(res.Records))
	for i, r := range res.Records {
		rows[i] = r.Values
	}
	return rows
}

// clearProbesGraph deletes the probes graph and the stored offsets of the
// test server, so that each test checks only the nodes it wrote.
func clearProbesGraph(t *testing.T, d driver.DriverWithContext) {
	t.Helper()
	cypherRows(t, d, "MATCH (n) WHERE n:Device OR n:SSID OR n:WifiqOffset DETACH DELETE n", nil)
}

// probePair is the expected LOOKED_FOR_SSID relationship of one device
// and SSID.
type probePair struct {
	probes      int64
	first, last int64
}

// probeExpectation is the graph that a set of enriched probe requests
// should give, computed from the records without Neo4j.
type probeExpectation struct {
	devices map[string]map[string]any // mac to name, resolved, is_known
	pairs   map[string]probePair      // "mac|ssid"
}

func expectProbes(t *testing.T, lines []string) probeExpectation {
	t.Helper()
	want := probeExpectation{devices: map[string]map[string]any{}, pairs: map[string]probePair{}}
	latest := map[string]int64{}
	reader := record.NewReader(strings.NewReader(strings.Join(lines, "\n")), "test")
	for {
		rec, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("test input: %v", err)
		}
		rec = rec.Clone() // the reader reuses its buffer
		mac, _ := rec.First("wlan_sa")
		ssid, _ := rec.First("wlan_ssid")
		if seen, ok := latest[mac]; !ok || rec.Timestamp >= seen {
			latest[mac] = rec.Timestamp
			device := map[string]any{"is_known": false}
			if name, ok := rec.First("device_name"); ok {
				device["name"] = name
			}
			if resolved, ok := rec.First("wlan_sa_resolved"); ok {
				device["resolved"] = resolved
			}
			if known, _ := rec.First("is_known_device"); known == "true" {
				device["is_known"] = true
			}
			want.devices[mac] = device
		}
		if ssid == "" {
			continue
		}
		key := mac + "|" + ssid
		p, ok := want.pairs[key]
		if !ok {
			p = probePair{first: rec.Timestamp, last: rec.Timestamp}
		}
		p.probes++
		p.first, p.last = min(p.first, rec.Timestamp), max(p.last, rec.Timestamp)
		want.pairs[key] = p
	}
	return want
}

// checkProbesGraph compares the graph with the expectation, one check per
// node and relationship.
func checkProbesGraph(t *testing.T, d driver.DriverWithContext, want probeExpectation) {
	t.Helper()
	devices := cypherRows(t, d, "MATCH (n:Device) RETURN n.mac, n.name, n.resolved, n.is_known", nil)
	if len(devices) != len(want.devices) {
		t.Errorf("%d Device nodes, want %d", len(devices), len(want.devices))
	}
	for _, row := range devices {
		w, ok := want.devices[row[0].(string)]
		if !ok {
			t.Errorf("unexpected Device %v", row[0])
			continue
		}
		if row[1] != w["name"] || row[2] != w["resolved"] || row[3] != w["is_known"] {
			t.Errorf("Device %v: name %v, resolved %v, is_known %v; want %v, %v, %v", row[0], row[1], row[2], row[3], w["name"], w["resolved"], w["is_known"])
		}
	}
	ssids := map[string]bool{}
	for key := range want.pairs {
		ssids[key[strings.Index(key, "|")+1:]] = true
	}
	if got := cypherRows(t, d, "MATCH (s:SSID) RETURN count(s)", nil)[0][0].(int64); got != int64(len(ssids)) {
		t.Errorf("%d SSID nodes, want %d", got, len(ssids))
	}
	rels := cypherRows(t, d, `MATCH (d:Device)-[r:LOOKED_FOR_SSID]->(s:SSID)
		RETURN d.mac + '|' + s.name, r.probes, r.first_seen.epochMillis, r.last_seen.epochMillis`, nil)
	if len(rels) != len(want.pairs) {
		t.Errorf("%d LOOKED_FOR_SSID relationships, want %d", len(rels), len(want.pairs))
	}
	for _, row := range rels {
		key := row[0].(string)
		w, ok := want.pairs[key]
		if !ok {
			t.Errorf("unexpected relationship %s", key)
			continue
		}
		if got := (probePair{row[1].(int64), row[2].(int64), row[3].(int64)}); got != w {
			t.Errorf("relationship %s: probes %d, first %d, last %d; want %d, %d, %d", key, got.probes, got.first, got.last, w.probes, w.first, w.last)
		}
	}
}

// enrichedProbes decodes bundled captures and joins their probe requests
// to the bundled device list.
func enrichedProbes(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, name := range []string{"aircrack-ng__n-02.cap", "aircrack-ng__test1.pcap", "aircrack-ng__wpa2-psk-linksys.cap"} {
		raw := invokeCLI(t, nil, "replay-pcap", "-q", kafkaTestCaptures+name)
		if raw.code != ExitOK {
			t.Fatalf("replay-pcap %s: exit %d\n%s", name, raw.code, raw.stderr)
		}
		enriched := invokeCLI(t, strings.NewReader(raw.stdout), "enrich", "--devices", "../testdata/devices/devices.csv")
		if enriched.code != ExitOK {
			t.Fatalf("enrich %s: exit %d\n%s", name, enriched.code, enriched.stderr)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(enriched.stdout), "\n")...)
	}
	return lines
}

func TestSinkNeo4jProbesGraph(t *testing.T) {
	d := requireNeo4j(t)
	clearProbesGraph(t, d)
	lines := enrichedProbes(t)
	want := expectProbes(t, lines)
	if len(want.pairs) < 5 || len(want.devices) < 5 {
		t.Fatalf("test input too small: %d devices, %d pairs", len(want.devices), len(want.pairs))
	}
	input := strings.Join(lines, "\n") + "\n"

	for run := 1; run <= 2; run++ {
		// Small batches so that one device's probe requests span several.
		res := invokeSinkCLI(t, input, "sink", "neo4j", "--graph", "probes", "--batch-size", "7")
		if res.code != ExitOK {
			t.Fatalf("run %d: exit %d\n%s", run, res.code, res.stderr)
		}
		if !strings.Contains(res.stderr, fmt.Sprintf("neo4j: %d records written", len(lines))) {
			t.Errorf("run %d: stderr does not report %d records written:\n%s", run, len(lines), res.stderr)
		}
		checkProbesGraph(t, d, want)
	}
	constraints := cypherRows(t, d, "SHOW CONSTRAINTS YIELD labelsOrTypes, properties RETURN labelsOrTypes[0] + '.' + properties[0]", nil)
	var names []string
	for _, row := range constraints {
		names = append(names, row[0].(string))
	}
	for _, want := range []string{"Device.mac", "SSID.name"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("constraints %v, want one on %s", names, want)
		}
	}
}

func TestSinkNeo4jRejectedToDeadLetter(t *testing.T) {
	d := requireNeo4j(t)
	label := fmt.Sprintf("TestFrame%d", time.Now().UnixNano())
	cypherRows(t, d, "CREATE CONSTRAINT "+label+"_seq FOR (n:"+label+") REQUIRE n.seq IS UNIQUE", nil)
	t.Cleanup(func() {
		cypherRows(t, d, "MATCH (n:"+label+") DELETE n", nil)
		cypherRows(t, d, "DROP CONSTRAINT "+label+"_seq IF EXISTS", nil)
	})

	// Record 3 repeats the key of record 1 (a constraint violation) and
	// record 5 divides by zero (an arithmetic error).
	values := []string{"1", "2", "1", "4", "0", "6"}
	var input strings.Builder
	for i, v := range values {
		fmt.Fprintf(&input, `{"timestamp":"%d","wlan_seq":["%s"]}`+"\n", 1714564800000+int64(i), v)
	}
	input.WriteString("not a record\n")
	deadLetter := filepath.Join(t.TempDir(), "rejected.jsonl")
	template := "CREATE (:" + label + " {seq: toInteger(event.wlan_seq[0]), inverse: 1 / toInteger(event.wlan_seq[0])})"
	res := invokeSinkCLI(t, input.String(), "sink", "neo4j", "--cypher", template, "--dead-letter", deadLetter)
	if res.code != ExitPartial {
		t.Fatalf("exit %d, want %d (records rejected)\n%s", res.code, ExitPartial, res.stderr)
	}
	rows := cypherRows(t, d, "MATCH (n:"+label+") RETURN n.seq ORDER BY n.seq", nil)
	var seqs []string
	for _, r := range rows {
		seqs = append(seqs, strconv.FormatInt(r[0].(int64), 10))
	}
	if got := strings.Join(seqs, ","); got != "1,2,4,6" {
		t.Errorf("nodes with seq %s, want 1,2,4,6", got)
	}
	dead, err := os.ReadFile(deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	deadLines := strings.Split(strings.TrimSpace(string(dead)), "\n")
	if len(deadLines) != 2 {
		t.Fatalf("dead letter has %d lines, want 2 (the duplicate and the division by zero):\n%s", len(deadLines), dead)
	}
	if !strings.Contains(deadLines[0], "ConstraintValidationFailed") || !strings.Contains(deadLines[0], `"wlan_seq":["1"]`) {
		t.Errorf("first dead letter %s, want the duplicate with the constraint error", deadLines[0])
	}
	if !strings.Contains(deadLines[1], "ArithmeticError") || !strings.Contains(deadLines[1], `"wlan_seq":["0"]`) {
		t.Errorf("second dead letter %s, want the record with 0 and the arithmetic error", deadLines[1])
	}
	if !strings.Contains(res.stderr, "skipped a line that is not a record") {
		t.Errorf("stderr does not report the skipped line:\n%s", res.stderr)
	}
}

func TestSinkNeo4jInvalidTemplate(t *testing.T) {
	requireNeo4j(t)
	res := invokeSinkCLI(t, "", "sink", "neo4j", "--cypher", "MERGE (d:Device {mac: event.wlan_sa[0]", "--retry-for", "5s")
	if res.code == ExitOK {
		t.Fatal("exit 0 for a template with a syntax error")
	}
	if !strings.Contains(res.stderr, "invalid --cypher template") {
		t.Errorf("stderr does not name the template:\n%s", res.stderr)
	}
}

func TestSinkNeo4jFlagErrors(t *testing.T) {
	cases := map[string][]string{
		"give exactly one of":       {"sink", "neo4j"},
		"invalid --graph":           {"sink", "neo4j", "--graph", "beacons"},
		"contains user information": {"sink", "neo4j", "--graph", "probes", "--uri", "bolt://neo4j:pw@127.0.0.1:7687"},
		"invalid --batch-size 0":    {"sink", "neo4j", "--graph", "probes", "--batch-size", "0"},
	}
	for want, args := range cases {
		res := invokeSinkCLI(t, "", args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", args, res.code, res.stderr, ExitUsage, want)
		}
	}
}

// ownNeo4j is a Neo4j server that scripts/neo4j.sh runs for one test.
type ownNeo4j struct {
	env      []string
	uri      string
	password string
}

// startOwnNeo4j starts a server in a temporary state directory on a free
// port and stops it when the test ends.
func startOwnNeo4j(t *testing.T) *ownNeo4j {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Neo4j server of its own; skipped with -short")
	}
	state := t.TempDir()
	port := freePortBlock(t)
	s := &ownNeo4j{env: append(os.Environ(), "WIFIQ_STATE="+state, "WIFIQ_NEO4J_BOLT_PORT="+strconv.Itoa(port))}
	s.run(t, "start")
	t.Cleanup(func() { s.run(t, "stop") })
	password, err := os.ReadFile(filepath.Join(state, "neo4j", "password"))
	if err != nil {
		t.Fatal(err)
	}
	s.uri = fmt.Sprintf("bolt://127.0.0.1:%d", port)
	s.password = strings.TrimSpace(string(password))
	return s
}

func (s *ownNeo4j) run(t *testing.T, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../scripts/neo4j.sh", command)
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/neo4j.sh %s: %v\n%s", command, err, out)
	}
}

// syntheticProbes returns n enriched probe request lines: 40 devices,
// each probing for 5 SSIDs, one millisecond apart.
func syntheticProbes(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", (i%40)/256, i%40)
		lines[i] = fmt.Sprintf(`{"timestamp":"%d","wlan_sa":["%s"],"device_name":["dev%d"],"is_known_device":["true"],"wlan_sa_resolved":["%s"],"wlan_ssid":["net%d"]}`,
			1714564800000+int64(i), mac, i%40, mac, (i/40)%5)
	}
	return lines
}

// sumProbes returns the total of r.probes in the graph, or -1 when the
// server does not answer.
func sumProbes(d driver.DriverWithContext) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := driver.ExecuteQuery(ctx, d, "MATCH ()-[r:LOOKED_FOR_SSID]->() RETURN coalesce(sum(r.probes), 0)", nil, driver.EagerResultTransformer)
	if err != nil || len(res.Records) == 0 {
		return -1
	}
	return res.Records[0].Values[0].(int64)
}

func TestSinkNeo4jSurvivesRestartAndKill(t *testing.T) {
	brokers := realKafka(t)
	server := startOwnNeo4j(t)
	d := connectNeo4j(t, server.uri, server.password)
	topic := fmt.Sprintf("neo4j-reliability-%d", time.Now().UnixNano())
	group := topic + "-group"
	admin, closeAdmin := newAdmin(t, brokers)
	defer closeAdmin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.DeleteTopics(context.Background(), topic) })

	lines := syntheticProbes(3000)
	timestamps := make([]int64, len(lines))
	for i := range timestamps {
		timestamps[i] = 1714564800000 + int64(i)
	}
	// Each device's records go to one partition, so they stay in time order.
	produce := func(from, to int) {
		t.Helper()
		for partition := range int32(2) {
			var values []string
			var times []int64
			for i := from; i < to; i++ {
				if int32((i%40)%2) == partition {
					values = append(values, lines[i])
					times = append(times, timestamps[i])
				}
			}
			producePartition(t, brokers, topic, partition, values, times)
		}
	}
	startSink := func(follow bool) (*exec.Cmd, *lockedBuffer) {
		t.Helper()
		args := []string{"sink", "neo4j", "--graph", "probes", "--uri", server.uri, "--from", "kafka:" + topic,
			"--group", group, "--brokers", brokers, "--batch-size", "50", "--retry-for", "5m", "-X", "session.timeout.ms=6000"}
		if follow {
			args = append(args, "--follow")
		}
		cmd := wifiqCommand(t, ctx, args...)
		cmd.Env = append(withoutNeo4jEnv(cmd.Env), "NEO4J_PASSWORD="+server.password)
		stderr := &lockedBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, stderr
	}
	waitFor := func(what string, check func() bool) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for !check() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Phase 1: the sink follows the topic; the server stops mid-stream.
	produce(0, 1000)
	sink, stderr := startSink(true)
	waitFor("the first records in the graph", func() bool { return sumProbes(d) > 0 })
	server.run(t, "stop")
	produce(1000, 2000)
	waitFor("the sink to retry", func() bool { return strings.Contains(stderr.String(), "Neo4j unreachable, will retry") })
	server.run(t, "start")
	waitFor("2000 probe requests in the graph", func() bool { return sumProbes(d) == 2000 })

	// Phase 2: SIGKILL while the sink writes the last third.
	produce(2000, 3000)
	waitFor("the sink to write past 2000", func() bool { return sumProbes(d) > 2000 })
	if err := sink.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sink.Wait()
	t.Logf("killed the sink with %d probe requests in the graph", sumProbes(d))

	// Phase 3: the same group reads to the end of the topic.
	rerun, rerunErr := startSink(false)
	if err := rerun.Wait(); err != nil {
		t.Fatalf("sink after the kill: %v\n%s", err, lastLines(rerunErr.String(), 30))
	}
	checkProbesGraph(t, d, expectProbes(t, lines))
	if t.Failed() {
		t.Logf("first sink's log:\n%s", lastLines(stderr.String(), 30))
	}
}

// producePartition writes values to one partition of topic.
func producePartition(t *testing.T, brokers, topic string, partition int32, values []string, timestamps []int64) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Value: []byte(v), Partition: partition, Timestamp: time.UnixMilli(timestamps[i])}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func withoutNeo4jEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WIFIQ_NEO4J_") && !strings.HasPrefix(kv, "NEO4J_") {
			out = append(out, kv)
		}
	}
	return out
}
