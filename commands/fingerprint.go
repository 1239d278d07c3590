package commands

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/capture"
	"github.com/wifiq/wifiq/ops"
	"github.com/wifiq/wifiq/record"
)

// FingerprintOptions are the settings of wifiq fingerprint.
type FingerprintOptions struct {
	Inputs    []string
	Signature ops.Signature
	Gap       time.Duration
	MinMACs   int64
	Location  *time.Location
	Output    string
	Input     InputOptions
	Stream    StreamOptions
}

// NewCmdFingerprint builds the fingerprint command.
func NewCmdFingerprint(g *Globals) *cobra.Command {
	opts := &FingerprintOptions{}
	var signature, gap, tz, output string
	cmd := &cobra.Command{
		Use:   "fingerprint [FILE|-]...",
		Short: "Find devices that change their MAC address, by the signature of their probe requests",
		Long: `Read records and group probe requests by their signature: the information
elements a device model sends, which stay the same while a phone randomises
its address. The probes of one signature form a session as long as each
follows the one before within --gap (5m: ksqlDB's WINDOW SESSION (5 MINUTES)).
A session from at least --min-macs distinct source addresses (3) is printed:
one device that changed its address, or several devices of one model.

Each row gives the signature's columns, the probes, the distinct source
addresses and the addresses, the first and last probe, the session's length
in seconds, the signal range in dBm and a histogram of the signal (dBm to
probes). Vendor OUIs are printed in hex with the manufacturer's short name.

--signature chooses what of the probe request makes the signature:
` + signatureHelp() + `

wifiq stats probes-per-day estimates the devices per day from the same
signatures.
` + streamHelp + scaleOutHelp,
		Example: `  wifiq replay-pcap /pcap_data/ | wifiq fingerprint
  wifiq fingerprint --gap 2m --min-macs 2 --tz Europe/Berlin records.jsonl
  tshark -r capture.pcapng -T ek -e wlan.fc.type_subtype -e wlan.sa -e wlan.tag.number -e wlan.tag.length \
    -e wlan.supported_rates -e wlan.ht.capabilities -e wlan.extcap | wifiq fingerprint --signature elements`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Signature, err = ops.SignatureByName(signature); err != nil {
				return usagef("invalid --signature: %w", err)
			}
			if opts.Gap, err = parseGap("--gap", gap); err != nil {
				return err
			}
			if opts.MinMACs < 1 {
				return usagef("invalid --min-macs %d: want 1 or more", opts.MinMACs)
			}
			if opts.Location, err = time.LoadLocation(tz); err != nil || tz == "" {
				return usagef("invalid --tz %q: want an IANA zone name such as UTC or Europe/Berlin", tz)
			}
			if opts.Output, err = checkReportFlags(cmd, g, args, output, &opts.Input, &opts.Stream); err != nil {
				return err
			}
			opts.Inputs = args
			return fingerprintRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&signature, "signature", "vendor", "what of the probe request makes the `signature`: "+signatureNames())
	f.StringVar(&gap, "gap", "5m", "session gap: the longest `pause` between two probes of one session")
	f.Int64Var(&opts.MinMACs, "min-macs", 3, "print the sessions with at least this many distinct source addresses")
	f.StringVar(&tz, "tz", "UTC", "time `zone` of the printed times (an IANA name such as Europe/Berlin)")
	opts.Input.addFlags(cmd)
	opts.Stream.addFlags(cmd)
	f.StringVarP(&output, "output", "o", "", "output format: {table|json|csv} (default table on a terminal, json otherwise)")
	return cmd
}

func signatureHelp() string {
	var b strings.Builder
	for _, s := range ops.Signatures() {
		fmt.Fprintf(&b, "  %-11s %s\n", s.Name, s.Description)
	}
	return strings.TrimRight(b.String(), "\n")
}

