package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// opensearchScript is scripts/opensearch.sh, relative to this package.
const opensearchScript = "../scripts/opensearch.sh"

// requireOpenSearch returns the URL of the server that scripts/opensearch.sh
// runs, or skips the test when WIFIQ_OPENSEARCH_URL is unset (source
// /tmp/wifiq-servers/opensearch/env); WIFIQ_REQUIRE_SERVERS=1 turns the
// skip into a failure.
func requireOpenSearch(t *testing.T) string {
	t.Helper()
	url := os.Getenv("WIFIQ_OPENSEARCH_URL")
	if url == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") == "1" {
			t.Fatal("WIFIQ_OPENSEARCH_URL is not set: run scripts/opensearch.sh start and source its env file")
		}
		t.Skip("WIFIQ_OPENSEARCH_URL is not set: run scripts/opensearch.sh start and source its env file")
	}
	return url
}

// uniqueIndex returns an index name no other run uses and deletes the
// index and its template at the end of the test.
func uniqueIndex(t *testing.T, url, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	t.Cleanup(func() {
		searchRequest(t, http.MethodDelete, url+"/"+name, "", nil)
		searchRequest(t, http.MethodDelete, url+"/_index_template/wifiq-"+name, "", nil)
	})
	return name
}

// searchRequest sends one request and decodes the JSON response into out
// (if not nil). It returns the HTTP status.
func searchRequest(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: invalid JSON response %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

// documentCount refreshes the index and returns its number of documents,
// or -1 when the server does not respond.
func documentCount(t *testing.T, url, index string) int64 {
	t.Helper()
	searchRequest(t, http.MethodPost, url+"/"+index+"/_refresh", "", nil)
	var resp struct {
		Count *int64 `json:"count"`
	}
	if status := searchRequest(t, http.MethodGet, url+"/"+index+"/_count", "", &resp); status != http.StatusOK || resp.Count == nil {
		return -1
	}
	return *resp.Count
}

func TestSinkElasticsearchCaptureDocuments(t *testing.T) {
	url := requireOpenSearch(t)
	records := invokeCLI(t, nil, "replay-pcap", "-q", corpusDir+"aircrack-ng__n-02.cap")
	if records.code != ExitOK {
		t.Fatalf("replay-pcap: exit %d: %s", records.code, records.stderr)
	}
	index := uniqueIndex(t, url, "frames")

	res := invokeSinkCLI(t, records.stdout, "sink", "elasticsearch", "--url", url, "--index", index, "--template")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}

	lines := strings.Split(strings.TrimSpace(records.stdout), "\n")
	if got := documentCount(t, url, index); got != int64(len(lines)) {
		t.Errorf("documents = %d, want %d (one per record)", got, len(lines))
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("%d documents written to index %s", len(lines), index)) {
		t.Errorf("summary does not report %d documents: %s", len(lines), res.stderr)
	}

	// The template maps the timestamp as a date in milliseconds.
	var mapping map[string]struct {
		Mappings struct {
			Properties map[string]map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	searchRequest(t, http.MethodGet, url+"/"+index+"/_mapping", "", &mapping)
	ts := mapping[index].Mappings.Properties["timestamp"]
	if ts["type"] != "date" || ts["format"] != "epoch_millis||strict_date_optional_time" {
		t.Errorf("mapping of timestamp = %v, want date with format epoch_millis||strict_date_optional_time", ts)
	}

	// The first record's fields are stored as they were.
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	query := fmt.Sprintf(`{"query":{"term":{"timestamp":%q}},"size":10}`, first["timestamp"])
	var hits struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	searchRequest(t, http.MethodPost, url+"/"+index+"/_search", query, &hits)
	if len(hits.Hits.Hits) == 0 {
		t.Fatalf("no document with timestamp %v", first["timestamp"])
	}
	found := false
	for _, hit := range hits.Hits.Hits {
		if fmt.Sprint(hit.Source) == fmt.Sprint(first) {
			found = true
		}
	}
	if !found {
		t.Errorf("no document with timestamp %v equals the record %s; got %v", first["timestamp"], lines[0], hits.Hits.Hits[0].Source)
	}
}

func TestSinkElasticsearchUpsertNoDuplicates(t *testing.T) {
	url := requireOpenSearch(t)
	index := uniqueIndex(t, url, "upsert")
	var input bytes.Buffer
	base := time.Now().Add(-time.Hour).UnixMilli()
	if err := writeSequenceRecords(&input, base, 0, 500); err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		res := invokeSinkCLI(t, input.String(), "sink", "elasticsearch", "--url", url, "--index", index, "--id-fields", "wlan_seq", "--batch-size", "128")
		if res.code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", run, res.code, res.stderr)
		}
	}
	if got := documentCount(t, url, index); got != 500 {
		t.Errorf("documents after two runs = %d, want 500", got)
	}
	var doc struct {
		Version int            `json:"_version"`
		Source  map[string]any `json:"_source"`
	}
	searchRequest(t, http.MethodGet, url+"/"+index+"/_doc/42", "", &doc)
	if got := fmt.Sprint(doc.Source["wlan_seq"]); got != "[42]" {
		t.Errorf("document 42 has wlan_seq %v, want [42]", got)
	}
	if doc.Version != 2 {
		t.Errorf("document 42 has version %d, want 2 (written once by each run)", doc.Version)
	}
}

