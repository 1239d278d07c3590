package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wifiq/wifiq/record"
)

// fakeServer serves GET / and bulk requests; bulk decides the status of
// each item (by document number within the request) or of the request.
type fakeServer struct {
	mu       sync.Mutex
	requests int
	// handle returns the HTTP status of the whole request (0 for 200) and
	// the status of each item.
	handle func(request int, docs []map[string]any) (int, []int)
	bodies [][]map[string]any
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		fmt.Fprint(w, `{"version":{"number":"2.19.6"}}`)
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("refresh") != "false" {
		http.Error(w, `{"error":"want refresh=false"}`, http.StatusBadRequest)
		return
	}
	var docs []map[string]any
	scanner := bufio.NewScanner(r.Body)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &action); err != nil || action["index"] == nil {
			http.Error(w, `{"error":"bad action line"}`, http.StatusBadRequest)
			return
		}
		if !scanner.Scan() {
			http.Error(w, `{"error":"missing source"}`, http.StatusBadRequest)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &doc); err != nil {
			http.Error(w, `{"error":"bad source"}`, http.StatusBadRequest)
			return
		}
		doc["_id"] = action["index"]["_id"]
		docs = append(docs, doc)
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.bodies = append(f.bodies, docs)
	f.mu.Unlock()

	status, itemStatuses := f.handle(n, docs)
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"type":"test_exception","reason":"status %d"},"status":%d}`, status, status)
		return
	}
	var items []string
	for i, st := range itemStatuses {
		if st < 300 {
			items = append(items, fmt.Sprintf(`{"index":{"_index":"t","_id":"%d","status":%d,"result":"created"}}`, i, st))
			continue
		}
		items = append(items, fmt.Sprintf(`{"index":{"_index":"t","_id":"%d","status":%d,"error":{"type":"mapper_parsing_exception","reason":"item %d failed","caused_by":{"type":"illegal_argument_exception","reason":"bad value"}}}}`, i, st, i))
	}
	fmt.Fprintf(w, `{"took":1,"errors":true,"items":[%s]}`, strings.Join(items, ","))
}

func (f *fakeServer) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func openFake(t *testing.T, f *fakeServer, opts Options) *Sink {
	t.Helper()
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	if opts.Index == "" {
		opts.Index = "t"
	}
	s, err := Open(context.Background(), Connection{URL: server.URL}, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s.sleep = func(context.Context, time.Duration) error { return nil }
	return s
}

func testRecord(i int) *record.Record {
	return &record.Record{
		Timestamp: 1700000000000 + int64(i),
		Fields: []record.Field{
			{Key: "wlan_sa", Values: []string{fmt.Sprintf("02:00:00:00:00:%02x", i)}},
			{Key: "wlan_seq", Values: []string{fmt.Sprint(i)}},
		},
	}
}

func statuses(n int, fn func(i int) int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = fn(i)
	}
	return out
}

func readDeadLetters(t *testing.T, b *bytes.Buffer) []deadLetter {
	t.Helper()
	var lines []deadLetter
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var dl deadLetter
		if err := json.Unmarshal([]byte(line), &dl); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		lines = append(lines, dl)
	}
	return lines
}

func TestFlushDeadLettersRejectedItems(t *testing.T) {
	f := &fakeServer{handle: func(_ int, docs []map[string]any) (int, []int) {
		return 0, statuses(len(docs), func(i int) int {
			if i == 1 {
				return 400
			}
			return 201
		})
	}}
	var dead bytes.Buffer
	s := openFake(t, f, Options{DeadLetter: &dead})
	for i := range 3 {
		s.Add(testRecord(i), nil, &Position{Topic: "frames", Partition: 0, Offset: int64(i)})
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	counts := s.Counts()
	if counts.Written != 2 {
		t.Errorf("written = %d, want 2", counts.Written)
	}
	if counts.Rejected != 1 {
		t.Errorf("rejected = %d, want 1", counts.Rejected)
	}
	letters := readDeadLetters(t, &dead)
	if len(letters) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(letters))
	}
	dl := letters[0]
	if !strings.Contains(dl.Reason, "mapper_parsing_exception") || !strings.Contains(dl.Reason, "bad value") {
		t.Errorf("reason = %q, want the error type and its cause", dl.Reason)
	}
	if dl.Status != 400 {
		t.Errorf("status = %d, want 400", dl.Status)
	}
	if dl.Offset == nil || *dl.Offset != 1 || dl.Topic != "frames" {
		t.Errorf("position = %s/%v, want frames offset 1", dl.Topic, dl.Offset)
	}
	if !strings.Contains(string(dl.Record), `"wlan_seq":["1"]`) {
		t.Errorf("record = %s, want the rejected record", dl.Record)
	}
	if s.Pending() != 0 {
		t.Errorf("pending = %d after a successful flush, want 0", s.Pending())
	}
}

func TestFlushRetriesTooManyRequestsItems(t *testing.T) {
	f := &fakeServer{handle: func(n int, docs []map[string]any) (int, []int) {
		// The first request gets 429 for every even document and 503 for
		// document 1; later requests succeed.
		return 0, statuses(len(docs), func(i int) int {
			switch {
			case n == 1 && i%2 == 0:
				return 429
			case n == 1 && i == 1:
				return 503
			}
			return 201
		})
	}}
	var dead bytes.Buffer
	s := openFake(t, f, Options{DeadLetter: &dead, IDFields: []string{"wlan_seq"}})
	for i := range 5 {
		s.Add(testRecord(i), nil, nil)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.requestCount(); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
	var resent []string
	for _, doc := range f.bodies[1] {
		resent = append(resent, doc["_id"].(string))
	}
	if got := strings.Join(resent, ","); got != "0,1,2,4" {
		t.Errorf("second request ids = %s, want 0,1,2,4 (the 429 and 503 items)", got)
	}
	if c := s.Counts(); c.Written != 5 || c.Rejected != 0 || c.Retries != 1 {
		t.Errorf("counts = %+v, want 5 written, 0 rejected, 1 retry", c)
	}
	if dead.Len() != 0 {
		t.Errorf("dead letters written for retried items: %s", dead.String())
	}
}

func TestFlushRetriesWholeRequest(t *testing.T) {
	f := &fakeServer{handle: func(n int, docs []map[string]any) (int, []int) {
		if n <= 2 {
			return []int{503, 429}[n-1], nil
		}
		return 0, statuses(len(docs), func(int) int { return 201 })
	}}
	s := openFake(t, f, Options{})
	for i := range 4 {
		s.Add(testRecord(i), nil, nil)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.requestCount(); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	if c := s.Counts(); c.Written != 4 || c.Retries != 2 {
		t.Errorf("counts = %+v, want 4 written after 2 retries", c)
	}
}

func TestFlushGivesUpAfterRetryFor(t *testing.T) {
	f := &fakeServer{handle: func(int, []map[string]any) (int, []int) { return 503, nil }}
	s := openFake(t, f, Options{RetryFor: 2 * time.Second})
	s.Add(testRecord(0), nil, nil)
	err := s.Flush(context.Background())
	if err == nil {
		t.Fatal("Flush returned nil while every request failed with 503")
	}
	if !strings.Contains(err.Error(), "after retrying for 2s") || !strings.Contains(err.Error(), "503") {
		t.Errorf("error = %q, want the retry time and the status", err)
	}
	if s.Pending() != 1 {
		t.Errorf("pending = %d after a failed flush, want 1 (nothing lost)", s.Pending())
	}
}

func TestFlushStopsOnUnauthorized(t *testing.T) {
	f := &fakeServer{handle: func(int, []map[string]any) (int, []int) { return 401, nil }}
	s := openFake(t, f, Options{})
	s.Add(testRecord(0), nil, nil)
	err := s.Flush(context.Background())
	if err == nil {
		t.Fatal("Flush returned nil for a 401 response")
	}
	if got := f.requestCount(); got != 1 {
		t.Errorf("requests = %d, want 1: a 401 is not retried", got)
	}
	if !strings.Contains(err.Error(), EnvUsername) {
		t.Errorf("error = %q, want a hint about the credentials", err)
	}
}

func TestFlushStopsOnIndexNotFoundItem(t *testing.T) {
	f := &fakeServer{handle: func(_ int, docs []map[string]any) (int, []int) {
		return 0, statuses(len(docs), func(int) int { return 404 })
	}}
	var dead bytes.Buffer
	s := openFake(t, f, Options{DeadLetter: &dead})
	s.Add(testRecord(0), nil, nil)
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush returned nil when the index was not found")
	}
	if dead.Len() != 0 {
		t.Errorf("a 404 item went to the dead letter: %s", dead.String())
	}
}

func TestFlushRejectsMissingIDField(t *testing.T) {
	f := &fakeServer{handle: func(_ int, docs []map[string]any) (int, []int) {
		return 0, statuses(len(docs), func(int) int { return 201 })
	}}
	var dead bytes.Buffer
	s := openFake(t, f, Options{DeadLetter: &dead, IDFields: []string{"wlan_sa", "wlan_bssid"}})
	rec := testRecord(0)
	s.Add(rec, nil, nil)
	rec.Set("wlan_bssid", "02:00:00:00:00:aa")
	s.Add(rec, nil, nil)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 1 || len(f.bodies[0]) != 1 {
		t.Fatalf("bodies = %v, want one request with one document", f.bodies)
	}
	if id := f.bodies[0][0]["_id"]; id != "02:00:00:00:00:00|02:00:00:00:00:aa" {
		t.Errorf("id = %v, want the two field values joined by |", id)
	}
	letters := readDeadLetters(t, &dead)
	if len(letters) != 1 || letters[0].Reason != "missing id field wlan_bssid" {
		t.Errorf("dead letters = %+v, want one for the missing field", letters)
	}
}

func TestFlushSplitsLargeBatches(t *testing.T) {
	f := &fakeServer{handle: func(_ int, docs []map[string]any) (int, []int) {
		return 0, statuses(len(docs), func(int) int { return 201 })
	}}
	s := openFake(t, f, Options{MaxRequestBytes: 1000})
	for i := range 40 {
		s.Add(testRecord(i), nil, nil)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.requestCount() < 2 {
		t.Errorf("requests = %d, want several for 40 documents of about 100 bytes and a 1000-byte limit", f.requestCount())
	}
	if c := s.Counts(); c.Written != 40 {
		t.Errorf("written = %d, want 40", c.Written)
	}
}

func TestKeyIDAndDocument(t *testing.T) {
	if got := keyID([]byte("02:00:00:00:00:01")); got != "02:00:00:00:00:01" {
		t.Errorf("keyID(text) = %q", got)
	}
	if got := keyID([]byte{0xff, 0x00}); got != "ff00" {
		t.Errorf("keyID(binary) = %q, want hex ff00", got)
	}
	rec := testRecord(3)
	rec.Set("wlan_ssid", "quote\" back\\slash \x01")
	doc := appendDocument(nil, rec)
	var decoded map[string]any
	if err := json.Unmarshal(doc, &decoded); err != nil {
		t.Fatalf("document %s is not JSON: %v", doc, err)
	}
	if decoded["timestamp"] != "1700000000003" {
		t.Errorf("timestamp = %v, want the string 1700000000003", decoded["timestamp"])
	}
	if ssid := decoded["wlan_ssid"].([]any)[0]; ssid != "quote\" back\\slash \x01" {
		t.Errorf("wlan_ssid = %q, want the value unchanged", ssid)
	}
}

func TestCheckIndex(t *testing.T) {
	for _, name := range []string{"frames", "wifi-frames", "a.b_c"} {
		if err := CheckIndex(name); err != nil {
			t.Errorf("CheckIndex(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "Frames", "a b", "_x", "-x", "a/b", "..", strings.Repeat("a", 256)} {
		if err := CheckIndex(name); err == nil {
			t.Errorf("CheckIndex(%q) = nil, want an error", name)
		}
	}
}

func TestCheckURLRejectsCredentials(t *testing.T) {
	err := CheckURL("http://elastic:secret@127.0.0.1:9200")
	if err == nil {
		t.Fatal("CheckURL accepted a URL with a password")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
	if err := CheckURL("ftp://127.0.0.1"); err == nil {
		t.Error("CheckURL accepted ftp://")
	}
}

func TestCredentialsFileAndEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(file, []byte("# test\nELASTICSEARCH_USERNAME=wifiq\nELASTICSEARCH_PASSWORD=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvUsername, "")
	t.Setenv(EnvAPIKey, "")
	t.Setenv(EnvPassword, "from-env")
	var c Connection
	if err := c.Credentials(file); err != nil {
		t.Fatal(err)
	}
	if c.Username != "wifiq" || c.Password != "from-env" {
		t.Errorf("credentials = %q/%q, want wifiq from the file and the password from the environment", c.Username, c.Password)
	}

	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("PASSWORD=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := (&Connection{}).Credentials(bad)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want an error that does not show the value", err)
	}
}

func TestBasicAuthSentNotLogged(t *testing.T) {
	var gotUser, gotPassword string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPassword, _ = r.BasicAuth()
		io.WriteString(w, `{}`)
	}))
	defer server.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	_, err := Open(context.Background(), Connection{URL: server.URL, Username: "wifiq", Password: "s3cret-value"}, Options{Index: "t"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if gotUser != "wifiq" || gotPassword != "s3cret-value" {
		t.Errorf("basic auth = %q/%q, want the configured credentials", gotUser, gotPassword)
	}
	if strings.Contains(logs.String(), "s3cret-value") {
		t.Errorf("log shows the password: %s", logs.String())
	}
}

func TestTemplateBodyMapsTimestamps(t *testing.T) {
	body, err := templateBody("frames", []string{"first_seen"})
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		IndexPatterns []string `json:"index_patterns"`
		Template      struct {
			Mappings struct {
				DynamicTemplates []map[string]struct {
					Match   string         `json:"match"`
					Mapping map[string]any `json:"mapping"`
				} `json:"dynamic_templates"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(body, &tpl); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tpl.IndexPatterns, " ") != "frames frames-*" {
		t.Errorf("index_patterns = %v", tpl.IndexPatterns)
	}
	for _, field := range []string{"timestamp", "first_seen"} {
		if m := tpl.Template.Mappings.Properties[field]; m["type"] != "date" || m["format"] != "epoch_millis||strict_date_optional_time" {
			t.Errorf("mapping of %s = %v, want date epoch_millis||strict_date_optional_time", field, m)
		}
	}
	dyn := tpl.Template.Mappings.DynamicTemplates
	if len(dyn) != 1 || dyn[0]["wifiq_ts_fields"].Match != "*_TS" || dyn[0]["wifiq_ts_fields"].Mapping["type"] != "date" {
		t.Errorf("dynamic_templates = %+v, want *_TS as date", dyn)
	}
}
