package ops

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"time"
)

// MACActivity is the probing of one source address in one window: what
// the device estimate links into devices.
type MACActivity struct {
	Window     Window
	Address    string
	Randomised bool
	// Signature is the address's first probe's signature, encoded by Tuple.
	Signature   string
	First, Last int64 // event times in ms
	// FirstSeq and LastSeq are the sequence numbers (wlan.seq) of the
	// first and last probe, when HasSeq is set: the records carry them.
	FirstSeq, LastSeq int64
	HasSeq            bool
}

// ActivityQuery groups probe requests by source address and window, with
// the first and last probe's time and sequence number and the first probe's
// signature. Activities turns its rows into MACActivity values. "First"
// and "last" by sequence number mean the first and last added, which are
// the earliest and latest when the input is in time order, as replay-pcap
// writes it.
func ActivityQuery(sig Signature, window WindowSpec) Query {
	seq := FieldInt("wlan_seq")
	return Query{
		Where:   IsProbeRequest,
		GroupBy: []Expr{SourceAddress()},
		Window:  window,
		Aggregates: []Aggregate{
			{Name: "first", Func: Min, Arg: EventTime()},
			{Name: "last", Func: Max, Arg: EventTime()},
			{Name: "randomised", Func: LatestByOffset, Arg: Randomised()},
			{Name: "signature", Func: EarliestByOffset, Arg: Tuple("signature", sig.Exprs...)},
			{Name: "first_seq", Func: EarliestByOffset, Arg: seq},
			{Name: "last_seq", Func: LatestByOffset, Arg: seq},
		},
	}
}

// Activities converts the rows of an ActivityQuery. Rows without a source
// address are left out.
func Activities(rows []Row) []MACActivity {
	acts := make([]MACActivity, 0, len(rows))
	for _, r := range rows {
		if r.Key[0].IsNull() {
			continue
		}
		a := MACActivity{
			Window:     r.Window,
			Address:    r.Key[0].Str,
			Randomised: r.Get("randomised").Bool(),
			Signature:  r.Get("signature").Str,
			First:      r.Get("first").Int,
			Last:       r.Get("last").Int,
		}
		if first, last := r.Get("first_seq"), r.Get("last_seq"); !first.IsNull() && !last.IsNull() {
			a.FirstSeq, a.LastSeq, a.HasSeq = first.Int, last.Int, true
		}
		acts = append(acts, a)
	}
	return acts
}

// EstimateOptions tune EstimateDevices.
type EstimateOptions struct {
	// MaxPause is the longest time from one randomised address's last
	// probe to the next address's first probe that still lets the two be
	// one device. Zero means no limit.
	MaxPause time.Duration
	// SeqAdvance is the most a sequence number may advance (modulo 4096)
	// from one address's last probe to the next address's first for the
	// next to continue it. Zero means 64.
	SeqAdvance int64
}

// seqModulus is the range of 802.11 sequence numbers (12 bits).
const seqModulus = 4096

// EstimateDevices estimates how many devices sent the probes of acts
// (which should come from one window). Every address that is not
// randomised counts as a device. Randomised addresses are grouped by
// signature, and within a signature they are linked into chains, each
// chain taken for one device that changed its address: an address joins a
// chain whose last address stopped probing before it started, within
// MaxPause. Two addresses probing at the same time are never linked.
//
// Sequence numbers (when the records carry wlan.seq) choose the chain: an
// address joins the chain whose sequence number it continues. Some models
// keep counting when they change address and others start at a random
// number. So the estimate first counts, per signature, the addresses that
// continue the sequence number of an address that stopped before them
// within MaxPause, and compares that with the count expected by chance.
// When they continue at least halfway from chance to always, the model
// keeps counting, and an address that continues no chain is taken for
// another device. Otherwise the sequence numbers only choose between
// chains.
//
// Without sequence numbers the result is, per signature, the largest
// number of addresses active at once within MaxPause. That undercounts
// devices of one model that come and go at different times, and
// overcounts a device that pauses longer than MaxPause, comes back later
// in the window, or whose probes change signature.
func EstimateDevices(acts []MACActivity, opts EstimateOptions) int {
	if opts.SeqAdvance <= 0 {
		opts.SeqAdvance = 64
	}
	devices := 0
	bySignature := map[string][]MACActivity{}
	for _, a := range acts {
		if !a.Randomised {
			devices++
			continue
		}
		bySignature[a.Signature] = append(bySignature[a.Signature], a)
	}
	for _, group := range bySignature {
		devices += countChains(group, opts)
	}
	return devices
}

// EstimateByWindow runs EstimateDevices on the activities of each window.
func EstimateByWindow(acts []MACActivity, opts EstimateOptions) map[Window]int {
	byWindow := map[Window][]MACActivity{}
	for _, a := range acts {
		byWindow[a.Window] = append(byWindow[a.Window], a)
	}
	estimates := make(map[Window]int, len(byWindow))
	for w, group := range byWindow {
		estimates[w] = EstimateDevices(group, opts)
	}
	return estimates
}

