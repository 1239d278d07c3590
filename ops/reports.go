package ops

import (
	"github.com/wifiq/wifiq/record"
)

// ProbeRequest is wlan.fc.type_subtype of a probe request.
const ProbeRequest = 0x04

// probeRequestFields are the fields IsProbeRequest reads.
var probeRequestFields = []string{"wlan_fc_type_subtype"}

// IsProbeRequest reports whether rec is a probe request, in either value
// style.
func IsProbeRequest(rec *record.Record) bool {
	if v, _ := rec.First("wlan_fc_type_subtype"); v == "4" {
		return true // the classic style's form, without parsing it
	}
	ts, ok := rec.TypeSubtype()
	return ok && ts == ProbeRequest
}

// SignalDBm is wlan_radio.signal_dbm as an integer.
func SignalDBm() Expr { return FieldInt("wlan_radio_signal_dbm").As("signal_dbm") }

// DeviceQuery is the per-device probe table: for every device that sent
// probe requests, how many, when, how strongly it was received and for
// which networks it asked. The device is named by deviceField when a record
// carries it (a field that enrichment added), else by wlan.sa_resolved. In
// ksqlDB:
//
//	SELECT device, COUNT(*) AS probes, MIN(ROWTIME), MAX(ROWTIME),
//	  MIN(signal_dbm), MAX(signal_dbm), AVG(signal_dbm), COLLECT_SET(ssid),
//	  COUNT_DISTINCT(ssid), COUNT_DISTINCT(wlan_da[1])
//	FROM probes GROUP BY device
//
// The wildcard SSID is left out of the SSIDs, because a wildcard probe
// names no network.
func DeviceQuery(deviceField string, window WindowSpec) Query {
	return Query{
		Where:       IsProbeRequest,
		WhereFields: probeRequestFields,
		GroupBy:     []Expr{SourceDevice(deviceField)},
		Window:      window,
		Aggregates: []Aggregate{
			{Name: "probes", Func: Count},
			{Name: "earliest", Func: Min, Arg: EventTime()},
			{Name: "latest", Func: Max, Arg: EventTime()},
			{Name: "min_dbm", Func: Min, Arg: SignalDBm()},
			{Name: "max_dbm", Func: Max, Arg: SignalDBm()},
			{Name: "avg_dbm", Func: Avg, Arg: SignalDBm()},
			{Name: "ssids", Func: CollectSet, Arg: DirectedSSID()},
			{Name: "distinct_ssids", Func: CountDistinct, Arg: DirectedSSID()},
			{Name: "distinct_destinations", Func: CountDistinct, Arg: Field("wlan_da")},
		},
	}
}

// ProbesQuery counts probe requests and their distinct source addresses
// per window (per day with a 1d Tumbling window), and how many of the
// addresses are locally administered, which is how randomised addresses
// show.
func ProbesQuery(window WindowSpec) Query {
	return Query{
		Where:       IsProbeRequest,
		WhereFields: probeRequestFields,
		Window:      window,
		Aggregates: []Aggregate{
			{Name: "probes", Func: Count},
			{Name: "macs", Func: CountDistinct, Arg: SourceAddress()},
			{Name: "randomised_macs", Func: CountDistinct, Arg: When(Randomised(), SourceAddress())},
		},
	}
}
