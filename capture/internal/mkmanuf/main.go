// Command mkmanuf builds wifiq's built-in manufacturer table from the IEEE
// registration authority's CSV files (Debian's ieee-data package). It
// shortens each organisation name the way Wireshark's manuf file does and
// writes gzip-compressed "prefix<TAB>short name" lines.
//
// Usage: go run ./capture/internal/mkmanuf -dir /usr/share/ieee-data -o capture/manuf.txt.gz [-compare /usr/share/wireshark/manuf]
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	dir := flag.String("dir", "/usr/share/ieee-data", "directory with oui.csv, mam.csv, oui36.csv and iab.csv")
	out := flag.String("o", "capture/manuf.txt.gz", "output file")
	compare := flag.String("compare", "", "a Wireshark manuf file to compare the short names with")
	flag.Parse()
	if err := run(*dir, *out, *compare); err != nil {
		fmt.Fprintln(os.Stderr, "mkmanuf:", err)
		os.Exit(1)
	}
}

type entry struct {
	prefix string // "00:50:C2:80:00:00/36" or "00:50:F2"
	short  string
}

// registries lists the CSV files and the prefix length of their assignments.
var registries = []struct {
	file string
	bits int
}{
	{"oui.csv", 24},
	{"mam.csv", 28},
	{"oui36.csv", 36},
	{"iab.csv", 36},
}

func run(dir, out, compare string) error {
	var entries []entry
	for _, reg := range registries {
		e, err := readRegistry(filepath.Join(dir, reg.file), reg.bits)
		if err != nil {
			return err
		}
		entries = append(entries, e...)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].prefix < entries[j].prefix })

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(zw)
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\n", e.prefix, e.short)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkmanuf: wrote %d assignments to %s\n", len(entries), out)
	if compare != "" {
		return compareShortNames(entries, compare)
	}
	return nil
}

func readRegistry(path string, bits int) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var entries []entry
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if line == 1 || len(rec) < 3 {
			continue // header
		}
		hexDigits := strings.ToUpper(strings.TrimSpace(rec[1]))
		if len(hexDigits) != bits/4 {
			return nil, fmt.Errorf("%s line %d: assignment %q is not %d hex digits", path, line, hexDigits, bits/4)
		}
		entries = append(entries, entry{prefix: formatPrefix(hexDigits, bits), short: Shorten(rec[2])})
	}
	return entries, nil
}

// formatPrefix writes an assignment as Wireshark writes it: three octets for
// an OUI, six octets and a prefix length otherwise.
func formatPrefix(hexDigits string, bits int) string {
	padded := hexDigits + strings.Repeat("0", 12-len(hexDigits))
	var octets []string
	n := 6
	if bits == 24 {
		n = 3
	}
	for i := 0; i < n; i++ {
		octets = append(octets, padded[2*i:2*i+2])
	}
	s := strings.Join(octets, ":")
	if bits != 24 {
		s += fmt.Sprintf("/%d", bits)
	}
	return s
}

var (
	punctuation  = regexp.MustCompile(`[',.()]`)
	generalWords = regexp.MustCompile(`(?i)(^|\s)(the|incorporated|inc|plc|systems|corporation|corp|s/a|a/s|ab|ag|kg|gmbh|company|co|limited|ltd|holding|spa|llc)(\s|$)`)
)

// Shorten turns an organisation name into a manufacturer short name:
// collapse white space, title-case a name written in capitals only, turn
// punctuation into spaces, drop "&" and general words (Inc, Ltd, Co, Corp,
// GmbH, LLC, ...), remove the spaces and keep 8 characters.
func Shorten(name string) string {
	name = strings.Join(strings.Fields(name), " ")
	if name != "" && strings.ToUpper(name) == name {
		name = titleCase(name)
	}
	name = punctuation.ReplaceAllString(name, " ")
	name = " " + strings.ReplaceAll(name, " & ", " ") + " "
	for {
		shorter := generalWords.ReplaceAllString(name, " ")
		if shorter == name {
			break
		}
		name = shorter
	}
	name = strings.Join(strings.Fields(name), "")
	runes := []rune(name)
	if len(runes) > 8 {
		runes = runes[:8]
	}
	return string(runes)
}

// titleCase capitalises the first letter of every word and lowers the rest.
func titleCase(s string) string {
	out := []rune(strings.ToLower(s))
	start := true
	for i, r := range out {
		if unicode.IsLetter(r) {
			if start {
				out[i] = unicode.ToUpper(r)
			}
			start = false
		} else {
			start = !unicode.IsDigit(r)
		}
	}
	return string(out)
}

// compareShortNames prints how many short names agree with a Wireshark manuf
// file for the prefixes both contain.
func compareShortNames(entries []entry, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	theirs := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), "\t")
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") {
			theirs[strings.ToUpper(fields[0])] = fields[1]
		}
	}
	both, same := 0, 0
	for _, e := range entries {
		if short, ok := theirs[e.prefix]; ok {
			both++
			if short == e.short {
				same++
			}
		}
	}
	fmt.Fprintf(os.Stderr, "mkmanuf: %d of %d short names shared with %s agree (%.1f%%)\n",
		same, both, path, 100*float64(same)/float64(max(both, 1)))
	return nil
}
