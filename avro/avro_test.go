package avro

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/record"
	"github.com/wifiq/wifiq/replay"
	"github.com/wifiq/wifiq/route"
)

// memRegistry keeps schemas in memory for unit tests. It checks each new
// version against the previous one in both directions, as a registry does
// with compatibility FULL, using hamba's own compatibility check.
type memRegistry struct {
	schemas  []hamba.Schema
	texts    []string
	subjects map[string][]int
}

func newMemRegistry() *memRegistry { return &memRegistry{subjects: map[string][]int{}} }

func (m *memRegistry) Register(_ context.Context, subject, text string) (int, error) {
	for _, id := range m.subjects[subject] {
		if m.texts[id-1] == text {
			return id, nil
		}
	}
	schema, err := parse(text)
	if err != nil {
		return 0, &RegistryError{Op: "register", Status: 422, Code: 42201, Message: err.Error()}
	}
	if versions := m.subjects[subject]; len(versions) > 0 {
		prev := m.schemas[versions[len(versions)-1]-1]
		check := hamba.NewSchemaCompatibility()
		if err := check.Compatible(schema, prev); err != nil {
			return 0, &RegistryError{Op: "register", Status: 409, Code: 409, Message: "incompatible: " + err.Error()}
		}
		if err := check.Compatible(prev, schema); err != nil {
			return 0, &RegistryError{Op: "register", Status: 409, Code: 409, Message: "incompatible: " + err.Error()}
		}
	}
	m.schemas = append(m.schemas, schema)
	m.texts = append(m.texts, text)
	id := len(m.schemas)
	m.subjects[subject] = append(m.subjects[subject], id)
	return id, nil
}

func (m *memRegistry) Latest(_ context.Context, subject string) (hamba.Schema, int, bool, error) {
	versions := m.subjects[subject]
	if len(versions) == 0 {
		return nil, 0, false, nil
	}
	id := versions[len(versions)-1]
	return m.schemas[id-1], id, true, nil
}

func (m *memRegistry) Schema(_ context.Context, id int) (hamba.Schema, error) {
	if id < 1 || id > len(m.schemas) {
		return nil, &ValueError{SchemaID: id, Reason: fmt.Sprintf("schema ID %d not found", id)}
	}
	return m.schemas[id-1], nil
}

// captureLines decodes a bundled capture into record lines in a style.
func captureLines(t *testing.T, name string, style capture.Style) []string {
	t.Helper()
	fields, err := capture.ParseFields("default,wlan.bssid,wlan.seq")
	if err != nil {
		t.Fatal(err)
	}
	resolver := capture.NewResolver()
	if err := capture.AddBuiltinManufacturers(resolver); err != nil {
		t.Fatal(err)
	}
	capture.AddBuiltinWellKnown(resolver)
	var out bytes.Buffer
	sink := record.NewLineWriter(&out)
	opts := replay.DecodeOptions{Encoder: capture.NewEncoder(fields, style, resolver)}
	if _, err := replay.Decode(context.Background(), []string{"../testdata/corpus/" + name}, sink, opts); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	scanner := bufio.NewScanner(&out)
	scanner.Buffer(nil, 4<<20)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
	}
	if len(lines) < 100 {
		t.Fatalf("%s gave %d records, want at least 100", name, len(lines))
	}
	return lines
}

// readLine parses one record line.
func readLine(t *testing.T, line string) *record.Record {
	t.Helper()
	rec, err := record.NewReader(strings.NewReader(line+"\n"), "test").Read()
	if err != nil {
		t.Fatalf("record %s: %v", line, err)
	}
	return rec.Clone()
}

// jsonLine writes a record as split writes it, without the newline.
func jsonLine(rec *record.Record) string { return string(route.AppendRecord(nil, rec, nil)) }

