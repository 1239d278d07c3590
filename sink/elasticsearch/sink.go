// Package elasticsearch writes wifiq records into an Elasticsearch 7 or 8
// or OpenSearch 1 or 2 index over the bulk API.
//
// Each record becomes one JSON document: "timestamp" as a string of
// milliseconds since the Unix epoch and one array of strings per field.
// With a document id (a Kafka key or the values of id fields) the "index"
// action replaces the document with that id, so writing a record twice
// leaves one document; without one the server generates ids and appends.
// Requests use refresh=false; a 200 response means the documents are in
// the translog, which the servers fsync before they reply by default
// (index.translog.durability: request).
//
// Whole requests that fail with a network error, 429 or 5xx are sent again
// with exponential backoff. Of a bulk response, items with status 429 or
// 5xx are sent again, items rejected for their content (4xx, for example a
// mapper_parsing_exception) go to the dead-letter file with the reason,
// and 401, 403 or 404 items stop the sink. Flush returns nil only when
// every document was written or dead-lettered, so a Kafka consumer may
// commit the offsets of the batch after it.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opensearch-project/opensearch-go/v4"

	"github.com/wifiq/wifiq/record"
)

// Options are the settings of a Sink.
type Options struct {
	Index string
	// IDFields are the fields whose values make the document id. Empty
	// means the Kafka key, if UseKey is set and the message has one, or
	// no id.
	IDFields []string
	// UseKey makes the Kafka key of a message the document id when
	// IDFields is empty.
	UseKey bool
	// TimestampFields are mapped as dates (epoch_millis) by the index
	// template, besides "timestamp" and every field that ends in _TS.
	TimestampFields []string
	// DeadLetter receives one JSON line per rejected record; nil drops them
	// after logging.
	DeadLetter io.Writer
	// RetryFor bounds the retries of one Flush. Zero means 10 minutes.
	RetryFor time.Duration
	// MaxRequestBytes splits a Flush into several bulk requests of at most
	// about this size. Zero means 8 MiB.
	MaxRequestBytes int
}

// Position is the topic, partition and offset of a record read from Kafka.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Counts are the totals of a Sink.
type Counts struct {
	Written  int64 // documents created or replaced
	Rejected int64 // records sent to the dead letter
	Requests int64 // bulk requests that succeeded
	Retries  int64 // bulk requests sent again, whole or in part
}

// document is one buffered record.
type document struct {
	id     string
	body   []byte // nil for a record rejected before sending
	reason string // the reason for rejecting the record, before sending
	pos    *Position
}

