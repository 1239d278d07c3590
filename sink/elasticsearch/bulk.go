package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
)

// maxIDBytes is the longest document id that Elasticsearch and OpenSearch
// accept. A longer one fails validation of the whole bulk request, so such
// a record is rejected before it is sent.
const maxIDBytes = 512

// appendDocument appends the record as a JSON document: the timestamp as a
// string of milliseconds since the Unix epoch (left out for a row without
// one) and one array of strings per field, in field order, as wifiq writes
// record lines.
func appendDocument(dst []byte, rec *record.Record) []byte {
	dst = append(dst, '{')
	if !rec.NoTimestamp {
		dst = append(dst, `"timestamp":"`...)
		dst = strconv.AppendInt(dst, rec.Timestamp, 10)
		dst = append(dst, '"')
	}
	for i, f := range rec.Fields {
		if i > 0 || !rec.NoTimestamp {
			dst = append(dst, ',')
		}
		dst = capture.AppendJSONString(dst, f.Key)
		dst = append(dst, ':', '[')
		for i, v := range f.Values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = capture.AppendJSONString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendAction appends the action line of one document: "index" with the
// id, which replaces a document with the same id, or "index" without an id,
// which adds a document with an id the server generates.
func appendAction(dst []byte, id string) []byte {
	if id == "" {
		return append(dst, `{"index":{}}`+"\n"...)
	}
	dst = append(dst, `{"index":{"_id":`...)
	idJSON, _ := json.Marshal(id)
	dst = append(dst, idJSON...)
	return append(dst, "}}\n"...)
}

// documentID joins the values of the id fields: the values of one field
// with ",", the fields with "|". "timestamp" names the record's event
// time. It returns a reason when a field is missing or the id is too long.
func documentID(rec *record.Record, fields []string) (string, string) {
	var b strings.Builder
	for i, name := range fields {
		if i > 0 {
			b.WriteByte('|')
		}
		if name == "timestamp" {
			b.WriteString(strconv.FormatInt(rec.Timestamp, 10))
			continue
		}
		values := rec.Get(name)
		if len(values) == 0 {
			return "", fmt.Sprintf("missing id field %s", name)
		}
		b.WriteString(strings.Join(values, ","))
	}
	if b.Len() > maxIDBytes {
		return "", fmt.Sprintf("document id of %d bytes is longer than the limit of %d bytes", b.Len(), maxIDBytes)
	}
	return b.String(), ""
}

// bulkResponse is the part of a bulk API response that the sink reads. It
// has the same shape in Elasticsearch 7 and 8 and OpenSearch 1 and 2.
type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Index  string     `json:"_index"`
	ID     string     `json:"_id"`
	Status int        `json:"status"`
	Result string     `json:"result"`
	Error  *itemError `json:"error"`
}

// itemError is the error of one bulk item or of a whole request.
type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

func (e *itemError) String() string {
	if e == nil {
		return "no reason given"
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// outcome is the action the sink takes for one bulk item.
type outcome int

const (
	outcomeWritten    outcome = iota
	outcomeRetry              // 429 or 5xx: send the document again
	outcomeDeadLetter         // rejected for its content
	outcomeFatal              // a problem of the index or the credentials, not of the document
)

// classify decides what to do with a bulk item from its HTTP status.
// Documents that the server rejects for their content (400 with a
// mapper_parsing_exception and the like, 409, 413) go to the dead letter.
// 401, 403 and 404 (index not found, closed or read-only, missing
// privileges) would reject every document, so they stop the sink instead.
func classify(status int) outcome {
	switch {
	case status >= 200 && status < 300:
		return outcomeWritten
	case status == 408 || status == 429 || status >= 500:
		return outcomeRetry
	case status == 401 || status == 403 || status == 404:
		return outcomeFatal
	case status >= 400:
		return outcomeDeadLetter
	}
	return outcomeFatal
}

// parseBulkResponse reads a bulk response and checks that it has one item
// per document sent.
func parseBulkResponse(body []byte, sent int) ([]bulkItem, error) {
	var resp bulkResponse
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("invalid bulk response: %w", err)
	}
	if len(resp.Items) != sent {
		return nil, fmt.Errorf("invalid bulk response: %d items for %d documents sent", len(resp.Items), sent)
	}
	items := make([]bulkItem, len(resp.Items))
	for i, entry := range resp.Items {
		if len(entry) != 1 {
			return nil, fmt.Errorf("invalid bulk response: item %d has %d actions, want 1", i, len(entry))
		}
		for _, item := range entry {
			items[i] = item
		}
		if items[i].Status == 0 {
			return nil, fmt.Errorf("invalid bulk response: item %d has no status", i)
		}
	}
	return items, nil
}

// requestError returns the reason of an error response to a whole
// request, or the start of the body when it is not the usual JSON.
func requestError(body []byte) string {
	var resp struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &resp) == nil && len(resp.Error) > 0 {
		var e itemError
		if json.Unmarshal(resp.Error, &e) == nil && e.Type != "" {
			return e.String()
		}
		var s string
		if json.Unmarshal(resp.Error, &s) == nil {
			return s
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	if text == "" {
		return "empty body"
	}
	return text
}
