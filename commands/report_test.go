package commands

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	reports "github.com/wifiq/wifiq/report"
)

// invokeReportCLI runs wifiq as invokeCLI does, with a temporary user
// cache directory, so that no test writes to the real cache.
func invokeReportCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	return invokeCLI(t, nil, args...)
}

// chartsInHTML returns the data-chart names of the svg elements of a page.
func chartsInHTML(t *testing.T, page []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the page does not parse: %v", err)
	}
	var names []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			for _, a := range n.Attr {
				if a.Key == "data-chart" {
					names = append(names, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return names
}

func TestReportFlagErrors(t *testing.T) {
	capture := corpusDir + "aircrack-ng__n-02.cap"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{capture}, "missing -o"},
		{[]string{"--chart", "pie", "-o", "x.svg", capture}, `"pie"`},
		{[]string{"-o", "x.png", capture}, "missing --chart for -o \"x.png\""},
		{[]string{"--chart", "pie", "-o", "x.png", capture}, `invalid --chart "pie"`},
		{[]string{"--chart", "subtypes", "-o", "x.png", "--scale", "9", capture}, "invalid --scale 9: want 1 to 4"},
		{[]string{"--chart", "subtypes", "-o", "x.svg", "--scale", "3", capture}, "--scale applies only to PNG output"},
		{[]string{"-o", "x.svg", capture}, "--chart"},
		{[]string{"--terminal", "-o", "x.html", capture}, "--terminal"},
		{[]string{"--top", "0", "-o", "x.html", capture}, "invalid --top 0"},
		{[]string{"--buckets", "5000", "-o", "x.html", capture}, "invalid --buckets 5000"},
		{[]string{"-o", "x.html", "no-such-dir/*.pcap"}, "no-such-dir"},
		{[]string{"--tz", "Mars/Olympus", "-o", "x.html", capture}, `invalid --tz "Mars/Olympus"`},
		{[]string{"--tz", "Local", "-o", "x.html", capture}, `invalid --tz "Local"`},
	}
	for _, c := range cases {
		res := invokeReportCLI(t, append([]string{"report"}, c.args...)...)
		if res.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr: %s", c.args, res.code, ExitUsage, res.stderr)
		}
		if !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v: stderr does not contain %q: %s", c.args, c.want, res.stderr)
		}
	}
}

func TestReportWritesHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	res := invokeReportCLI(t, "report", "--cache-dir", t.TempDir(), "-o", out, corpusDir+"aircrack-ng__n-02.cap", corpusDir+"libwifi__probe_req.pcap")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if res.stdout != "" {
		t.Errorf("stdout is not empty with -o: %q", res.stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := chartsInHTML(t, page)
	if strings.Join(got, ",") != strings.Join(reports.Charts, ",") {
		t.Errorf("charts %v, want %v", got, reports.Charts)
	}
}

func TestReportUnreadableInputIsPartial(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(notCapture, []byte("not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report.html")
	res := invokeReportCLI(t, "report", "--no-cache", "-o", out, corpusDir+"libwifi__probe_req.pcap", notCapture)
	if res.code != ExitPartial {
		t.Errorf("exit %d, want %d: %s", res.code, ExitPartial, res.stderr)
	}
	if !strings.Contains(res.stderr, "notes.pcap") {
		t.Errorf("stderr does not name the unreadable file: %s", res.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no report from the readable file: %v", err)
	}
}

func TestReportChartSVG(t *testing.T) {
	out := filepath.Join(t.TempDir(), "subtypes.svg")
	res := invokeReportCLI(t, "report", "--no-cache", "--chart", reports.ChartSubtypes, "-o", out, corpusDir+"aircrack-ng__n-02.cap")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// A standalone SVG file must be well-formed XML.
	dec := xml.NewDecoder(f)
	var root xml.StartElement
	for root.Name.Local == "" {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("the SVG does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = se
		}
	}
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
	}
	if root.Name.Local != "svg" {
		t.Errorf("root element %q, want svg", root.Name.Local)
	}
}

// decodePNG decodes a PNG file.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return img
}

func TestReportChartPNG(t *testing.T) {
	dir := t.TempDir()
	capture := corpusDir + "aircrack-ng__n-02.cap"
	sizes := map[string]image.Rectangle{}
	for _, scale := range []string{"", "1"} {
		out := filepath.Join(dir, "devices"+scale+".png")
		args := []string{"report", "--no-cache", "--chart", reports.ChartDevicesPerDay, "-o", out, capture}
		if scale != "" {
			args = append(args, "--scale", scale)
		}
		res := invokeReportCLI(t, args...)
		if res.code != ExitOK {
			t.Fatalf("--scale %q: exit %d: %s", scale, res.code, res.stderr)
		}
		sizes[scale] = decodePNG(t, out).Bounds()
	}

	// With few days the column chart is 520 SVG pixels wide, and PNG
	// output defaults to twice that.
	if got := sizes[""].Dx(); got != 1040 {
		t.Errorf("default scale: PNG is %d pixels wide, want 1040", got)
	}
	if got, want := sizes["1"].Dx()*2, sizes[""].Dx(); got != want {
		t.Errorf("--scale 1: PNG is %d pixels wide, want half of %d", sizes["1"].Dx(), want)
	}
	if got, want := sizes["1"].Dy()*2, sizes[""].Dy(); got != want {
		t.Errorf("--scale 1: PNG is %d pixels high, want half of %d", sizes["1"].Dy(), want)
	}
}

func TestReportTerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	res := invokeReportCLI(t, "report", "--no-cache", "--terminal", corpusDir+"aircrack-ng__n-02.cap")
	if res.code != ExitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"Probe requests per day", "Frames per subtype", "Probe Request (4)", "█"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output does not contain %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "\x1b[") {
		t.Errorf("output into a pipe contains colour codes:\n%s", res.stdout)
	}
}

// TestReportInBrowser renders the page of every bundled capture in
// headless Chromium, checks that the rendered DOM has every chart and that
// the screenshot is a PNG. WIFIQ_REPORT_SCREENSHOT=FILE keeps the
// screenshot. It skips when chromium is not installed, unless
// WIFIQ_REQUIRE_BROWSER=1.
func TestReportInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WIFIQ_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium not found (Debian: apt-get install chromium): %v", err)
		}
		t.Skip("chromium not found; install Debian's chromium package, or set WIFIQ_REQUIRE_BROWSER=1 to fail instead")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	res := invokeReportCLI(t, "report", "--cache-dir", t.TempDir(), "-o", page, corpusDir)
	if res.code != ExitOK && res.code != ExitPartial {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}

	screenshot := filepath.Join(dir, "report.png")
	dom := runChromium(t, chromium, "--dump-dom", "file://"+page)
	runChromium(t, chromium, "--screenshot="+screenshot, "--window-size=1280,2400", "file://"+page)

	if got := chartsInHTML(t, dom); strings.Join(got, ",") != strings.Join(reports.Charts, ",") {
		t.Errorf("rendered DOM has charts %v, want %v", got, reports.Charts)
	}
	f, err := os.Open(screenshot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2400 {
		t.Errorf("screenshot is %dx%d, want 1280x2400", b.Dx(), b.Dy())
	}
	if keep := os.Getenv("WIFIQ_REPORT_SCREENSHOT"); keep != "" {
		data, err := os.ReadFile(screenshot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runChromium runs headless Chromium with a new profile, no network
// services of its own, and the given arguments, and returns its stdout.
func runChromium(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	// The deadline only stops a browser that hangs; the test checks
	// nothing about how long it took.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}