// chain is one presumed device: the end and sequence number of the last
// address linked to it.
type chain struct {
	lastEnd int64
	lastSeq int64
	hasSeq  bool
}

// chainHeap holds the chains that can still be extended, earliest end
// first.
type chainHeap []chain

func (h chainHeap) Len() int           { return len(h) }
func (h chainHeap) Less(i, j int) bool { return h[i].lastEnd < h[j].lastEnd }
func (h chainHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *chainHeap) Push(x any)        { *h = append(*h, x.(chain)) }
func (h *chainHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// countChains links the addresses of one signature into chains and
// returns the number of chains, deciding as EstimateDevices describes
// whether sequence numbers may keep addresses apart.
func countChains(acts []MACActivity, opts EstimateOptions) int {
	slices.SortFunc(acts, func(a, b MACActivity) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last), cmp.Compare(a.Address, b.Address))
	})
	return linkChains(acts, opts, keepsCounting(acts, opts))
}

// keepsCounting reports whether the addresses of acts, sorted by their
// first probe, continue the sequence numbers of the addresses that stopped
// probing before them clearly more often than chance. Clearly means at
// least halfway from the rate expected by chance to every time.
func keepsCounting(acts []MACActivity, opts EstimateOptions) bool {
	maxPause := opts.MaxPause.Milliseconds()
	pending := &activityHeap{} // started, not yet stopped before the current address
	var recent []MACActivity   // stopped, in order of their last probe
	var seqs [seqModulus]int32 // last sequence numbers of recent
	candidates, continued, expected := 0, 0, 0.0
	for _, a := range acts {
		for pending.Len() > 0 && (*pending)[0].Last < a.First {
			p := heap.Pop(pending).(MACActivity)
			recent = append(recent, p)
			seqs[p.LastSeq%seqModulus]++
		}
		for maxPause > 0 && len(recent) > 0 && a.First-recent[0].Last > maxPause {
			seqs[recent[0].LastSeq%seqModulus]--
			recent = recent[1:]
		}
		if a.HasSeq {
			heap.Push(pending, a)
		}
		if !a.HasSeq || len(recent) == 0 {
			continue
		}
		candidates++
		// The chance that one of len(recent) random numbers falls in the
		// SeqAdvance numbers before a's.
		expected += 1 - math.Pow(1-float64(opts.SeqAdvance)/seqModulus, float64(len(recent)))
		for d := int64(1); d <= opts.SeqAdvance; d++ {
			if seqs[((a.FirstSeq-d)%seqModulus+seqModulus)%seqModulus] > 0 {
				continued++
				break
			}
		}
	}
	if candidates == 0 {
		return false
	}
	return float64(continued) >= expected+0.5*(float64(candidates)-expected)
}

// activityHeap orders addresses by their last probe.
type activityHeap []MACActivity

func (h activityHeap) Len() int           { return len(h) }
func (h activityHeap) Less(i, j int) bool { return h[i].Last < h[j].Last }
func (h activityHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *activityHeap) Push(x any)        { *h = append(*h, x.(MACActivity)) }
func (h *activityHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	*h = old[:len(old)-1]
	return a
}

// linkChains links addresses in order of their first probe and returns the
// number of chains. With strict set, an address never joins a chain whose
// sequence number it does not continue.
func linkChains(acts []MACActivity, opts EstimateOptions, strict bool) (chains int) {
	maxPause := opts.MaxPause.Milliseconds()
	var open chainHeap
	for _, a := range acts {
		// Chains that ended more than MaxPause before this address can
		// take no later address either.
		for maxPause > 0 && len(open) > 0 && a.First-open[0].lastEnd > maxPause {
			heap.Pop(&open)
		}
		i := pickChain(open, a, opts.SeqAdvance, strict)
		next := chain{lastEnd: a.Last, lastSeq: a.LastSeq, hasSeq: a.HasSeq}
		if i < 0 {
			heap.Push(&open, next)
			chains++
			continue
		}
		open[i] = next
		heap.Fix(&open, i)
	}
	return chains
}

// pickChain returns the index of the chain that a joins, or -1. A chain is
// free when its last address stopped before a started. Among the free
// chains it takes the one whose sequence number a continues with the
// smallest advance, else (unless strict) the one that ended first, which
// keeps the chains that ended late for addresses that start later.
func pickChain(open chainHeap, a MACActivity, seqAdvance int64, strict bool) int {
	best, bestAdvance := -1, int64(seqModulus)
	for i, c := range open {
		if c.lastEnd >= a.First {
			continue
		}
		advance := int64(seqModulus) // not a continuation
		if a.HasSeq && c.hasSeq {
			if d := ((a.FirstSeq-c.lastSeq)%seqModulus + seqModulus) % seqModulus; d > 0 && d <= seqAdvance {
				advance = d
			} else if strict {
				continue
			}
		}
		if best < 0 || advance < bestAdvance || (advance == bestAdvance && c.lastEnd < open[best].lastEnd) {
			best, bestAdvance = i, advance
		}
	}
	return best
}
