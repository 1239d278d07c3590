package enrich

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wifiq/wifiq/capture"
)

// infrastructureTypes are the values of the "type" field of the UniFi
// controller's ace.device documents: access points, switches, gateways,
// Dream Machines and building bridges.
var infrastructureTypes = map[string]bool{"uap": true, "usw": true, "ugw": true, "udm": true, "uxg": true, "ubb": true}

// ParseDocument reads one JSON device document:
//   - a plain device or a UniFi document as mongoexport writes it, from
//     ace.user (mac, name, hostname, is_guest, oui) or ace.device;
//   - a Debezium MongoDB change event, with or without its schema
//     envelope, whose "after" contains the document as a JSON string (or
//     an object); op "d" is a delete.
//
// Ubiquiti infrastructure gets Change.Skip set: an ace.device document
// (its "type" is uap, usw, ugw, udm, uxg or ubb, or it has an "adopted"
// field), and an ace.user document whose oui names Ubiquiti, which is how
// a mesh access point's uplink shows up as a client.
func ParseDocument(data []byte) (Change, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return Change{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if payload, ok := doc["payload"].(map[string]any); ok {
		doc = payload
	}
	if _, isEvent := doc["op"]; isEvent {
		return parseChangeEvent(doc)
	}
	return parseDevice(doc)
}

// parseChangeEvent reads a Debezium change event.
func parseChangeEvent(event map[string]any) (Change, error) {
	op, _ := event["op"].(string)
	if op == "d" {
		return parseDeleteEvent(event)
	}
	after, err := embeddedDocument(event["after"])
	if err != nil {
		return Change{}, fmt.Errorf("invalid \"after\" of a change event with op %q: %v", op, err)
	}
	if after == nil {
		return Change{}, fmt.Errorf("change event with op %q has no \"after\" document", op)
	}
	c, err := parseDevice(after)
	c.FromEvent = true
	return c, err
}

// parseDeleteEvent reads the MAC address from "before" when the connector
// sends it, else the document id from "filter" or the key's "id".
func parseDeleteEvent(event map[string]any) (Change, error) {
	if before, err := embeddedDocument(event["before"]); err == nil && before != nil {
		if c, err := parseDevice(before); err == nil {
			c.Delete, c.FromEvent = true, true
			return c, nil
		}
	}
	for _, field := range []string{"filter", "id"} {
		doc, err := embeddedDocument(event[field])
		if err == nil && doc != nil {
			if id := documentID(doc["_id"]); id != "" {
				return Change{Delete: true, ID: id, FromEvent: true}, nil
			}
		}
	}
	return Change{}, fmt.Errorf("delete event names neither a MAC address in \"before\" nor a document id in \"filter\"")
}

// embeddedDocument returns a document given as an object or as a JSON
// string, or nil for null.
func embeddedDocument(v any) (map[string]any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	case string:
		var doc map[string]any
		if err := json.Unmarshal([]byte(v), &doc); err != nil {
			return nil, err
		}
		return doc, nil
	}
	return nil, fmt.Errorf("want an object or a JSON string, got %T", v)
}

// documentID renders a MongoDB _id: {"$oid": "..."} or a plain value.
func documentID(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if oid, ok := v["$oid"].(string); ok {
			return oid
		}
	case string:
		return v
	}
	return ""
}

// parseDevice reads a device document.
func parseDevice(doc map[string]any) (Change, error) {
	macText, _ := doc["mac"].(string)
	if macText == "" {
		return Change{}, fmt.Errorf("missing \"mac\"")
	}
	mac, err := capture.ParseMAC(macText)
	if err != nil {
		return Change{}, err
	}
	c := Change{HasMAC: true, ID: documentID(doc["_id"])}
	c.Device = Device{
		MAC:      mac,
		Name:     stringField(doc, "name"),
		Hostname: stringField(doc, "hostname"),
		OUI:      stringField(doc, "oui"),
	}
	if c.Device.IsGuest, err = boolField(doc["is_guest"]); err != nil {
		return Change{}, fmt.Errorf("invalid \"is_guest\": %v", err)
	}
	c.Skip = infrastructureReason(doc)
	return c, nil
}

// infrastructureReason returns why a document is Ubiquiti infrastructure,
// or "".
func infrastructureReason(doc map[string]any) string {
	if t, _ := doc["type"].(string); infrastructureTypes[t] {
		return fmt.Sprintf("a UniFi device of type %s", t)
	}
	if _, ok := doc["adopted"]; ok {
		return "a UniFi device (it has \"adopted\")"
	}
	if oui := stringField(doc, "oui"); strings.Contains(strings.ToLower(oui), "ubiquiti") {
		return fmt.Sprintf("a client whose oui is %s", oui)
	}
	return ""
}

func stringField(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return strings.TrimSpace(s)
}

// boolField reads a JSON boolean, or a string or number as CSV and some
// exports write it; absent is false.
func boolField(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case float64:
		return v != 0, nil
	case string:
		return ParseBool(v)
	}
	return false, fmt.Errorf("want true or false, got %v", v)
}

// ParseBool reads true/false, 1/0, yes/no (any case); empty is false.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0", "no":
		return false, nil
	case "true", "1", "yes":
		return true, nil
	}
	return false, fmt.Errorf("want true or false, got %s", strconv.Quote(s))
}
