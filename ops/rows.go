package ops

// Reading results: rows in order, the end of bounded input, closing
// expired windows and the changelog.

import (
	"cmp"
	"iter"
	"slices"
)

// forget notes that g is gone (merged into another session or evicted),
// for the changelog.
func (e *Engine) forget(g *group) {
	if e.track && g.emitted {
		e.removed = append(e.removed, Change{Row: e.tombstone(g.key, g.emittedWindow), Deleted: true})
		g.emitted = false
	}
	g.changed = false
}

func (e *Engine) tombstone(key string, w Window) Row {
	return Row{Key: decodeKey(key, len(e.query.GroupBy)), Window: w, columns: e.columns}
}

// row returns the result of g.
func (e *Engine) row(g *group) Row {
	return e.rowWithKey(g, decodeKey(g.key, len(e.query.GroupBy)))
}

// rowWithKey returns the result of g, whose key decodes to key.
func (e *Engine) rowWithKey(g *group, key []Value) Row {
	r := Row{Key: key, Window: g.window, Values: make([]Value, len(g.states)), columns: e.columns}
	for i, p := range e.plans {
		r.Values[i] = p.result(&g.states[i], g.states)
	}
	return r
}

func (e *Engine) having(r Row) bool {
	return e.query.Having == nil || e.query.Having(r)
}

// Rows returns the rows of every group that passes HAVING, ordered by
// window start, window end and key. The groups stay as they are.
func (e *Engine) Rows() []Row {
	e.flushBatch()
	var rows []Row
	for _, entry := range e.sortedGroups() {
		if r := e.rowWithKey(entry.group, entry.key); e.having(r) {
			rows = append(rows, r)
		}
	}
	return rows
}

// Flush returns the rows as Rows does and removes every group: the end of
// bounded input, where every window closes.
func (e *Engine) Flush() []Row { return slices.Collect(e.Drain()) }

// Drain removes every group, as Flush does, and returns their rows one at a
// time in the order of Rows. Each group's state is released once its row
// is made, so the caller can turn rows into output without the engine's
// state and all the rows in memory at once.
func (e *Engine) Drain() iter.Seq[Row] {
	e.flushBatch()
	entries := e.sortedGroups()
	if e.sessions != nil {
		clear(e.sessions)
	} else {
		clear(e.groups)
	}
	e.changed = e.changed[:0]
	return func(yield func(Row) bool) {
		for i := range entries {
			if i%batchUpdates == 0 && len(entries) >= batchMinGroups {
				// The groups come in key order, scattered in memory, so
				// reading the states of the next ones at once overlaps
				// their cache misses, as flushBatch does.
				e.touchStates(entries[i:min(i+batchUpdates, len(entries))])
			}
			g := entries[i].group
			entries[i].group = nil
			if r := e.rowWithKey(g, entries[i].key); e.having(r) && !yield(r) {
				return
			}
		}
	}
}

// keyedGroup is a group with its window and decoded key, for sorting. The
// window is copied so that comparisons need not read the groups, which lie
// scattered in memory.
type keyedGroup struct {
	group  *group
	window Window
	key    []Value
}

// sortedGroups returns the groups ordered by window start, window end and
// key.
func (e *Engine) sortedGroups() []keyedGroup {
	entries := make([]keyedGroup, 0, e.Groups())
	e.eachGroup(func(g *group) {
		entries = append(entries, keyedGroup{g, g.window, decodeKey(g.key, len(e.query.GroupBy))})
	})
	slices.SortFunc(entries, func(a, b keyedGroup) int {
		if c := cmp.Compare(a.window.Start, b.window.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.window.End, b.window.End); c != 0 {
			return c
		}
		return slices.CompareFunc(a.key, b.key, Compare)
	})
	return entries
}

// CloseExpired returns the rows of the windows that no record can change
// any more, because the stream time passed their end by more than the
// grace period (by the gap and the grace period for sessions), and removes
// those groups. Without SetGrace, or without windows, nothing closes before
// Flush.
func (e *Engine) CloseExpired() []Row {
	if e.grace < 0 || e.query.Window == nil || !e.started {
		return nil
	}
	e.flushBatch()
	limit := e.streamTime - e.grace
	var rows []Row
	if e.sessions != nil {
		for key, list := range e.sessions {
			open := list[:0]
			for _, g := range list {
				if g.window.End+e.gap < limit {
					if r := e.row(g); e.having(r) {
						rows = append(rows, r)
					}
					continue
				}
				open = append(open, g)
			}
			if len(open) == 0 {
				delete(e.sessions, key)
			} else {
				clear(list[len(open):])
				e.sessions[key] = open
			}
		}
	} else {
		for key, g := range e.groups {
			if g.window.End <= limit {
				if r := e.row(g); e.having(r) {
					rows = append(rows, r)
				}
				delete(e.groups, key)
			}
		}
	}
	sortRows(rows)
	return rows
}

// Changes returns the changelog entries since the last call. Tombstones of
// sessions merged away come first. Then, for every group that changed,
// come a tombstone for its previous window if the window moved (a session
// that grew) and its new row, or a tombstone when the row no longer passes
// HAVING. It needs TrackChanges.
func (e *Engine) Changes() []Change {
	e.flushBatch()
	changes := e.removed
	e.removed = nil
	for _, g := range e.changed {
		if !g.changed {
			continue // merged away after it changed
		}
		g.changed = false
		if g.emitted && g.emittedWindow != g.window {
			changes = append(changes, Change{Row: e.tombstone(g.key, g.emittedWindow), Deleted: true})
			g.emitted = false
		}
		r := e.row(g)
		if !e.having(r) {
			if g.emitted {
				changes = append(changes, Change{Row: e.tombstone(g.key, g.window), Deleted: true})
				g.emitted = false
			}
			continue
		}
		changes = append(changes, Change{Row: r})
		g.emitted, g.emittedWindow = true, g.window
	}
	e.changed = e.changed[:0]
	return changes
}

func (e *Engine) eachGroup(fn func(*group)) {
	for _, g := range e.groups {
		fn(g)
	}
	for _, list := range e.sessions {
		for _, g := range list {
			fn(g)
		}
	}
}

func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(a.Window.Start, b.Window.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Window.End, b.Window.End); c != 0 {
			return c
		}
		return slices.CompareFunc(a.Key, b.Key, Compare)
	})
}
