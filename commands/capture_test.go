package commands

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/sys/unix"

	"github.com/wifiq/wifiq/replay"
)

// The capture tests run wifiq capture inside a network namespace of their
// own, on one end of a veth pair, and send radiotap frames from the other
// end: a veth carries the bytes unchanged, and --link-type radiotap decodes
// them as a monitor interface would deliver them. They need root and
// iproute2, and skip without them unless WIFIQ_REQUIRE_NETNS is set.

// testNetns is a network namespace with a veth pair v0 <-> v1.
type testNetns struct {
	t    *testing.T
	name string
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	_, ipErr := exec.LookPath("ip")
	if os.Geteuid() != 0 || ipErr != nil {
		if os.Getenv("WIFIQ_REQUIRE_NETNS") != "" {
			t.Fatal("capture tests need root and iproute2 (ip), and WIFIQ_REQUIRE_NETNS is set")
		}
		t.Skip("capture tests need root and iproute2 (ip); set WIFIQ_REQUIRE_NETNS=1 to make this a failure")
	}
	n := &testNetns{t: t, name: fmt.Sprintf("wifiq-test-%d", os.Getpid())}
	n.ip("netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	// IPv6 would send its own packets (router and neighbour solicitations)
	// over the veth pair as soon as it is up.
	n.ip("netns", "exec", n.name, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1")
	n.addVeth()
	return n
}

func (n *testNetns) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *testNetns) addVeth() {
	n.t.Helper()
	n.ip("-n", n.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	n.ip("-n", n.name, "link", "set", "v0", "up")
	n.ip("-n", n.name, "link", "set", "v1", "up")
}

func (n *testNetns) deleteVeth() {
	n.t.Helper()
	n.ip("-n", n.name, "link", "del", "v0")
}

// send writes frames on v0 from inside the namespace. The pcap handle is
// opened on an OS thread switched into the namespace; the socket stays
// there after the thread switches back.
func (n *testNetns) send(frames [][]byte) {
	n.t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if switching back failed, the
		// runtime must not reuse it, so it ends with this goroutine.
		errc <- n.sendFromNamespace(frames)
	}()
	if err := <-errc; err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNetns) sendFromNamespace(frames [][]byte) error {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open("/var/run/netns/" + n.name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering namespace %s: %w", n.name, err)
	}
	h, openErr := pcap.OpenLive("v0", 65535, false, pcap.BlockForever)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leaving namespace %s: %w", n.name, err)
	}
	if openErr != nil {
		return fmt.Errorf("opening v0 in %s: %w", n.name, openErr)
	}
	defer h.Close()
	for _, f := range frames {
		if err := h.WritePacketData(f); err != nil {
			return fmt.Errorf("sending a frame on v0: %w", err)
		}
	}
	return nil
}

// buildWifiq builds the wifiq binary once per test run.
var buildWifiq = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wifiq-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wifiq")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/wifiq").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// captureProcess is wifiq capture running in the namespace.
type captureProcess struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr []string
	lines  chan string
}

func (n *testNetns) startCapture(args ...string) *captureProcess {
	n.t.Helper()
	bin, err := buildWifiq()
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	n.t.Cleanup(cancel)
	full := append([]string{"netns", "exec", n.name, bin, "capture", "-v", "-i", "v1", "--link-type", "radiotap"}, args...)
	p := &captureProcess{cmd: exec.CommandContext(ctx, "ip", full...), lines: make(chan string, 100)}
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, s.Text())
			p.mu.Unlock()
			select {
			case p.lines <- s.Text():
			default:
			}
		}
		close(p.lines)
	}()
	p.waitFor(n.t, "msg=capturing")
	return p
}

// waitFor waits up to 20 seconds for a stderr line containing text.
func (p *captureProcess) waitFor(t *testing.T, text string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("capture ended before logging %q:\n%s", text, p.stderrText())
			}
			if strings.Contains(line, text) {
				return
			}
		case <-timeout:
			t.Fatalf("capture did not log %q within 20 s:\n%s", text, p.stderrText())
		}
	}
}

func (p *captureProcess) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

func (p *captureProcess) wait(t *testing.T) {
	t.Helper()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, p.stderrText())
	}
}

// caseFrames returns the records of a file in testdata/cases.
func caseFrames(t *testing.T, name string) [][]byte {
	t.Helper()
	return caseFramesFrom(t, casesDir+name)
}

