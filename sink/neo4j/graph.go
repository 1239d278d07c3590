package neo4j

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/wifiq/wifiq/record"
)

// Query is one Cypher statement with its parameters.
type Query struct {
	Text   string
	Params map[string]any
}

// Mode turns records into the queries of a transaction: a user's Cypher
// template or a built-in graph.
type Mode struct {
	// Name identifies the mode in logs and in the stored Kafka offsets.
	Name string
	// Setup runs once at start, each statement in its own transaction
	// (schema statements cannot share one with writes).
	Setup []string
	// Event converts a record into the value the queries receive, or
	// returns the reason to reject it.
	Event func(*record.Record) (map[string]any, error)
	// Queries builds the statements that write events in one transaction.
	Queries func(events []map[string]any) []Query
	// Check, when set, is a statement that the server plans (EXPLAIN) at
	// start, so that a template with a syntax error fails once instead of
	// rejecting every record.
	Check *Query
}

// CypherMode runs template once per batch as UNWIND $events AS event
// followed by the template, the convention of the Kafka Connect Neo4j sink.
// event is a map of the record's fields, each a list of strings, plus
// timestamp in milliseconds since the Unix epoch as an integer.
func CypherMode(template string) (Mode, error) {
	template = strings.TrimSpace(template)
	if template == "" {
		return Mode{}, fmt.Errorf("invalid --cypher: the template is empty; give a statement such as 'MERGE (d:Device {mac: event.wlan_sa[0]})'")
	}
	text := "UNWIND $events AS event\n" + template
	sum := sha256.Sum256([]byte(template))
	return Mode{
		Name:  "cypher:" + hex.EncodeToString(sum[:8]),
		Event: recordEvent,
		Queries: func(events []map[string]any) []Query {
			return []Query{{Text: text, Params: map[string]any{"events": eventList(events)}}}
		},
		Check: &Query{Text: "EXPLAIN " + text, Params: map[string]any{"events": []any{}}},
	}, nil
}

func eventList(events []map[string]any) []any {
	list := make([]any, len(events))
	for i, e := range events {
		list[i] = e
	}
	return list
}

// recordEvent converts a record into the map that a template reads as event.
func recordEvent(rec *record.Record) (map[string]any, error) {
	event := make(map[string]any, len(rec.Fields)+1)
	for _, f := range rec.Fields {
		event[f.Key] = slices.Clone(f.Values)
	}
	if !rec.NoTimestamp {
		event["timestamp"] = rec.Timestamp
	}
	return event, nil
}

// GraphNames lists the built-in graphs for --graph.
var GraphNames = []string{"probes"}

// GraphMode returns the built-in graph of that name.
func GraphMode(name string) (Mode, error) {
	if name != "probes" {
		return Mode{}, fmt.Errorf("invalid --graph %q: want one of %s", name, strings.Join(GraphNames, ", "))
	}
	return Mode{
		Name: "graph:probes",
		Setup: []string{
			"CREATE CONSTRAINT wifiq_device_mac IF NOT EXISTS FOR (d:Device) REQUIRE d.mac IS UNIQUE",
			"CREATE CONSTRAINT wifiq_ssid_name IF NOT EXISTS FOR (s:SSID) REQUIRE s.name IS UNIQUE",
		},
		Event:   probeEvent,
		Queries: probeQueries,
	}, nil
}

// probeEvent reads the fields of an enriched probe request (the output of
// wifiq enrich) or of a plain one.
func probeEvent(rec *record.Record) (map[string]any, error) {
	if subtype, ok := rec.TypeSubtype(); ok && subtype != 4 {
		return nil, fmt.Errorf("not a probe request: wlan_fc_type_subtype is %d, want 4", subtype)
	}
	if rec.NoTimestamp {
		return nil, fmt.Errorf(`missing "timestamp": the probes graph needs the time of each probe request`)
	}
	sa, ok := rec.First("wlan_sa")
	if !ok || sa == "" {
		return nil, fmt.Errorf("missing wlan_sa: the probes graph needs the source address")
	}
	mac, err := net.ParseMAC(sa)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("invalid wlan_sa %q: want a MAC address such as 2c:f0:a2:dd:bc:d0", sa)
	}
	event := map[string]any{
		"mac":       mac.String(),
		"ssid":      "",
		"is_known":  false,
		"timestamp": rec.Timestamp,
	}
	if ssid, ok := rec.First("wlan_ssid"); ok {
		event["ssid"] = ssid
	}
	if name, ok := rec.First("device_name"); ok {
		event["name"] = name
	}
	if resolved, ok := rec.First("wlan_sa_resolved"); ok {
		event["resolved"] = resolved
	}
	if known, ok := rec.First("is_known_device"); ok {
		event["is_known"] = known == "true"
	}
	return event, nil
}

