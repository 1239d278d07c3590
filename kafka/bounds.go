package kafka

import (
	"maps"
	"sync"
)

// bounds tracks a bounded consumer's progress: the end offset of every
// partition when the run started, the next offset to read in each, and
// (with a group) which partitions this member owns. Group callbacks run on
// franz-go's goroutines, hence the mutex. The methods do nothing on a nil
// bounds, which is a following consumer.
type bounds struct {
	mu           sync.Mutex
	group        bool
	end          map[int32]int64
	position     map[int32]int64 // next offset to read; absent until known
	assigned     map[int32]bool
	everAssigned bool
	finished     bool // nothing to read, known before joining the group
}

func newBounds(group bool) *bounds {
	return &bounds{
		group:    group,
		end:      map[int32]int64{},
		position: map[int32]int64{},
		assigned: map[int32]bool{},
	}
}

func (b *bounds) setEnds(ends map[int32]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.end = maps.Clone(ends)
}

func (b *bounds) ends() map[int32]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.end)
}

func (b *bounds) setPosition(partition int32, offset int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.position[partition] = offset
}

func (b *bounds) assignAll(partitions []int32) {
	if b == nil {
		return
	}
	b.assign(partitions)
}

func (b *bounds) assign(partitions []int32) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.everAssigned = true
	for _, p := range partitions {
		b.assigned[p] = true
	}
}

func (b *bounds) unassign(partitions []int32) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range partitions {
		delete(b.assigned, p)
		delete(b.position, p)
	}
}

func (b *bounds) finishEarly() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished = true
}

// accept moves a partition's position past offset and reports whether the
// record at offset lies before the partition's end offset.
func (b *bounds) accept(partition int32, offset int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if offset+1 > b.position[partition] {
		b.position[partition] = offset + 1
	}
	return offset < b.end[partition]
}

func (b *bounds) partitionDone(partition int32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.partitionDoneLocked(partition)
}

// partitionDoneLocked reports whether a partition has nothing more to read.
// A partition created after the start has no end offset and counts as
// empty.
func (b *bounds) partitionDoneLocked(partition int32) bool {
	end := b.end[partition]
	position, known := b.position[partition]
	if !known {
		return end <= 0
	}
	return position >= end
}

// done reports whether every partition this consumer reads has reached its
// end offset. A group member that has not been assigned partitions yet is
// not done, unless it found before joining that there is nothing to read.
func (b *bounds) done() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return true
	}
	if b.group && !b.everAssigned {
		return false
	}
	for partition := range b.assigned {
		if !b.partitionDoneLocked(partition) {
			return false
		}
	}
	return true
}