func fingerprintRun(ctx context.Context, g *Globals, opts *FingerprintOptions) error {
	engine, err := ops.NewEngine(ops.FingerprintQuery(opts.Signature, opts.Gap, opts.MinMACs))
	if err != nil {
		return err
	}

	seen := probeCounter{signature: &opts.Signature}
	if opts.Input.Follow {
		var names []string
		for _, e := range opts.Signature.Exprs {
			names = append(names, e.Name)
		}
		return streamRun(ctx, g, &opts.Input, &opts.Stream, &streamTable{
			name:       "fingerprint",
			settings:   fmt.Sprintf("signature=%s gap=%v min-macs=%d tz=%s", opts.Signature.Name, opts.Gap, opts.MinMACs, opts.Location),
			engine:     engine,
			report:     func(rows iter.Seq[ops.Row]) (*report, error) { return fingerprintReport(rows, opts) },
			keyColumns: names,
			windowed:   true,
			sessions:   true,
			location:   opts.Location,
		}, &seen)
	}
	partial, err := feedRecords(ctx, g, &opts.Input, opts.Inputs, &seen, func(rec *record.Record) {
		engine.Add(rec)
	})
	if err != nil {
		return err
	}
	seen.warn(g)

	g.Log.Info("fingerprint sessions", "sessions", engine.Groups(), "min_macs", opts.MinMACs, "probes", seen.probes)
	rep, err := fingerprintReport(engine.Drain(), opts)
	if err != nil {
		return err
	}
	// A group commits what it read only once the table is written.
	err = rep.write(g.IO.Out, opts.Output)
	if finishErr := opts.Input.finish(err == nil); err == nil {
		err = finishErr
	}
	if err != nil {
		return err
	}
	return partial
}

func fingerprintReport(rows iter.Seq[ops.Row], opts *FingerprintOptions) (*report, error) {
	rep := &report{}
	for _, e := range opts.Signature.Exprs {
		rep.Columns = append(rep.Columns, e.Name)
	}
	rep.Columns = append(rep.Columns, "probes", "macs", "mac_list", "first", "last", "session_seconds",
		"min_dbm", "max_dbm", "signal_range", "dbm_histogram")
	var ouis *ouiNamer
	for r := range rows {
		var row []any
		for i, e := range opts.Signature.Exprs {
			if e.Name == "vendor_ouis" {
				if ouis == nil {
					var err error
					if ouis, err = newOUINamer(); err != nil {
						return nil, err
					}
				}
				row = append(row, ouis.names(r.Key[i]))
				continue
			}
			row = append(row, signatureCell(r.Key[i]))
		}
		first, last := r.Get("first").Int, r.Get("last").Int
		minDBm, maxDBm := r.Get("min_dbm"), r.Get("max_dbm")
		var signalRange any
		if !minDBm.IsNull() {
			signalRange = fmt.Sprintf("%d..%d", minDBm.Int, maxDBm.Int)
		}
		row = append(row,
			r.Get("probes").Int, r.Get("macs").Int, listCell(r.Get("mac_list")),
			timeCell{first, opts.Location}, timeCell{last, opts.Location}, float64(last-first)/1000,
			valueCell(minDBm), valueCell(maxDBm), signalRange, valueCell(r.Get("dbm_histogram")),
		)
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// signatureCell is a signature column's cell: lists as lists (NULL as the
// empty list, so that a missing element reads as none), the rest as it is.
func signatureCell(v ops.Value) any {
	if v.Kind == ops.KindNull || v.Kind == ops.KindList {
		return listCell(v)
	}
	return valueCell(v)
}

// ouiNamer renders wlan.tag.oui values, which are decimal, as hex OUIs
// with the manufacturer's short name from the built-in table.
type ouiNamer struct {
	resolver *capture.Resolver
}

// newOUINamer returns the namer of the built-in manufacturer table, built
// once: stream mode renders a report for every changed row, and building
// the table each time made fingerprint --follow write about 125 rows a
// second.
var newOUINamer = sync.OnceValues(func() (*ouiNamer, error) {
	r := capture.NewResolver()
	if err := capture.AddBuiltinManufacturers(r); err != nil {
		return nil, err
	}
	return &ouiNamer{resolver: r}, nil
})

func (n *ouiNamer) names(v ops.Value) []string {
	out := make([]string, 0, len(v.List))
	for _, s := range v.List {
		out = append(out, n.name(s))
	}
	return out
}

// name renders one OUI: "00:50:f2 Microsof", or the hex alone when the
// manufacturer is unknown, or the value as it is when it is not a number.
func (n *ouiNamer) name(decimal string) string {
	oui, err := strconv.ParseUint(decimal, 10, 24)
	if err != nil {
		return decimal
	}
	mac := capture.MAC{byte(oui >> 16), byte(oui >> 8), byte(oui)}
	text := fmt.Sprintf("%02x:%02x:%02x", mac[0], mac[1], mac[2])
	resolved := n.resolver.Resolve(mac)
	if i := strings.LastIndexByte(resolved, '_'); i > 0 && resolved[i+1:] == "00:00:00" {
		return text + " " + resolved[:i]
	}
	return text
}