// Sink writes records to one index. It is for one goroutine at a time.
type Sink struct {
	opts    Options
	client  *opensearch.Client
	url     string
	log     *slog.Logger
	pending []document
	bytes   int
	counts  Counts
	// sleep waits between retries; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// Open creates the client and checks that the server responds.
func Open(ctx context.Context, conn Connection, opts Options, log *slog.Logger) (*Sink, error) {
	if err := CheckIndex(opts.Index); err != nil {
		return nil, err
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = 10 * time.Minute
	}
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = 8 << 20
	}
	client, err := newClient(conn)
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: opts, client: client, url: conn.URL, log: log, sleep: sleepContext}
	err = s.retry(ctx, "reach the server", func(ctx context.Context) error {
		_, err := s.do(ctx, http.MethodGet, "/", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// CheckIndex validates an index name by the rules that Elasticsearch and
// OpenSearch apply.
func CheckIndex(name string) error {
	switch {
	case name == "":
		return errors.New("missing index name")
	case name == "." || name == "..":
		return fmt.Errorf("invalid index name %q: . and .. are not index names", name)
	case len(name) > 255:
		return fmt.Errorf("invalid index name %q: longer than 255 bytes", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("invalid index name %q: index names are lower case; use %q", name, strings.ToLower(name))
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return fmt.Errorf(`invalid index name %q: it must not contain \ / * ? " < > | space , # or :`, name)
	case strings.IndexAny(name[:1], "-_+") == 0:
		return fmt.Errorf("invalid index name %q: it must not start with -, _ or +", name)
	}
	return nil
}

// Add buffers a record. key is the Kafka key of the message, or nil; pos
// is nil for records that do not come from Kafka.
func (s *Sink) Add(rec *record.Record, key []byte, pos *Position) {
	doc := document{pos: pos}
	switch {
	case len(s.opts.IDFields) > 0:
		doc.id, doc.reason = documentID(rec, s.opts.IDFields)
	case s.opts.UseKey && len(key) > 0:
		doc.id = keyID(key)
		if len(doc.id) > maxIDBytes {
			doc.id, doc.reason = "", fmt.Sprintf("Kafka key of %d bytes is longer than the document id limit of %d bytes", len(doc.id), maxIDBytes)
		}
	}
	if doc.reason == "" {
		doc.body = appendDocument(nil, rec)
		s.bytes += len(doc.body) + len(doc.id) + 32
	} else {
		doc.body = nil
		doc.id = ""
		// The dead letter keeps the record itself.
		doc.reason += "\x00" + string(appendDocument(nil, rec))
	}
	s.pending = append(s.pending, doc)
}

// keyID returns a Kafka key as a document id: as it is when it is UTF-8,
// otherwise as hex digits, because an id is a JSON string.
func keyID(key []byte) string {
	if utf8.Valid(key) {
		return string(key)
	}
	return hex.EncodeToString(key)
}

// Reject buffers a Kafka message that is not a record: it goes to the dead
// letter with the reason when the batch is written.
func (s *Sink) Reject(value []byte, reason string, pos *Position) {
	s.pending = append(s.pending, document{reason: reason + "\x00" + string(value), pos: pos})
}

// Pending returns the number of buffered records.
func (s *Sink) Pending() int { return len(s.pending) }

// PendingBytes returns the size of the buffered documents.
func (s *Sink) PendingBytes() int { return s.bytes }

// Counts returns the totals so far.
func (s *Sink) Counts() Counts { return s.counts }

// Flush writes the buffered records. It returns nil only when every record
// was written or sent to the dead letter, so that the offsets of the batch
// may be committed.
func (s *Sink) Flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	var rejected []deadLetter
	var send []int
	for i, doc := range s.pending {
		if doc.body == nil {
			reason, raw, _ := strings.Cut(doc.reason, "\x00")
			rejected = append(rejected, s.newDeadLetter(doc, reason, 0, raw))
			continue
		}
		send = append(send, i)
	}
	if err := s.writeDeadLetters(rejected); err != nil {
		return err
	}
	s.counts.Rejected += int64(len(rejected))
	s.pending = slicesKeep(s.pending, send)
	s.bytes = 0
	for _, doc := range s.pending {
		s.bytes += len(doc.body) + len(doc.id) + 32
	}

	// The documents are sent in requests of at most MaxRequestBytes. A
	// failed request leaves it and the later ones pending.
	for len(s.pending) > 0 {
		n, size := 0, 0
		for n < len(s.pending) && (n == 0 || size+len(s.pending[n].body) <= s.opts.MaxRequestBytes) {
			size += len(s.pending[n].body) + len(s.pending[n].id) + 32
			n++
		}
		if err := s.writeChunk(ctx, s.pending[:n]); err != nil {
			return err
		}
		s.pending = s.pending[n:]
		s.bytes -= size
	}
	s.pending, s.bytes = nil, 0
	return nil
}

func slicesKeep(docs []document, keep []int) []document {
	out := make([]document, len(keep))
	for i, k := range keep {
		out[i] = docs[k]
	}
	return out
}

// writeChunk sends docs in one bulk request, then sends again the items
// that failed with 429 or 5xx, until all are written or dead-lettered or
// RetryFor passes.
func (s *Sink) writeChunk(ctx context.Context, docs []document) error {
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		items, err := s.bulk(ctx, docs)
		var retry []document
		var lastReason string
		if err == nil {
			var rejected []deadLetter
			for i, item := range items {
				switch classify(item.Status) {
				case outcomeWritten:
					s.counts.Written++
				case outcomeRetry:
					retry = append(retry, docs[i])
					lastReason = fmt.Sprintf("status %d: %s", item.Status, item.Error)
				case outcomeDeadLetter:
					rejected = append(rejected, s.newDeadLetter(docs[i], item.Error.String(), item.Status, string(docs[i].body)))
				case outcomeFatal:
					return permanentf("index %s rejected document %d of the request with status %d: %s. Check that the index exists or may be created automatically, is open and writable, and that the credentials allow writing to it",
						s.opts.Index, i, item.Status, item.Error)
				}
			}
			if err := s.writeDeadLetters(rejected); err != nil {
				return err
			}
			s.counts.Rejected += int64(len(rejected))
			s.counts.Requests++
			if len(retry) == 0 {
				if attempt > 1 {
					s.log.Info("bulk request written after retries", "index", s.opts.Index, "attempts", attempt)
				}
				return nil
			}
			err = fmt.Errorf("%d of %d documents failed (last: %s)", len(retry), len(docs), lastReason)
			docs = retry
		} else if errors.Is(err, errPermanent) || ctx.Err() != nil {
			return err
		}

		if !time.Now().Before(deadline) {
			return fmt.Errorf("unable to write %d documents to index %s after retrying for %s: %w", len(docs), s.opts.Index, s.opts.RetryFor, err)
		}
		// The last wait ends at the deadline, so the last attempt comes then.
		wait = min(wait, time.Until(deadline))
		s.counts.Retries++
		s.log.Warn("bulk request failed, will retry", "index", s.opts.Index, "documents", len(docs), "attempt", attempt, "wait", wait, "err", err)
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// bulk sends one bulk request and returns its items, one per document.
func (s *Sink) bulk(ctx context.Context, docs []document) ([]bulkItem, error) {
	var body []byte
	for _, doc := range docs {
		body = appendAction(body, doc.id)
		body = append(body, doc.body...)
		body = append(body, '\n')
	}
	resp, err := s.do(ctx, http.MethodPost, "/"+s.opts.Index+"/_bulk?refresh=false", body)
	if err != nil {
		return nil, err
	}
	items, err := parseBulkResponse(resp, len(docs))
	if err != nil {
		// A proxy may cut a response; the documents are sent again, which
		// is harmless with ids and may add a duplicate without.
		return nil, err
	}
	return items, nil
}

// statusError is an error response to a whole request.
type statusError struct {
	status int
	reason string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.status, e.reason)
}

// do sends one request and returns the body of a 2xx response. Network
// errors, 408, 429 and 5xx are returned as retryable errors, other
// statuses as permanent errors.
func (s *Sink) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	return s.doContentType(ctx, method, path, body, "application/x-ndjson")
}

func (s *Sink) doContentType(ctx context.Context, method, path string, body []byte, contentType string) ([]byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, reader)
	if err != nil {
		return nil, permanentError{err}
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Perform(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("unable to read the response to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return respBody, nil
	}
	statusErr := &statusError{resp.StatusCode, requestError(respBody)}
	if resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500 {
		return nil, statusErr
	}
	hint := ""
	if resp.StatusCode == 401 || resp.StatusCode == 403 {
		hint = fmt.Sprintf(". Check the credentials in %s and %s, %s, or the --credentials-file", EnvUsername, EnvPassword, EnvAPIKey)
	}
	return nil, permanentf("%s %s%s failed: %w%s", method, s.url, path, statusErr, hint)
}

func asStatus(err error) (*statusError, bool) {
	var statusErr *statusError
	ok := errors.As(err, &statusErr)
	return statusErr, ok
}

// retry runs fn until it succeeds, fails with a permanent error, or
// RetryFor passes, waiting 0.5 s doubling up to 30 s between attempts.
func (s *Sink) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				s.log.Info("server reachable again", "url", s.url, "attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, errPermanent) || ctx.Err() != nil {
			return err
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("unable to %s at %s after retrying for %s: %w", what, s.url, s.opts.RetryFor, err)
		}
		// The last wait ends at the deadline, so the last attempt comes then.
		wait = min(wait, time.Until(deadline))
		s.log.Warn("request failed, will retry", "url", s.url, "action", what, "attempt", attempt, "wait", wait, "err", err)
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deadLetter is one line of the dead-letter file.
type deadLetter struct {
	Reason    string          `json:"reason"`
	Status    int             `json:"status,omitempty"`
	Index     string          `json:"index"`
	ID        string          `json:"id,omitempty"`
	Topic     string          `json:"topic,omitempty"`
	Partition *int32          `json:"partition,omitempty"`
	Offset    *int64          `json:"offset,omitempty"`
	Record    json.RawMessage `json:"record,omitempty"`
	Value     string          `json:"value,omitempty"`
	Timestamp time.Time       `json:"rejected_at"`
}

func (s *Sink) newDeadLetter(doc document, reason string, status int, raw string) deadLetter {
	line := deadLetter{Reason: reason, Status: status, Index: s.opts.Index, ID: doc.id, Timestamp: time.Now().UTC()}
	if json.Valid([]byte(raw)) && strings.HasPrefix(raw, "{") {
		line.Record = json.RawMessage(raw)
	} else {
		line.Value = raw
	}
	if doc.pos != nil {
		line.Topic = doc.pos.Topic
		line.Partition, line.Offset = &doc.pos.Partition, &doc.pos.Offset
	}
	return line
}

// writeDeadLetters writes rejected records before the offsets of their
// batch can be committed, so that a crash may repeat a dead letter but
// never lose one.
func (s *Sink) writeDeadLetters(rejected []deadLetter) error {
	for i, line := range rejected {
		if i < 10 {
			attrs := []any{"index", s.opts.Index, "reason", line.Reason}
			if line.Partition != nil {
				attrs = append(attrs, "topic", line.Topic, "partition", *line.Partition, "offset", *line.Offset)
			}
			s.log.Warn("rejected a record", attrs...)
		} else if i == 10 {
			s.log.Warn("more records of this batch were rejected; see the dead-letter file", "index", s.opts.Index, "rejected", len(rejected))
		}
		if s.opts.DeadLetter == nil {
			continue
		}
		b, err := json.Marshal(line)
		if err != nil {
			return fmt.Errorf("unable to encode a dead letter: %w", err)
		}
		if _, err := s.opts.DeadLetter.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("unable to write the dead letter: %w", err)
		}
	}
	if syncer, ok := s.opts.DeadLetter.(interface{ Sync() error }); ok && len(rejected) > 0 {
		if err := syncer.Sync(); err != nil {
			return fmt.Errorf("unable to write the dead letter: %w", err)
		}
	}
	return nil
}
