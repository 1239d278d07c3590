package ops

import "unsafe"

// Batched updates. With many groups, most of Add's time went to cache
// misses: the map lookup reads the group's key, and the update then reads
// the group's states, one dependent miss after the other, record by
// record. With batchMinGroups groups or more, Add therefore queues the
// updates of up to batchUpdates records, with copies of their keys and
// arguments. flushBatch then finds all their groups and reads their states
// first, so that the misses of different records overlap, and updates the
// states after that, in the order of the records. Every method that reads
// or replaces the groups flushes the batch first, so callers see the same
// results as without it.

const (
	// batchUpdates is the number of queued group updates that starts a
	// flush.
	batchUpdates = 64
	// batchArenaSize is the capacity of the memory that holds the copies
	// of queued keys and string arguments. A record whose copies do not fit
	// in an empty arena is not queued but updates its groups at once.
	batchArenaSize = 16 << 10
	// batchMinGroups is the number of groups from which Add queues
	// updates. With fewer, the groups' states mostly stay in the CPU's
	// caches, and CPU profiles of stats devices with 1,000 devices
	// (scripts/bench-stats.sh input) showed queueing costing more than it
	// saved. At about 650 bytes per group of the device table, 8,192
	// groups take 5 MB, well beyond the 1 to 2 MB L2 cache of a core of
	// current x86 server CPUs.
	// NOTE: measured on one AMD EPYC virtual machine only, not tuned.
	batchMinGroups = 8192
)

// updateBatch holds the queued updates.
type updateBatch struct {
	// arena holds the bytes of the queued keys and string arguments. It is
	// allocated once with its full capacity and never grows, because the
	// queued strings point into it.
	arena   []byte
	args    []Value // the queued records' arguments, len(Engine.argExprs) each
	updates []pendingUpdate
	// touched sums what flushBatch reads ahead of the updates, so that the
	// compiler keeps those reads.
	touched int64
}

// pendingUpdate is one queued update of a group in a window.
type pendingUpdate struct {
	key    []byte // the map key: the group key and the window start, in the arena
	keyLen int    // the length of the group key in key
	window Window
	seq    int64 // the record's number, for *_BY_OFFSET
	args   int   // the index of the record's first argument in updateBatch.args
	group  *group
}

// batchable returns the arena bytes that the current record's string
// arguments and its keys in the given number of windows take, and whether
// they can be queued.
func (e *Engine) batchable(keyLen, windows int) (size int, ok bool) {
	size = windows * (keyLen + 8)
	for i := range e.args {
		switch e.args[i].Kind {
		case KindString:
			size += len(e.args[i].Str)
		case KindNull, KindInt, KindFloat, KindBool:
		default:
			return 0, false // lists are rare in arguments and not queued
		}
	}
	return size, size <= batchArenaSize
}

// queueArgs copies the current record's arguments into the batch and
// returns the index of the first. The caller checked that they fit.
func (b *updateBatch) queueArgs(args []Value) int {
	first := len(b.args)
	for _, v := range args {
		if v.Kind == KindString && v.Str != "" {
			start := len(b.arena)
			b.arena = append(b.arena, v.Str...)
			v.Str = unsafe.String(&b.arena[start], len(v.Str))
		}
		b.args = append(b.args, v)
	}
	return first
}

// queueKey copies a map key into the batch. The caller checked that it
// fits.
func (b *updateBatch) queueKey(key []byte) []byte {
	start := len(b.arena)
	b.arena = append(b.arena, key...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

// flushBatch applies the queued updates.
func (e *Engine) flushBatch() {
	b := &e.batch
	if len(b.updates) == 0 {
		return
	}
	for i := range b.updates {
		u := &b.updates[i]
		g := e.groups[string(u.key)]
		if g == nil {
			g = e.newGroup("", u.window)
			mapKey := g.storeKey(u.key) // a copy: the arena is reused
			g.key = mapKey[:u.keyLen]
			e.groups[mapKey] = g
		}
		u.group = g
	}
	for i := range b.updates {
		b.touch(b.updates[i].group)
	}
	n := len(e.argExprs)
	for i := range b.updates {
		u := &b.updates[i]
		e.update(u.group, b.args[u.args:u.args+n], u.seq)
	}
	clear(b.updates) // drop the group pointers for the garbage collector
	b.updates, b.args, b.arena = b.updates[:0], b.args[:0], b.arena[:0]
}

// touch reads every state of g, so that the cache lines of the states are
// loaded before the update or the row needs them.
func (b *updateBatch) touch(g *group) {
	for i := range g.states {
		b.touched += g.states[i].n
	}
}

// touchStates reads the states of the entries' groups, as flushBatch reads
// those of the queued updates.
func (e *Engine) touchStates(entries []keyedGroup) {
	for i := range entries {
		e.batch.touch(entries[i].group)
	}
}