func TestRoundTripCaptureRecords(t *testing.T) {
	for _, style := range []capture.Style{capture.StyleClassic, capture.StyleTshark} {
		t.Run(fmt.Sprint(style), func(t *testing.T) {
			reg := newMemRegistry()
			enc := NewEncoder(reg)
			dec := NewDecoder(reg)
			ctx := context.Background()
			for i, line := range captureLines(t, "aircrack-ng__wpa2-psk-linksys.cap", style) {
				rec := readLine(t, line)
				want := jsonLine(rec)
				value, err := enc.Encode(ctx, "pcap_all", rec, nil, nil)
				if err != nil {
					t.Fatalf("record %d: encode: %v", i, err)
				}
				if !IsFramed(value) {
					t.Fatalf("record %d: value % x does not start with the Confluent header", i, value[:min(len(value), 8)])
				}
				got, err := dec.Decode(ctx, value, nil)
				if err != nil {
					t.Fatalf("record %d: decode: %v", i, err)
				}
				if string(got) != want {
					t.Fatalf("record %d: decoded\n%s\nwant\n%s", i, got, want)
				}
			}
			if enc.Registered["pcap_all"] < 1 {
				t.Fatal("no schema registered")
			}
		})
	}
}

func TestEncodeWireFormat(t *testing.T) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	rec := readLine(t, `{"timestamp":"1537621366598","wlan_fc_type_subtype":["4"],"wlan_ssid":["a","b"]}`)
	value, err := enc.Encode(context.Background(), "pcap_probe", rec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if value[0] != 0 {
		t.Errorf("magic byte %d, want 0", value[0])
	}
	if id := SchemaID(value); id != 1 {
		t.Errorf("schema ID %d, want 1", id)
	}
	// The body must decode with the registered schema as plain Avro.
	var decoded map[string]any
	if err := hamba.Unmarshal(reg.schemas[0], value[5:], &decoded); err != nil {
		t.Fatalf("body does not decode: %v", err)
	}
	ssid, ok := decoded["wlan_ssid"].(map[string]any)["array"].([]any)
	if !ok || len(ssid) != 2 || ssid[0] != "a" || ssid[1] != "b" {
		t.Errorf("wlan_ssid decoded as %#v, want [a b]", decoded["wlan_ssid"])
	}
}