// caseFramesFrom returns the records of a capture file.
func caseFramesFrom(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var frames [][]byte
	for {
		p, err := f.Next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, bytes.Clone(p.Data))
	}
}

// withoutTimestamp drops the "timestamp" member of each record line, which
// is the capture time here and the file's time in replay-pcap.
func withoutTimestamp(records string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		if i := strings.Index(line, `",`); strings.HasPrefix(line, `{"timestamp":"`) && i > 0 {
			line = "{" + line[i+2:]
		}
		out = append(out, line)
	}
	return out
}

func TestCaptureOnVeth(t *testing.T) {
	n := newTestNetns(t)
	frames := append(caseFrames(t, "V7_channel_from_frequency.pcap"), caseFrames(t, "V12_data_and_control_frames.pcap")...)
	dir := t.TempDir()
	p := n.startCapture("-c", fmt.Sprint(len(frames)), "-w", filepath.Join(dir, "mon0.pcapng"))
	n.send(frames)
	p.wait(t)

	// The records equal replay-pcap's records of the same frames.
	want := invokeCLI(t, nil, "replay-pcap", casesDir+"V7_channel_from_frequency.pcap", casesDir+"V12_data_and_control_frames.pcap")
	got, wantLines := withoutTimestamp(p.stdout.String()), withoutTimestamp(want.stdout)
	if len(got) != len(wantLines) {
		t.Fatalf("capture wrote %d records, want %d:\n%s\n%s", len(got), len(wantLines), p.stdout.String(), p.stderrText())
	}
	for i := range got {
		if got[i] != wantLines[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i+1, got[i], wantLines[i])
		}
	}
	if !strings.Contains(p.stderrText(), fmt.Sprintf("%d frames captured, %d written", len(frames), len(frames))) {
		t.Errorf("summary missing:\n%s", p.stderrText())
	}

	// Without ring buffer settings -w writes one file, as tshark does, and
	// it holds the frames byte for byte.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != "mon0.pcapng" {
		t.Fatalf("capture files %v, want mon0.pcapng", files)
	}
	f, err := replay.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; ; i++ {
		pkt, err := f.Next()
		if err == io.EOF {
			if i != len(frames) {
				t.Errorf("ring file has %d frames, want %d", i, len(frames))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if pkt.LinkType != 127 || !bytes.Equal(pkt.Data, frames[i]) {
			t.Errorf("ring file frame %d differs (link type %d)", i+1, pkt.LinkType)
		}
	}
}

// TestCaptureInterfaceComesBack deletes the veth pair while capturing and
// creates it again: capture logs both and records the frames sent after.
func TestCaptureInterfaceComesBack(t *testing.T) {
	n := newTestNetns(t)
	frames := caseFrames(t, "V7_channel_from_frequency.pcap")
	p := n.startCapture("-c", "4")
	n.send(frames[:2])
	// Let capture read the two frames before the interface goes.
	time.Sleep(500 * time.Millisecond)
	n.deleteVeth()
	p.waitFor(t, "interface stopped delivering frames")
	n.addVeth()
	p.waitFor(t, "interface is back")
	n.send(frames[2:])
	p.wait(t)

	records := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	if len(records) != 4 {
		t.Fatalf("%d records, want 4:\n%s", len(records), p.stdout.String())
	}
	for i, channel := range []string{"6", "36", "14", "1"} {
		if want := `"wlan_radio_channel":["` + channel + `"]`; !strings.Contains(records[i], want) {
			t.Errorf("record %d: %s, want %s", i+1, records[i], want)
		}
	}
	if text := p.stderrText(); !strings.Contains(text, "interface reopened 1 time") || strings.Contains(text, "1 times") {
		t.Errorf("summary does not count the reopening:\n%s", p.stderrText())
	}
}

func TestCaptureRejectsEthernet(t *testing.T) {
	n := newTestNetns(t)
	bin, err := buildWifiq()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "exec", n.name, bin, "capture", "-i", "v1", "-c", "1").CombinedOutput()
	exit, _ := err.(*exec.ExitError)
	if exit == nil || exit.ExitCode() != ExitUsage || !strings.Contains(string(out), "interface v1 has link type Ethernet (1)") {
		t.Errorf("capture on an Ethernet veth: %v\n%s\nwant exit %d naming the link type", err, out, ExitUsage)
	}
}

