package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// TemplateName returns the name of the index template that InstallTemplate
// writes for index.
func TemplateName(index string) string { return "wifiq-" + index }

// templatePriority orders the template among composable templates whose
// patterns overlap; Elasticsearch rejects two with the same priority.
const templatePriority = 200

// dateMapping is how timestamps are mapped: records carry milliseconds
// since the Unix epoch, and reports write RFC 3339 times.
var dateMapping = map[string]any{"type": "date", "format": "epoch_millis||strict_date_optional_time"}

// templateBody returns the composable index template (_index_template,
// Elasticsearch 7.8 and later, OpenSearch 1 and later) for the index and
// the index names that start with "INDEX-". It maps "timestamp" and the
// timestamp fields as dates, and every field whose name ends in _TS (the
// ksqlDB convention for window and first/last-seen times) through a
// dynamic template.
func templateBody(index string, timestampFields []string) ([]byte, error) {
	properties := map[string]any{"timestamp": dateMapping}
	for _, f := range timestampFields {
		properties[f] = dateMapping
	}
	body := map[string]any{
		"index_patterns": []string{index, index + "-*"},
		"priority":       templatePriority,
		"template": map[string]any{
			"mappings": map[string]any{
				"dynamic_templates": []any{
					map[string]any{"wifiq_ts_fields": map[string]any{"match": "*_TS", "mapping": dateMapping}},
				},
				"properties": properties,
			},
		},
		"_meta": map[string]any{"created_by": "wifiq sink elasticsearch"},
	}
	return json.Marshal(body)
}

// InstallTemplate creates or replaces the index template of the index.
// It applies to indices created afterwards, not to an existing index.
func (s *Sink) InstallTemplate(ctx context.Context) error {
	body, err := templateBody(s.opts.Index, s.opts.TimestampFields)
	if err != nil {
		return err
	}
	name := TemplateName(s.opts.Index)
	err = s.retry(ctx, "install the index template", func(ctx context.Context) error {
		_, err := s.doJSON(ctx, http.MethodPut, "/_index_template/"+url.PathEscape(name), body)
		return err
	})
	if err != nil {
		return fmt.Errorf("unable to install index template %s: %w", name, err)
	}
	exists, err := s.indexExists(ctx)
	if err != nil {
		return err
	}
	if exists {
		s.log.Warn("index template installed, but the index exists already: the template maps only indices created after it",
			"template", name, "index", s.opts.Index)
	} else {
		s.log.Info("index template installed", "template", name, "index", s.opts.Index)
	}
	return nil
}

func (s *Sink) indexExists(ctx context.Context) (bool, error) {
	var exists bool
	err := s.retry(ctx, "check the index", func(ctx context.Context) error {
		_, err := s.do(ctx, http.MethodHead, "/"+s.opts.Index, nil)
		exists = err == nil
		if statusErr, ok := asStatus(err); ok && statusErr.status == http.StatusNotFound {
			return nil
		}
		return err
	})
	return exists, err
}

// doJSON is do with a JSON body.
func (s *Sink) doJSON(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	return s.doContentType(ctx, method, path, body, "application/json")
}
