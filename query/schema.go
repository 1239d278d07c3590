// Package query loads decoded 802.11 frames into DuckDB and runs SQL over
// them. Captures (pcap, pcapng, gzip-compressed) and record files (JSON
// lines in either value style, or tshark -T ek) become one packets view with
// typed columns, and views for each kind of frame.
//
// Loading goes through DuckDB's Appender into a compact table of numbers.
// Addresses are 48-bit integers, and the information elements (SSID, vendor
// elements, country, WPS device name) are a key into a per-file dictionary.
// The reason is that the Appender makes a cgo call for every text value: in
// a trial, a dozen text columns took six times as long to append as the
// frames took to decode. The packets view turns the numbers back into text
// with joins on small tables. A per-file cache keeps the compact table and the dictionary as
// Parquet files, so unchanged captures are not decoded again.
package query

import (
	"fmt"
	"strings"
)

// schemaVersion changes whenever the compact tables or the decoding of a
// column change, so that cache entries written by an older wifiq are not
// read.
const schemaVersion = "1"

// Sentinels of the load tables. The Appender writes a NULL with one cgo call
// per value, so missing values are written as these numbers and turned into
// NULL in SQL.
const (
	noNumber  = -1        // type, type_subtype, channel, frequency, duration, frame_len, frame_number
	noSignal  = -1 << 31  // signal_dbm, which is negative
	noAddress = -1        // addresses, stored as 48-bit numbers
	noElement = uint64(0) // elements key
)

// loadFramesColumns is the table the Appender fills, in AppendRow order.
const loadFramesColumns = `
	time_us      BIGINT,
	frame_number INTEGER,
	type         SMALLINT,
	type_subtype INTEGER,
	channel      INTEGER,
	frequency    INTEGER,
	signal_dbm   INTEGER,
	duration     INTEGER,
	frame_len    INTEGER,
	malformed    BOOLEAN,
	ra BIGINT, da BIGINT, ta BIGINT, sa BIGINT, staa BIGINT, bssid BIGINT,
	elements     UBIGINT`

// compactSelect turns a load table into the compact packets table, the
// shape cached as Parquet: sentinels become NULL, microseconds a TIMESTAMP,
// and the source file is added as a column.
func compactSelect(loadTable, sourceFile string) string {
	return fmt.Sprintf(`SELECT
	make_timestamp(time_us) AS time,
	nullif(frame_number, %[3]d) AS frame_number,
	nullif(type, %[3]d)::UTINYINT AS type,
	nullif(type_subtype, %[3]d) AS type_subtype,
	nullif(channel, %[3]d) AS channel,
	nullif(frequency, %[3]d) AS frequency,
	nullif(signal_dbm, %[4]d) AS signal_dbm,
	nullif(duration, %[3]d) AS duration,
	nullif(frame_len, %[3]d) AS frame_len,
	malformed,
	nullif(ra, %[5]d)::UBIGINT AS ra,
	nullif(da, %[5]d)::UBIGINT AS da,
	nullif(ta, %[5]d)::UBIGINT AS ta,
	nullif(sa, %[5]d)::UBIGINT AS sa,
	nullif(staa, %[5]d)::UBIGINT AS staa,
	nullif(bssid, %[5]d)::UBIGINT AS bssid,
	nullif(elements, %[6]d) AS elements,
	%[2]s AS source_file
FROM %[1]s`, loadTable, quoteString(sourceFile), noNumber, noSignal, noAddress, noElement)
}

// compactColumns is the schema of compactSelect's result, for empty tables.
const compactColumns = `
	time         TIMESTAMP,
	frame_number INTEGER,
	type         UTINYINT,
	type_subtype INTEGER,
	channel      INTEGER,
	frequency    INTEGER,
	signal_dbm   INTEGER,
	duration     INTEGER,
	frame_len    INTEGER,
	malformed    BOOLEAN,
	ra UBIGINT, da UBIGINT, ta UBIGINT, sa UBIGINT, staa UBIGINT, bssid UBIGINT,
	elements     UBIGINT,
	source_file  VARCHAR`

// elementsColumns is the dictionary of information elements: one row per
// distinct combination in a file, keyed by a hash of its contents.
const elementsColumns = `
	id              UBIGINT,
	ssid            VARCHAR,
	ssid_bytes      BLOB,
	vendor_oui      INTEGER[],
	vendor_oui_type INTEGER[],
	vendor_data     BLOB[],
	country         VARCHAR,
	wps_device_name VARCHAR`

// addressesColumns names every address seen in the packets: the text form
// and the resolved name.
const addressesColumns = `
	mac     UBIGINT PRIMARY KEY,
	address VARCHAR,
	name    VARCHAR`

// filesColumns describes each input of the last load.
const filesColumns = `
	source_file VARCHAR,
	format      VARCHAR,
	size        BIGINT,
	modified    TIMESTAMP,
	frames      BIGINT,
	malformed   BIGINT,
	skipped     BIGINT,
	cut_short   BOOLEAN,
	error       VARCHAR,
	from_cache  BOOLEAN`

// roles lists the address columns in the order of the compact table.
var roles = []string{"ra", "da", "ta", "sa", "staa", "bssid"}

// packetsView is the main view: the compact table with addresses, names,
// subtype names and information elements joined in.
func packetsView() string {
	var cols, joins strings.Builder
	for _, role := range roles {
		fmt.Fprintf(&cols, "\t%[1]s_a.address AS %[1]s,\n\t%[1]s_a.name AS %[1]s_resolved,\n", role)
		fmt.Fprintf(&joins, "LEFT JOIN addresses %[1]s_a ON p.%[1]s = %[1]s_a.mac\n", role)
	}
	return `CREATE OR REPLACE VIEW packets AS SELECT
	p.time,
	p.frame_number,
	p.type,
	p.type_subtype,
	coalesce(st.name, printf('Unknown (0x%04x)', p.type_subtype)) AS subtype_name,
	p.channel,
	p.frequency,
	p.signal_dbm,
	p.duration,
	p.frame_len,
	p.malformed,
` + cols.String() + `	e.ssid,
	e.ssid_bytes,
	e.vendor_oui,
	e.vendor_oui_type,
	e.vendor_data,
	e.country,
	e.wps_device_name,
	(coalesce(p.sa, p.ta) >> 41) & 1 = 1 AS randomised,
	p.source_file
FROM packets_compact p
LEFT JOIN subtypes st ON p.type_subtype = st.type_subtype
` + joins.String() + `LEFT JOIN elements e ON p.elements = e.id`
}

// kindViews are the views over packets for each kind of frame, by
// wlan.fc.type_subtype (or wlan.fc.type for the three frame types).
var kindViews = []struct{ name, where string }{
	{"association_requests", "type_subtype = 0"},
	{"association_responses", "type_subtype = 1"},
	{"reassociation_requests", "type_subtype = 2"},
	{"reassociation_responses", "type_subtype = 3"},
	{"probes", "type_subtype = 4"},
	{"probe_responses", "type_subtype = 5"},
	{"beacons", "type_subtype = 8"},
	{"disassociations", "type_subtype = 10"},
	{"authentications", "type_subtype = 11"},
	{"deauthentications", "type_subtype = 12"},
	{"actions", "type_subtype IN (13, 14)"},
	{"management_frames", "type = 0"},
	{"control_frames", "type = 1"},
	{"data_frames", "type = 2"},
}

// quoteString writes s as an SQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteList writes names as an SQL list of string literals.
func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quoteString(n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
