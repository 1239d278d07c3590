package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wifiq/wifiq/capture"
)

// An unclosed quote spoils only its own line: the devices on the lines
// after it are loaded, and the problem names the line.
func TestLoadCSVUnclosedQuote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.csv")
	data := strings.Join([]string{
		"mac,name,is_guest",
		"2c:f0:a2:dd:bc:d0,Alice's phone,false",
		`64:bc:0c:50:13:a9,"Bob's TV,false`,
		"00:11:22:33:44:55,Printer,false",
		"",
		"00:11:22:33:44:66,Laptop,true",
	}, "\n")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	table := NewTable()
	loaded, _, problems, err := LoadFile(path, table)
	if err != nil {
		t.Fatal(err)
	}
	if loaded != 3 {
		t.Errorf("loaded %d devices, want 3", loaded)
	}
	if len(problems) != 1 || problems[0].Line != 3 {
		t.Fatalf("problems %+v, want one on line 3", problems)
	}
	for _, text := range []string{"00:11:22:33:44:55", "00:11:22:33:44:66"} {
		mac, err := capture.ParseMAC(text)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := table.Lookup(mac); !ok {
			t.Errorf("device %s after the bad line is missing", text)
		}
	}
}

// A CSV file that starts with a UTF-8 byte order mark, as spreadsheets
// export it, reads like one without.
func TestLoadCSVByteOrderMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.csv")
	data := "\xef\xbb\xbfmac,name\n2c:f0:a2:dd:bc:d0,Alice's phone\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, _, problems, err := LoadFile(path, NewTable())
	if err != nil || loaded != 1 || len(problems) != 0 {
		t.Errorf("loaded %d devices, problems %+v, err %v; want 1 device and none", loaded, problems, err)
	}
}