func TestSchemaDerivation(t *testing.T) {
	s, err := NewSchema("pcap.probe-1", []string{"wlan_sa", "radiotap_he-mu", "wlan_sa", "1st"})
	if err != nil {
		t.Fatal(err)
	}
	rec := s.parsed.(*hamba.RecordSchema)
	if rec.FullName() != "wifiq.pcap_probe_1" {
		t.Errorf("record name %s, want wifiq.pcap_probe_1", rec.FullName())
	}
	var names []string
	for _, f := range rec.Fields() {
		names = append(names, f.Name())
	}
	if got := strings.Join(names, ","); got != "timestamp,wlan_sa,radiotap_he_mu,_1st" {
		t.Errorf("fields %s, want timestamp,wlan_sa,radiotap_he_mu,_1st", got)
	}
	ts := rec.Fields()[0]
	if ts.HasDefault() || ts.Type().Type() != hamba.Long {
		t.Errorf("timestamp field %s, want a long without default", ts)
	}
	for _, f := range rec.Fields()[1:] {
		if !isNullableStringArray(f.Type()) || !f.HasDefault() || f.Default() != nil {
			t.Errorf("field %s is not a nullable array of strings with default null", f.Name())
		}
	}
	if key := rec.Fields()[2].Prop(keyProperty); key != "radiotap_he-mu" {
		t.Errorf("field radiotap_he_mu keeps key %v, want radiotap_he-mu", key)
	}

	// A key that is not an Avro name comes back under its own name.
	dec := NewDecoder(newMemRegistry())
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	dec.source = reg
	in := readLine(t, `{"timestamp":"1537621366591","radiotap_he-mu":["x"],"radiotap_he_mu":["y"]}`)
	value, err := enc.Encode(context.Background(), "t", in, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dec.Decode(context.Background(), value, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := jsonLine(in); string(got) != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
}

func TestSchemaEvolutionKeepsOrder(t *testing.T) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	dec := NewDecoder(reg)
	ctx := context.Background()
	lines := []string{
		`{"timestamp":"1537621366591","wlan_fc_type":["0"],"wlan_sa":["aa"]}`,
		`{"timestamp":"1537621366592","wlan_fc_type":["0"],"wlan_radio_channel":["6"],"wlan_sa":["bb"],"wlan_ssid":["x"]}`,
		`{"timestamp":"1537621366593","wlan_fc_type":["0"],"wlan_sa":["cc"]}`,
	}
	var ids []int
	for _, line := range lines {
		rec := readLine(t, line)
		value, err := enc.Encode(ctx, "pcap_probe", rec, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, SchemaID(value))
		got, err := dec.Decode(ctx, value, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != jsonLine(rec) {
			t.Errorf("decoded %s, want %s", got, jsonLine(rec))
		}
	}
	if ids[0] != 1 || ids[1] != 2 || ids[2] != 2 {
		t.Errorf("schema IDs %v, want [1 2 2]: one new version when new keys appear", ids)
	}
	latest, _, _, _ := reg.Latest(ctx, "pcap_probe-value")
	s, err := FromRegistered("pcap_probe", latest)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Keys(), ","); got != "wlan_fc_type,wlan_radio_channel,wlan_sa,wlan_ssid" {
		t.Errorf("evolved keys %s, want them in record order", got)
	}

	// A new encoder continues from the latest version instead of
	// registering a narrower one.
	enc2 := NewEncoder(reg)
	value, err := enc2.Encode(ctx, "pcap_probe", readLine(t, lines[0]), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id := SchemaID(value); id != 2 || enc2.Registered["pcap_probe"] != 0 {
		t.Errorf("second run wrote schema ID %d after %d registrations, want ID 2 and none", id, enc2.Registered["pcap_probe"])
	}
}

func TestEncodeKeepsOnlyFields(t *testing.T) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	rec := readLine(t, `{"timestamp":"1537621366595","wlan_fc_type":["0"],"wlan_sa":["aa"],"wlan_ssid":["x"]}`)
	value, err := enc.Encode(context.Background(), "p", rec, map[string]bool{"wlan_sa": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewDecoder(reg).Decode(context.Background(), value, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"timestamp":"1537621366595","wlan_sa":["aa"]}`; string(got) != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
}

func TestEncodeRejectedSchema(t *testing.T) {
	reg := newMemRegistry()
	ctx := context.Background()
	// A version in which wlan_sa is a plain string: the derived schema,
	// where it is a nullable array, is incompatible with it.
	other := `{"type":"record","name":"pcap_probe","namespace":"wifiq","fields":[` +
		`{"name":"timestamp","type":"long"},{"name":"wlan_sa","type":"string"}]}`
	if _, err := reg.Register(ctx, "pcap_probe-value", other); err != nil {
		t.Fatal(err)
	}
	_, err := NewEncoder(reg).Encode(ctx, "pcap_probe", readLine(t, `{"timestamp":"1537621366591","wlan_sa":["aa"]}`), nil, nil)
	var regErr *RegistryError
	if !errors.As(err, &regErr) {
		t.Fatalf("error %v, want a *RegistryError", err)
	}
	if regErr.Code != 409 || !strings.Contains(regErr.Error(), "incompatible") {
		t.Errorf("error %q, want code 409 and the registry's message", regErr)
	}
}

func TestDecodeBadValues(t *testing.T) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	ctx := context.Background()
	good, err := enc.Encode(ctx, "p", readLine(t, `{"timestamp":"1537621366591","wlan_sa":["aa","bb"]}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	notRecord := `{"type":"array","items":"string"}`
	arrayID, err := reg.Register(ctx, "x-value", notRecord)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"unknown schema ID": {0, 0, 0, 0, 99, 2},
		"truncated body":    good[:len(good)-3],
		"schema not record": append([]byte{0, 0, 0, 0, byte(arrayID)}, 0),
		"short value":       {0, 0, 1},
	}
	dec := NewDecoder(reg)
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := dec.Decode(ctx, value, nil)
			var valueErr *ValueError
			if !errors.As(err, &valueErr) {
				t.Fatalf("error %v, want a *ValueError", err)
			}
		})
	}
	// A good value after bad ones still decodes.
	got, err := dec.Decode(ctx, good, nil)
	if err != nil || string(got) != `{"timestamp":"1537621366591","wlan_sa":["aa","bb"]}` {
		t.Errorf("good value after bad ones: %s, %v", got, err)
	}
}