// The probes graph, written so that applying the same records again leaves
// it unchanged:
//
//   - A Device takes name, resolved and is_known from its latest probe
//     request, and last_seen records that probe's time. An older record
//     does not overwrite newer values.
//   - A LOOKED_FOR_SSID relationship counts a probe request only when its
//     time is later than the relationship's last_seen. A record applied a
//     second time is therefore not counted again. The cost: probe requests
//     of one device for one SSID must arrive in time order. A late one
//     (older than last_seen) moves first_seen but is not counted, and two
//     probe requests in the same millisecond that land in different
//     batches count once.
//   - A wildcard probe request (empty SSID) updates the Device only.
//
// The time order holds for a capture and for a topic partition that the
// capture was written to in order.
const (
	deviceQuery = `UNWIND $devices AS d
MERGE (n:Device {mac: d.mac})
WITH n, d
WHERE n.last_seen IS NULL OR d.last >= n.last_seen.epochMillis
SET n.name = d.name, n.resolved = d.resolved, n.is_known = d.is_known,
    n.last_seen = datetime({epochMillis: d.last})`

	pairQuery = `UNWIND $pairs AS p
MATCH (d:Device {mac: p.mac})
MERGE (s:SSID {name: p.ssid})
MERGE (d)-[r:LOOKED_FOR_SSID]->(s)
WITH r, p, coalesce(r.last_seen.epochMillis, -9223372036854775808) AS seen
WITH r, p, seen, size([t IN p.times WHERE t > seen]) AS fresh
SET r.probes = coalesce(r.probes, 0) + fresh,
    r.first_seen = CASE WHEN r.first_seen IS NULL OR p.first < r.first_seen.epochMillis
                        THEN datetime({epochMillis: p.first}) ELSE r.first_seen END,
    r.last_seen = CASE WHEN p.last > seen THEN datetime({epochMillis: p.last}) ELSE r.last_seen END`
)

type pairKey struct{ mac, ssid string }

// probeQueries groups the events of a batch by device and by device and
// SSID, so each node and relationship is written once per transaction.
func probeQueries(events []map[string]any) []Query {
	devices := map[string]map[string]any{}
	var deviceOrder []string
	pairs := map[pairKey]map[string]any{}
	var pairOrder []pairKey

	for _, e := range events {
		mac := e["mac"].(string)
		ts := e["timestamp"].(int64)
		d, ok := devices[mac]
		if !ok {
			deviceOrder = append(deviceOrder, mac)
		}
		// The latest probe request sets the device's values; on equal
		// times the later record in the input wins.
		if !ok || ts >= d["last"].(int64) {
			devices[mac] = map[string]any{
				"mac": mac, "name": e["name"], "resolved": e["resolved"],
				"is_known": e["is_known"], "last": ts,
			}
		}

		ssid := e["ssid"].(string)
		if ssid == "" {
			continue
		}
		key := pairKey{mac, ssid}
		p, ok := pairs[key]
		if !ok {
			p = map[string]any{"mac": mac, "ssid": ssid, "times": []int64{}, "first": ts, "last": ts}
			pairs[key] = p
			pairOrder = append(pairOrder, key)
		}
		p["times"] = append(p["times"].([]int64), ts)
		p["first"] = min(p["first"].(int64), ts)
		p["last"] = max(p["last"].(int64), ts)
	}

	deviceList := make([]any, len(deviceOrder))
	for i, mac := range deviceOrder {
		deviceList[i] = devices[mac]
	}
	pairList := make([]any, len(pairOrder))
	for i, key := range pairOrder {
		pairList[i] = pairs[key]
	}
	queries := []Query{{Text: deviceQuery, Params: map[string]any{"devices": deviceList}}}
	if len(pairList) > 0 {
		queries = append(queries, Query{Text: pairQuery, Params: map[string]any{"pairs": pairList}})
	}
	return queries
}