// runInNamespace runs fn on an OS thread inside the namespace. Sockets
// that fn opens on that thread (libpcap's) live in the namespace; other
// goroutines, such as the Kafka client's, run on other threads and reach
// the host's loopback.
func (n *testNetns) runInNamespace(fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread stays locked and ends with this goroutine, so the
		// runtime never reuses a thread left in the namespace.
		target, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", n.name, err)
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}

// TestCaptureToKafka captures in the namespace and sends the records to a
// topic of an in-process Kafka cluster on the host's loopback.
func TestCaptureToKafka(t *testing.T) {
	n := newTestNetns(t)
	brokers := fakeKafka(t, 1, "live")
	frames := caseFrames(t, "V12_data_and_control_frames.pcap")

	stderr := &lockedBuffer{}
	g := &Globals{IO: &IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: stderr}}
	g.Log = newLogger(stderr, slog.LevelInfo)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		err := n.runInNamespace(func() {
			done <- Run(ctx, NewRoot(g, "test"), g, []string{"capture", "-v", "-i", "v1", "--link-type", "radiotap",
				"-c", fmt.Sprint(len(frames)), "--to", "kafka:live", "--brokers", brokers})
		})
		if err != nil {
			t.Error(err)
			done <- -1
		}
	}()
	for !strings.Contains(stderr.String(), "msg=capturing") {
		select {
		case code := <-done:
			t.Fatalf("capture ended with %d before capturing:\n%s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.send(frames)
	if code := <-done; code != ExitOK {
		t.Fatalf("capture exit %d:\n%s", code, stderr.String())
	}

	want := withoutTimestamp(invokeCLI(t, nil, "replay-pcap", casesDir+"V12_data_and_control_frames.pcap").stdout)
	records := topicRecords(t, brokers, "live")
	if len(records) != len(want) {
		t.Fatalf("%d Kafka records, want %d:\n%s", len(records), len(want), stderr.String())
	}
	for i, r := range records {
		got := withoutTimestamp(string(r.Value))[0]
		if got != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i+1, got, want[i])
		}
	}
}

// TestCaptureFilter passes a BPF filter to libpcap: of the four beacons
// (100, 105, 86 and 97 bytes) only the two of 100 bytes or more pass. The
// short ones are sent first, so without the filter they would be the two
// records.
func TestCaptureFilter(t *testing.T) {
	n := newTestNetns(t)
	frames := caseFrames(t, "V7_channel_from_frequency.pcap")
	p := n.startCapture("-c", "2", "-f", "greater 100")
	n.send([][]byte{frames[2], frames[3], frames[0], frames[1]})
	p.wait(t)
	records := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	if len(records) != 2 || !strings.Contains(records[0], `"wlan_radio_channel":["6"]`) || !strings.Contains(records[1], `"wlan_radio_channel":["36"]`) {
		t.Errorf("records:\n%s\nwant the 2437 MHz and 5180 MHz beacons", p.stdout.String())
	}

	bin, err := buildWifiq()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "exec", n.name, bin, "capture", "-i", "v1", "--link-type", "radiotap", "-f", "no such filter", "-c", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `invalid capture filter "no such filter"`) {
		t.Errorf("bad filter: %v\n%s", err, out)
	}
}

// TestCaptureBurst sends a burst of 192 frames at once: every one must be
// captured, none dropped in the kernel buffer, and a ring of files of
// about 20 kB each must hold them all.
func TestCaptureBurst(t *testing.T) {
	n := newTestNetns(t)
	frames := caseFramesFrom(t, kafkaTestCaptures+"aircrack-ng__test1.pcap")
	dir := t.TempDir()
	p := n.startCapture("-c", fmt.Sprint(len(frames)), "-w", filepath.Join(dir, "burst.pcapng"), "--ring-size", "20")
	n.send(frames)
	p.wait(t)
	if got := strings.Count(p.stdout.String(), "\n"); got != len(frames) {
		t.Errorf("%d records, want %d", got, len(frames))
	}
	if want := fmt.Sprintf("libpcap: %d received, 0 dropped", len(frames)); !strings.Contains(p.stderrText(), want) {
		t.Errorf("summary does not say %q:\n%s", want, p.stderrText())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "burst_*.pcapng"))
	total := 0
	for _, name := range files {
		f, err := replay.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := f.Next(); err != nil {
				break
			}
			total++
		}
		f.Close()
	}
	if len(files) < 2 || total != len(frames) {
		t.Errorf("%d ring files holding %d frames, want several holding %d", len(files), total, len(frames))
	}
}
