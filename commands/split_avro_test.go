package commands

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wifiq/wifiq/avro"
)

// realRegistry returns the URL of the local schema registry
// (scripts/registry.sh), or skips the test when none is set, unless
// WIFIQ_REQUIRE_SERVERS is set.
func realRegistry(t *testing.T) string {
	t.Helper()
	url := os.Getenv(avro.EnvURL)
	if url == "" {
		if os.Getenv("WIFIQ_REQUIRE_SERVERS") != "" {
			t.Fatalf("%s is not set: start the registry with scripts/registry.sh start and source its env file", avro.EnvURL)
		}
		t.Skip("no schema registry: run scripts/registry.sh start and source /tmp/wifiq-servers/registry/env")
	}
	t.Setenv(avro.EnvURL, "")
	return url
}

// createTopics creates one-partition topics on brokers.
func createTopics(t *testing.T, brokers string, topics ...string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	resp, err := kadm.NewClient(client).CreateTopics(ctx, 1, 1, nil, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			t.Fatalf("create topic %s: %v", r.Topic, r.Err)
		}
	}
}

// avroSplitSetup creates the topics of one test, produces the probe-rich
// captures into the input topic and returns the split arguments that route
// every record to one of four topics of the test's own.
func avroSplitSetup(t *testing.T, brokers string) (prefix, records string, topics, splitArgs []string) {
	t.Helper()
	prefix = fmt.Sprintf("avro%d", time.Now().UnixNano())
	topics = []string{prefix + "_beacon", prefix + "_ctl", prefix + "_other", prefix + "_probe"}
	createTopics(t, brokers, append([]string{prefix + "_in"}, topics...)...)
	records = probeRecords(t)
	code, _, stderr := wifiqKafka(t, records, "produce", "--brokers", brokers, "--topic", prefix+"_in")
	if code != ExitOK {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	splitArgs = []string{"--route", "4=" + prefix + "_probe", "--route", "8=" + prefix + "_beacon", "--other", prefix + "_other"}
	for _, subtype := range []string{"27", "28", "29", "36"} {
		splitArgs = append(splitArgs, "--route", subtype+"="+prefix+"_ctl")
	}
	return prefix, records, topics, splitArgs
}

func TestSplitAvroMatchesJSON(t *testing.T) {
	brokers := realKafka(t)
	registry := realRegistry(t)
	prefix, records, topics, routes := avroSplitSetup(t, brokers)

	args := append([]string{"split", "--brokers", brokers, "--from", "kafka:" + prefix + "_in", "--to", "kafka", "--format", "avro", "--registry", registry}, routes...)
	res := invokeSplitCLI(t, context.Background(), nil, args...)
	if res.code != ExitOK {
		t.Fatalf("split --format avro: exit %d: %s", res.code, res.stderr)
	}

	// The JSON path on the same records is the reference.
	dir := t.TempDir()
	jsonRes := invokeCLI(t, strings.NewReader(records), append([]string{"split", "-q", "--out-dir", dir}, routes...)...)
	if jsonRes.code != ExitOK {
		t.Fatalf("split --out-dir: exit %d: %s", jsonRes.code, jsonRes.stderr)
	}

	for _, topic := range topics {
		want, err := os.ReadFile(filepath.Join(dir, topic+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		values := waitForCommitted(t, brokers, topic, strings.Count(string(want), "\n"))
		if len(values) == 0 || values[0][0] != 0 {
			t.Fatalf("%s: %d values, want Avro values starting with the magic byte 0", topic, len(values))
		}

		code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", topic, "--registry", registry)
		if code != ExitOK {
			t.Fatalf("consume %s: exit %d: %s", topic, code, stderr)
		}
		if stdout != string(want) {
			t.Errorf("consume %s gave records that differ from split --out-dir:\n%s\nwant\n%s", topic, firstLines(stdout, 3), firstLines(string(want), 3))
		}

		// stats reads the registry from the environment.
		t.Setenv(avro.EnvURL, registry)
		code, fromTopic, stderr := wifiqKafka(t, "", "stats", "--from", "kafka:"+topic, "--brokers", brokers, "-o", "csv")
		t.Setenv(avro.EnvURL, "")
		if code != ExitOK {
			t.Fatalf("stats --from kafka:%s: exit %d: %s", topic, code, stderr)
		}
		fromFile := invokeCLI(t, strings.NewReader(string(want)), "stats", "-o", "csv")
		if fromTopic != fromFile.stdout {
			t.Errorf("stats of %s:\n%s\nstats of the JSON file:\n%s", topic, fromTopic, fromFile.stdout)
		}

		checkRegisteredSchema(t, registry, topic, string(want))
	}
}

// checkRegisteredSchema checks that the latest schema under TOPIC-value has
// a field for every key of the JSON records, and no other.
func checkRegisteredSchema(t *testing.T, url, topic, jsonLines string) {
	t.Helper()
	registry, err := avro.NewRegistry(avro.RegistrySettings{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	latest, _, ok, err := registry.Latest(context.Background(), topic+"-value")
	if err != nil || !ok {
		t.Fatalf("subject %s-value: found %v, %v", topic, ok, err)
	}
	schema, err := avro.FromRegistered(topic, latest)
	if err != nil {
		t.Fatalf("subject %s-value does not hold a derived schema: %v", topic, err)
	}
	var wantKeys []string
	for _, rec := range jsonRows(t, jsonLines) {
		for key := range rec {
			if key != "timestamp" && !slices.Contains(wantKeys, key) {
				wantKeys = append(wantKeys, key)
			}
		}
	}
	got := schema.Keys()
	slices.Sort(got)
	slices.Sort(wantKeys)
	if !slices.Equal(got, wantKeys) {
		t.Errorf("subject %s-value has fields %v, want the record keys %v", topic, got, wantKeys)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func TestSplitAvroRejectedSchemaAborts(t *testing.T) {
	brokers := realKafka(t)
	url := realRegistry(t)
	prefix, _, topics, routes := avroSplitSetup(t, brokers)

	// A user's version of the probe subject in which wlan_sa is a plain
	// string, with compatibility FULL: the derived schema, where it is a
	// nullable array, may not follow it.
	registry, err := avro.NewRegistry(avro.RegistrySettings{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subject := prefix + "_probe-value"
	user := fmt.Sprintf(`{"type":"record","name":"%s_probe","namespace":"wifiq","fields":[`+
		`{"name":"timestamp","type":"long"},{"name":"wlan_sa","type":"string"}]}`, prefix)
	if _, err := registry.Register(ctx, subject, user); err != nil {
		t.Fatal(err)
	}
	if err := registry.SetCompatibility(ctx, subject, "FULL"); err != nil {
		t.Fatal(err)
	}

	args := append([]string{"split", "--brokers", brokers, "--from", "kafka:" + prefix + "_in", "--to", "kafka", "--format", "avro", "--registry", url}, routes...)
	res := invokeSplitCLI(t, ctx, nil, args...)
	if res.code != ExitFailure {
		t.Fatalf("split: exit %d, want %d: %s", res.code, ExitFailure, res.stderr)
	}
	for _, want := range []string{"aborted the open transaction", "subject " + subject, "error code", "ncompatible"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, res.stderr)
		}
	}
	for _, topic := range topics {
		if values := readCommitted(t, brokers, topic); len(values) != 0 {
			t.Errorf("%s shows %d records to read_committed consumers, want none", topic, len(values))
		}
	}
}

func TestConsumeAvroUnknownSchemaSkipped(t *testing.T) {
	brokers := realKafka(t)
	url := realRegistry(t)
	topic := fmt.Sprintf("avro%d_unknown", time.Now().UnixNano())
	createTopics(t, brokers, topic)
	good := `{"timestamp":"1537621366598","wlan_fc_type_subtype":["4"]}`
	produceRawValues(t, brokers, topic, []byte{0, 0x7f, 0xff, 0xff, 0xf0, 2, 4}, []byte(good))

	code, stdout, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", topic, "--registry", url)
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	if stdout != good+"\n" {
		t.Errorf("stdout %q, want the JSON record only", stdout)
	}
	for _, want := range []string{"offset=0", "schema ID 2147483632 not found", "1 message skipped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
}

// produceRawValues writes raw values to a topic with a plain franz-go client.
func produceRawValues(t *testing.T, brokers, topic string, values ...[]byte) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTestTimeout)
	defer cancel()
	for _, v := range values {
		if err := client.ProduceSync(ctx, &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConsumeAvroWithoutRegistry(t *testing.T) {
	brokers := fakeKafka(t, 1, "pcap_probe")
	t.Setenv(avro.EnvURL, "")
	produceRawValues(t, brokers, "pcap_probe", []byte{0, 0, 0, 0, 7, 2, 4})

	code, _, stderr := wifiqKafka(t, "", "consume", "--brokers", brokers, "--topic", "pcap_probe")
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	for _, want := range []string{"topic pcap_probe partition 0 offset 0", "schema ID 7", "no schema registry is set", avro.EnvURL} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}

	code, _, stderr = wifiqKafka(t, "", "stats", "--brokers", brokers, "--from", "kafka:pcap_probe")
	if code != ExitFailure || !strings.Contains(stderr, "offset 0") || !strings.Contains(stderr, avro.EnvURL) {
		t.Errorf("stats: exit %d, want %d and the position and %s in:\n%s", code, ExitFailure, avro.EnvURL, stderr)
	}

	// The sinks give the same hint.
	if os.Getenv("PGHOST") != "" {
		code, _, stderr = wifiqKafka(t, "", "sink", "postgres", "--brokers", brokers, "--from", "kafka:pcap_probe", "--table", fmt.Sprintf("noregistry_%d", time.Now().UnixNano()))
		if code != ExitFailure || !strings.Contains(stderr, "offset 0") || !strings.Contains(stderr, avro.EnvURL) {
			t.Errorf("sink postgres: exit %d, want %d and the position and %s in:\n%s", code, ExitFailure, avro.EnvURL, stderr)
		}
	}
}

func TestSplitAvroInvalidFlags(t *testing.T) {
	t.Setenv(avro.EnvURL, "")
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown format":   {[]string{"--from", "kafka:pcap", "--to", "kafka", "--format", "xml"}, `invalid --format "xml"`},
		"avro to files":    {[]string{"--out-dir", "x", "--format", "avro", "--registry", "http://127.0.0.1:1"}, "--format avro needs --to kafka"},
		"avro no registry": {[]string{"--from", "kafka:pcap", "--to", "kafka", "--format", "avro"}, "needs a schema registry"},
		"credentials":      {[]string{"--from", "kafka:pcap", "--to", "kafka", "--format", "avro", "--registry", "http://u:p@127.0.0.1:1"}, "WIFIQ_SCHEMA_REGISTRY_PASSWORD"},
		"not a URL":        {[]string{"--from", "kafka:pcap", "--to", "kafka", "--format", "avro", "--registry", "127.0.0.1:8081"}, "want an http:// or https:// URL"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res := invokeCLI(t, nil, append([]string{"split"}, c.args...)...)
			if res.code != ExitUsage {
				t.Errorf("exit %d, want %d", res.code, ExitUsage)
			}
			if !strings.Contains(res.stderr, c.want) {
				t.Errorf("stderr does not contain %q:\n%s", c.want, res.stderr)
			}
		})
	}
}

// An Avro topic that split wrote reads in every consumer of topics: enrich
// in its transactional --group mode, and the sinks.
func TestAvroTopicEnrichAndSink(t *testing.T) {
	brokers := realKafka(t)
	registry := realRegistry(t)
	conn := requirePostgres(t)
	prefix, records, _, routes := avroSplitSetup(t, brokers)
	args := append([]string{"split", "--brokers", brokers, "--from", "kafka:" + prefix + "_in", "--to", "kafka", "--format", "avro", "--registry", registry}, routes...)
	if res := invokeSplitCLI(t, context.Background(), nil, args...); res.code != ExitOK {
		t.Fatalf("split --format avro: exit %d: %s", res.code, res.stderr)
	}
	// The brokers write the commit markers of split's last transaction
	// after split has ended, so wait until every probe request is visible.
	waitForCommitted(t, brokers, prefix+"_probe", statsCounts(t, records)[4])
	t.Setenv(avro.EnvURL, registry)

	// The JSON path on the same records is the reference.
	want := invokeCLI(t, strings.NewReader(records), "enrich", "--devices", enrichKillDevices)
	if want.code != ExitOK || want.stdout == "" {
		t.Fatalf("enrich of the records file: exit %d, %d bytes: %s", want.code, len(want.stdout), want.stderr)
	}
	out := prefix + "_enriched"
	createTopics(t, brokers, out)
	code, _, stderr := wifiqKafka(t, "", "enrich", "--brokers", brokers, "--from", "kafka:"+prefix+"_probe", "--to", "kafka:"+out,
		"--group", prefix+"-enrich", "--devices", enrichKillDevices)
	if code != ExitOK {
		t.Fatalf("enrich --group of the Avro topic: exit %d: %s", code, stderr)
	}
	var got strings.Builder
	for _, v := range waitForCommitted(t, brokers, out, strings.Count(want.stdout, "\n")) {
		got.WriteString(v)
		got.WriteByte('\n')
	}
	if got.String() != want.stdout {
		t.Errorf("enrich --group of the Avro topic wrote\n%s\nwant\n%s", firstLines(got.String(), 3), firstLines(want.stdout, 3))
	}

	table := uniqueTable(t, conn, "avro_probes")
	res := invokeSinkCLI(t, "", "sink", "postgres", "--brokers", brokers, "--from", "kafka:"+prefix+"_probe", "--table", table)
	if res.code != ExitOK {
		t.Fatalf("sink postgres of the Avro topic: exit %d: %s", res.code, res.stderr)
	}
	var rows int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if probes := strings.Count(want.stdout, "\n"); rows != probes {
		t.Errorf("sink postgres wrote %d rows of the Avro topic, want its %d probe requests", rows, probes)
	}
}

// waitForCommitted reads topic with read_committed until it has n records,
// for at most a minute, and returns them. A transaction's records become
// visible once the brokers have written its commit markers, which may be
// after the producer has ended.
func waitForCommitted(t *testing.T, brokers, topic string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		values := readCommitted(t, brokers, topic)
		if len(values) >= n || time.Now().After(deadline) {
			return values
		}
		time.Sleep(200 * time.Millisecond)
	}
}