func TestDecodeForeignSchema(t *testing.T) {
	reg := newMemRegistry()
	ctx := context.Background()
	text := `{"type":"record","name":"r","fields":[{"name":"timestamp","type":"long"},` +
		`{"name":"n","type":"int"},{"name":"ok","type":["null","boolean"]},{"name":"xs","type":{"type":"array","items":"double"}}]}`
	id, err := reg.Register(ctx, "r-value", text)
	if err != nil {
		t.Fatal(err)
	}
	body, err := hamba.Marshal(reg.schemas[id-1], map[string]any{"timestamp": int64(1537621366597), "n": 3, "ok": true, "xs": []float64{1.5}})
	if err != nil {
		t.Fatal(err)
	}
	value := append([]byte{0, 0, 0, 0, byte(id)}, body...)
	got, err := NewDecoder(reg).Decode(ctx, value, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"timestamp":"1537621366597","n":["3"],"ok":["true"],"xs":["1.5"]}`; string(got) != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
}

func BenchmarkEncode(b *testing.B) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	rec, _ := record.NewReader(strings.NewReader(`{"timestamp":"1537621366598","wlan_fc_type":["0"],"wlan_fc_type_subtype":["4"],"wlan_radio_channel":["6"],"wlan_radio_signal_dbm":["-87"],"wlan_sa":["f8:1a:67:e5:05:62"],"wlan_ssid":["home"]}`+"\n"), "b").Read()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = enc.Encode(context.Background(), "p", rec, nil, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	rec, _ := record.NewReader(strings.NewReader(`{"timestamp":"1537621366598","wlan_fc_type":["0"],"wlan_fc_type_subtype":["4"],"wlan_radio_channel":["6"],"wlan_radio_signal_dbm":["-87"],"wlan_sa":["f8:1a:67:e5:05:62"],"wlan_ssid":["home"]}`+"\n"), "b").Read()
	value, err := enc.Encode(context.Background(), "p", rec, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	dec := NewDecoder(reg)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = dec.Decode(context.Background(), value, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeDerivedMatchesGeneric checks that the reader for wifiq's own
// schemas decodes every value as hamba's generic decoding does: the
// records of a capture in both value styles, every cut of them, and
// values with one byte changed. Both must give the same record when the
// derived reader decodes a value, and an error when the generic decoding
// gives one. The derived reader also rejects values that end too early,
// which the generic decoding takes, with null for the missing fields.
func TestDecodeDerivedMatchesGeneric(t *testing.T) {
	reg := newMemRegistry()
	enc := NewEncoder(reg)
	ctx := context.Background()
	var values [][]byte
	for _, style := range []capture.Style{capture.StyleClassic, capture.StyleTshark} {
		for _, line := range captureLines(t, "aircrack-ng__wpa2-psk-linksys.cap", style) {
			value, err := enc.Encode(ctx, "derived", readLine(t, line), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, value)
		}
	}

	fast, generic := NewDecoder(reg), NewDecoder(reg)
	decode := func(value []byte) (string, error) {
		got, fastErr := fast.Decode(ctx, value, nil)
		want, genericErr := generic.Decode(ctx, value, nil)
		var valueErr *ValueError
		switch {
		case fastErr != nil && !errors.As(fastErr, &valueErr):
			t.Fatalf("value %x: derived reader error %v, want a *ValueError", value, fastErr)
		case fastErr == nil && genericErr != nil:
			t.Fatalf("value %x: derived reader %s, generic error %v", value, got, genericErr)
		case fastErr == nil && string(got) != string(want):
			t.Fatalf("value %x: derived reader %s, generic %s", value, got, want)
		case fastErr != nil && genericErr == nil && !strings.Contains(fastErr.Error(), "EOF"):
			t.Fatalf("value %x: derived reader error %v, generic %s", value, fastErr, want)
		}
		return string(got), fastErr
	}

	// The generic decoder reads every schema first, and then has the
	// derived flag of each cleared, so that it decodes generically.
	for id := 1; id <= len(reg.schemas); id++ {
		if _, err := generic.reader(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	derived := 0
	for _, rs := range generic.readers {
		if rs.derived {
			derived++
		}
		rs.derived = false
	}
	if derived == 0 {
		t.Fatal("no schema of wifiq's encoder counts as derived")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for i, value := range values {
		if got, err := decode(value); err != nil || got == "" {
			t.Fatalf("value %d: %v", i, err)
		}
		if i%50 == 0 {
			for cut := headerSize; cut < len(value); cut++ {
				if _, err := decode(value[:cut]); err == nil {
					t.Fatalf("value %d cut to %d bytes of %d decoded", i, cut, len(value))
				}
			}
		}
		for range 4 {
			changed := slices.Clone(value)
			changed[headerSize+rng.IntN(len(value)-headerSize)] = byte(rng.IntN(256))
			decode(changed)
		}
	}
}