func TestSinkElasticsearchDeadLetter(t *testing.T) {
	url := requireOpenSearch(t)
	index := uniqueIndex(t, url, "dead")
	deadLetter := filepath.Join(t.TempDir(), "rejected.jsonl")
	input := `{"timestamp":"1700000000001","first_TS":["1700000000000"],"wlan_sa":["02:00:00:00:00:01"]}
{"timestamp":"1700000000002","first_TS":["yesterday"],"wlan_sa":["02:00:00:00:00:02"]}
{"timestamp":"1700000000003","first_TS":["1700000000100"],"wlan_sa":["02:00:00:00:00:03"]}
`
	res := invokeSinkCLI(t, input, "sink", "elasticsearch", "--url", url, "--index", index, "--template", "--dead-letter", deadLetter)
	if res.code != ExitPartial {
		t.Fatalf("exit %d, want %d (records rejected): %s", res.code, ExitPartial, res.stderr)
	}
	if got := documentCount(t, url, index); got != 2 {
		t.Errorf("documents = %d, want 2 (the good neighbours of the bad record)", got)
	}
	data, err := os.ReadFile(deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Reason string          `json:"reason"`
		Status int             `json:"status"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &line); err != nil {
		t.Fatalf("dead-letter file %q: %v", data, err)
	}
	if !strings.Contains(line.Reason, "mapper_parsing_exception") || line.Status != 400 {
		t.Errorf("dead letter reason %q status %d, want a mapper_parsing_exception with status 400", line.Reason, line.Status)
	}
	if !strings.Contains(string(line.Record), "yesterday") {
		t.Errorf("dead letter record = %s, want the rejected record", line.Record)
	}
}

func TestSinkElasticsearchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sink", "elasticsearch", "-"}, "missing --index"},
		{[]string{"sink", "elasticsearch", "--index", "Frames", "-"}, "lower case"},
		{[]string{"sink", "elasticsearch", "--index", "f", "--url", "http://u:pw@127.0.0.1:9200", "-"}, "ELASTICSEARCH_USERNAME"},
		{[]string{"sink", "elasticsearch", "--index", "f", "--timestamp-fields", "a", "-"}, "--template"},
		{[]string{"sink", "elasticsearch", "--index", "f", "--ignore-key", "-"}, "--from"},
	} {
		res := invokeSinkCLI(t, "", tc.args...)
		if res.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", tc.args, res.code, ExitUsage)
		}
		if !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: stderr %q does not mention %q", tc.args, res.stderr, tc.want)
		}
		if strings.Contains(res.stderr, "pw@") {
			t.Errorf("%v: stderr shows the password: %s", tc.args, res.stderr)
		}
	}
}

// ownOpenSearch is a server that scripts/opensearch.sh runs for one test.
type ownOpenSearch struct {
	env []string
	url string
}

// firstOwnOpenSearchPort is the first HTTP port tried for a test's own
// server; the transport port is the next one.
const firstOwnOpenSearchPort = 29200

// startOwnOpenSearch starts a server in a temporary state directory on
// free ports and stops it when the test ends.
func startOwnOpenSearch(t *testing.T) *ownOpenSearch {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an OpenSearch server of its own; skipped with -short")
	}
	requireOpenSearch(t)
	port := 0
	for p := firstOwnOpenSearchPort; p < firstOwnOpenSearchPort+1000; p += 10 {
		if portsFree(p, 2) {
			port = p
			break
		}
	}
	if port == 0 {
		t.Fatalf("no 2 free ports on 127.0.0.1 from %d", firstOwnOpenSearchPort)
	}
	s := &ownOpenSearch{url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "WIFIQ_STATE", "WIFIQ_OPENSEARCH_PORT", "WIFIQ_OPENSEARCH_TRANSPORT_PORT":
			continue
		}
		s.env = append(s.env, kv)
	}
	s.env = append(s.env, "WIFIQ_STATE="+t.TempDir(),
		"WIFIQ_OPENSEARCH_PORT="+strconv.Itoa(port), "WIFIQ_OPENSEARCH_TRANSPORT_PORT="+strconv.Itoa(port+1),
		"WIFIQ_OPENSEARCH_HEAP_OPTS=-Xms256m -Xmx512m")
	t.Cleanup(func() { s.run(t, "stop") })
	s.run(t, "start")
	return s
}

func (s *ownOpenSearch) run(t *testing.T, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensearchScript, command)
	cmd.Env = s.env
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/opensearch.sh %s for %s: %v\n%s", command, s.url, err, out)
	}
}

// produceSequence sends records from to to-1 of a test sequence to topic
// on the shared broker.
func produceSequence(t *testing.T, ctx context.Context, brokers, topic string, base int64, from, to int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "records.jsonl")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSequenceRecords(f, base, from, to); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := wifiqCommand(t, ctx, "produce", "--topic", topic, "--create-topic", "--partitions", "3", "--brokers", brokers, file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wifiq produce: %v\n%s", err, out)
	}
}

// waitForCount waits until the index has at least want documents.
func waitForCount(t *testing.T, url, index string, want int64, done <-chan struct{}) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("index %s has %d documents", index, want), done, func() bool {
		return documentCount(t, url, index) >= want
	})
}

func TestSinkElasticsearchSurvivesServerRestart(t *testing.T) {
	server := startOwnOpenSearch(t)
	brokers := realKafka(t)
	const total, first = 20_000, 10_000
	topic := fmt.Sprintf("es-restart-%d", time.Now().UnixNano())
	index := "restart"
	base := time.Now().Add(-time.Hour).UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()

	produceSequence(t, ctx, brokers, topic, base, 0, first)
	sink := wifiqCommand(t, ctx, "sink", "elasticsearch", "--url", server.url, "--index", index,
		"--from", "kafka:"+topic, "--brokers", brokers, "--group", topic+"-group", "--follow",
		"--id-fields", "wlan_seq", "--batch-size", "1000")
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
	}()

	waitForCount(t, server.url, index, first, done)
	server.run(t, "stop")
	// Records that arrive while the server is down wait in the sink's
	// retry loop.
	produceSequence(t, ctx, brokers, topic, base, first, total)
	time.Sleep(3 * time.Second)
	server.run(t, "start")
	waitForCount(t, server.url, index, total, done)

	if err := sink.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-done
	if sinkErr != nil {
		t.Errorf("sink ended with %v after SIGINT, want exit 0\n%s", sinkErr, lastLines(stderr.String(), 20))
	}
	if got := documentCount(t, server.url, index); got != total {
		t.Errorf("documents = %d, want %d", got, total)
	}
	if !strings.Contains(stderr.String(), "will retry") {
		t.Errorf("the sink logged no retry while the server was down:\n%s", lastLines(stderr.String(), 20))
	}
}

func TestSinkElasticsearchResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 documents; skipped with -short")
	}
	url := requireOpenSearch(t)
	brokers := realKafka(t)
	const total = 100_000
	topic := fmt.Sprintf("es-kill-%d", time.Now().UnixNano())
	group := topic + "-group"
	index := uniqueIndex(t, url, "kill")
	base := time.Now().Add(-time.Hour).UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), reliabilityTimeout)
	defer cancel()
	// The first run follows the topic, commits every 200 ms and is killed
	// at its first committed offsets, while it still writes: a bounded run
	// could end before its first commit. The rest of the records arrive
	// after the kill.
	produced := total / 2
	produceSequence(t, ctx, brokers, topic, base, 0, produced)

	args := []string{"sink", "elasticsearch", "--url", url, "--index", index, "--from", "kafka:" + topic,
		"--brokers", brokers, "--group", group, "--id-fields", "wlan_seq", "--batch-size", "500",
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "-X", "auto.commit.interval.ms=200"}
	first := wifiqCommand(t, ctx, append(args, "--follow")...)
	var firstStderr lockedBuffer
	first.Stderr = &firstStderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var firstErr error
	go func() { firstErr = first.Wait(); close(done) }()

	admin, closeAdmin := newAdmin(t, brokers)
	defer closeAdmin()
	waitUntil(t, "group "+group+" has committed offsets", done, func() bool {
		n, err := committedCount(ctx, admin, group, topic)
		return err == nil && n > 0
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
	committed, err := committedCount(ctx, admin, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	before := documentCount(t, url, index)
	if committed >= int64(produced) {
		t.Errorf("group committed %d offsets before the kill, want fewer than the %d records produced: the kill came after the end", committed, produced)
	}
	produceSequence(t, ctx, brokers, topic, base, produced, total)
	if before < committed {
		t.Errorf("index has %d documents but the group committed %d offsets: committed records were not written", before, committed)
	}

	second := wifiqCommand(t, ctx, args...)
	var secondStderr bytes.Buffer
	second.Stderr = &secondStderr
	if err := second.Run(); err != nil {
		t.Fatalf("second run: %v\n%s", err, secondStderr.String())
	}
	t.Logf("killed after %d committed offsets and %d documents; second run: %s", committed, before, lastLines(secondStderr.String(), 1))
	if got := documentCount(t, url, index); got != total {
		t.Errorf("documents = %d, want %d", got, total)
	}
	if after, err := committedCount(ctx, admin, group, topic); err != nil || after != total {
		t.Errorf("committed offsets after the second run = %d (%v), want %d", after, err, total)
	}
}
