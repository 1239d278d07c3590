package enrich

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wifiq/wifiq/capture"
)

// Problem is a line of a device list that was not used in whole or part.
type Problem struct {
	File   string
	Line   int
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Reason) }

// csvColumns are the columns a CSV device list may have; mac is required.
var csvColumns = map[string]bool{"mac": true, "name": true, "hostname": true, "is_guest": true, "oui": true}

// LoadFile adds the devices of a device list to table: CSV with a header
// line, or JSON lines (device documents, mongoexport output or Debezium
// events, see ParseDocument), told apart by a first character of "{".
// Lines that cannot be used are returned as problems and the rest is
// loaded. A MAC address listed twice keeps its first entry, except that
// change events update it. The error is
// set only when the file cannot be read.
func LoadFile(path string, table *Table) (loaded int, skipped int, problems []Problem, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("unable to read the device list: %w", err)
	}
	// Spreadsheets that export "CSV UTF-8" start the file with a byte
	// order mark.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	l := &fileLoader{file: path, table: table, seen: map[capture.MAC]int{}}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		err = l.loadJSONLines(data)
	} else {
		err = l.loadCSV(data)
	}
	return l.loaded, l.skipped, l.problems, err
}

type fileLoader struct {
	file     string
	table    *Table
	seen     map[capture.MAC]int // line of each MAC address's first entry
	loaded   int
	skipped  int // infrastructure documents
	problems []Problem
}

func (l *fileLoader) problem(line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// add applies one change read at line.
func (l *fileLoader) add(line int, c Change) {
	if c.HasMAC && !c.Delete && !c.FromEvent {
		if first, dup := l.seen[c.Device.MAC]; dup {
			l.problem(line, "duplicate MAC address %s, first listed on line %d: this line is ignored", macString(c.Device.MAC), first)
			return
		}
		l.seen[c.Device.MAC] = line
	}
	if err := l.table.Apply(c); err != nil {
		l.problem(line, "%v", err)
		return
	}
	if c.Skip != "" {
		l.skipped++
		return
	}
	if !c.Delete {
		l.loaded++
	}
}

func (l *fileLoader) loadJSONLines(data []byte) error {
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 4<<20)
	for n := 1; scanner.Scan(); n++ {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) == 0 {
			continue
		}
		c, err := ParseDocument(line)
		if err != nil {
			l.problem(n, "%v: the line is ignored", err)
			continue
		}
		l.add(n, c)
	}
	return scanner.Err()
}

// loadCSV reads a device list in CSV with a header line. Each line is
// parsed on its own, so that an unclosed quote spoils only its line: device
// names never span lines.
func (l *fileLoader) loadCSV(data []byte) error {
	lines := strings.Split(string(data), "\n")
	parse := func(line string) ([]string, error) {
		r := csv.NewReader(strings.NewReader(strings.TrimSuffix(line, "\r")))
		r.FieldsPerRecord = -1
		r.TrimLeadingSpace = true
		return r.Read()
	}

	first := 0
	for first < len(lines) && strings.TrimSpace(lines[first]) == "" {
		first++
	}
	if first == len(lines) {
		return nil
	}
	header, err := parse(lines[first])
	if err != nil {
		return fmt.Errorf("%s line %d: invalid CSV header: %w", l.file, first+1, err)
	}
	columns := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		if !csvColumns[name] {
			l.problem(first+1, "unknown column %q is ignored: the columns are mac, name, hostname, is_guest and oui", name)
			continue
		}
		columns[name] = i
	}
	if _, ok := columns["mac"]; !ok {
		return fmt.Errorf("%s line %d: the header has no mac column: name the columns, for example mac,name,hostname,is_guest", l.file, first+1)
	}

	for i := first + 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "" {
			continue
		}
		fields, err := parse(lines[i])
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			l.problem(i+1, "invalid CSV: %v: the line is ignored", parseErr.Err)
			continue
		}
		if err != nil {
			return err
		}
		l.addCSVLine(i+1, columns, fields)
	}
	return nil
}

func (l *fileLoader) addCSVLine(line int, columns map[string]int, fields []string) {
	get := func(name string) string {
		i, ok := columns[name]
		if !ok || i >= len(fields) {
			return ""
		}
		return strings.TrimSpace(fields[i])
	}
	mac, err := capture.ParseMAC(get("mac"))
	if err != nil {
		l.problem(line, "malformed MAC address: %v: the line is ignored", err)
		return
	}
	guest, err := ParseBool(get("is_guest"))
	if err != nil {
		l.problem(line, "invalid is_guest: %v: the line is ignored", err)
		return
	}
	d := Device{MAC: mac, Name: get("name"), Hostname: get("hostname"), IsGuest: guest, OUI: get("oui")}
	l.add(line, Change{Device: d, HasMAC: true})
}

func macString(m capture.MAC) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
