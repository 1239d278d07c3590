package ops

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// op is an aggregate's operation on its state, chosen from the function
// and the argument's kind when the engine is built.
type op uint8

const (
	opCount op = iota
	opMinInt
	opMaxInt
	opMinFloat
	opMaxFloat
	opMinString
	opMaxString
	opAvgInt
	opAvgFloat
	opCollectSet
	opCountDistinct
	// opSharedDistinct is a COUNT_DISTINCT of the same argument as a
	// COLLECT_SET of the query: it reads that aggregate's set and keeps no
	// state of its own.
	opSharedDistinct
	opHistogram
	opIntHistogram
	opLatest
	opEarliest
)

// plan is the engine's computation of one aggregate.
type plan struct {
	op   op
	kind Kind // the kind of the argument's values
	arg  int  // index into Engine.argExprs, -1 for COUNT(*)
	// shared is, for opSharedDistinct, the index of the COLLECT_SET whose
	// set it counts.
	shared int
	// strings is the engine's interner, for the members of sets.
	strings *interner
}

func newPlan(a Aggregate, arg int) plan {
	p := plan{kind: a.Arg.Kind, arg: arg, shared: -1}
	switch a.Func {
	case Count:
		p.op = opCount
	case Min, Max:
		switch a.Arg.Kind {
		case KindString:
			p.op = opMinString
		case KindFloat:
			p.op = opMinFloat
		default:
			p.op = opMinInt
		}
		if a.Func == Max {
			p.op++ // each max follows its min
		}
	case Avg:
		p.op = opAvgFloat
		if a.Arg.Kind == KindInt {
			p.op = opAvgInt
		}
	case CollectSet:
		p.op = opCollectSet
	case CountDistinct:
		p.op = opCountDistinct
	case Histogram:
		p.op = opHistogram
		if a.Arg.Kind == KindInt || a.Arg.Kind == KindBool {
			p.op = opIntHistogram
		}
	case LatestByOffset:
		p.op = opLatest
	case EarliestByOffset:
		p.op = opEarliest
	}
	return p
}

// aggState is the running state of one aggregate of one group. It is one
// struct for every function, so that all the states of a group take one
// allocation and sit next to each other in memory. States are plain data
// (numbers, strings and sets of strings), so that a later caller can
// serialize them, and two states of one aggregate can merge, which session
// windows need when a record joins two sessions.
type aggState struct {
	n   int64  // Count and Avg: values counted; *ByOffset: the record's number
	x   uint64 // an int64 or the bits of a float64: Min, Max, Avg's sum, *ByOffset
	s   string // Min, Max and *ByOffset of strings
	p   any    // *stringSet, *histogram, *intHistogram, or a list of *ByOffset
	has bool   // Min, Max, *ByOffset: a value was added
	// overflow marks an integer Avg whose sum outgrew int64; x is then the
	// float64 sum.
	overflow bool
}

func (st *aggState) int() int64         { return int64(st.x) }
func (st *aggState) float() float64     { return math.Float64frombits(st.x) }
func (st *aggState) setInt(v int64)     { st.x, st.has = uint64(v), true }
func (st *aggState) setFloat(f float64) { st.x, st.has = math.Float64bits(f), true }

// add adds one argument value, from the record numbered seq.
func (p plan) add(st *aggState, v Value, seq int64) { p.addRef(st, &v, seq) }

// addRef is add with the value passed by reference, which spares the
// engine copying every argument for every aggregate of a record.
func (p *plan) addRef(st *aggState, v *Value, seq int64) {
	if v.IsNull() {
		return
	}
	switch p.op {
	case opCount:
		st.n++
	case opMinInt:
		if !st.has || v.Int < st.int() {
			st.setInt(v.Int)
		}
	case opMaxInt:
		if !st.has || v.Int > st.int() {
			st.setInt(v.Int)
		}
	case opMinFloat:
		if !math.IsNaN(v.Float) && (!st.has || v.Float < st.float()) {
			st.setFloat(v.Float)
		}
	case opMaxFloat:
		if !math.IsNaN(v.Float) && (!st.has || v.Float > st.float()) {
			st.setFloat(v.Float)
		}
	case opMinString:
		if !st.has || v.Str < st.s {
			st.s, st.has = strings.Clone(v.Str), true
		}
	case opMaxString:
		if !st.has || v.Str > st.s {
			st.s, st.has = strings.Clone(v.Str), true
		}
	case opAvgInt:
		st.n++
		st.addIntSum(v.Int, false, 0)
	case opAvgFloat:
		st.n++
		st.x = math.Float64bits(st.float() + v.Float)
	case opCollectSet, opCountDistinct:
		switch v.Kind {
		case KindList:
			for _, item := range v.List {
				st.setAdd(item, p.strings)
			}
		case KindString:
			st.setAdd(v.Str, p.strings)
		default:
			st.setAdd(v.Text(), p.strings)
		}
	case opHistogram:
		h, _ := st.p.(*histogram)
		if h == nil {
			h = &histogram{}
			st.p = h
		}
		h.addValue(v)
	case opIntHistogram:
		h, _ := st.p.(*intHistogram)
		if h == nil {
			h = &intHistogram{}
			st.p = h
		}
		h.addN(v.Int, 1)
	case opLatest:
		if !st.has || seq > st.n {
			st.setValue(*v, seq)
		}
	case opEarliest:
		if !st.has || seq < st.n {
			st.setValue(*v, seq)
		}
	}
}

// setValue keeps v for *ByOffset, without allocating for numbers and for a
// string equal to the one kept.
func (st *aggState) setValue(v Value, seq int64) {
	st.n, st.has = seq, true
	switch v.Kind {
	case KindString:
		if v.Str != st.s {
			st.s = strings.Clone(v.Str)
		}
	case KindInt, KindBool:
		st.x = uint64(v.Int)
	case KindFloat:
		st.x = math.Float64bits(v.Float)
	default:
		st.p = v.clone()
	}
}

// value returns what setValue kept, of the given kind.
func (st *aggState) value(kind Kind) Value {
	switch kind {
	case KindString:
		return StringValue(st.s)
	case KindInt, KindBool:
		return Value{Kind: kind, Int: st.int()}
	case KindFloat:
		return FloatValue(st.float())
	}
	return st.p.(Value)
}

// addIntSum adds x (or, when isFloat, f) to an integer Avg's sum: exactly
// while the sum fits in an int64, as a float64 after that.
func (st *aggState) addIntSum(x int64, isFloat bool, f float64) {
	if !st.overflow && !isFloat {
		sum := st.int() + x // wraps around on overflow, which the check below detects
		if (x > 0 && sum < st.int()) || (x < 0 && sum > st.int()) {
			st.overflow = true
			st.x = math.Float64bits(float64(st.int()) + float64(x))
			return
		}
		st.x = uint64(sum)
		return
	}
	if !st.overflow {
		st.overflow = true
		st.x = math.Float64bits(float64(st.int()))
	}
	if !isFloat {
		f = float64(x)
	}
	st.x = math.Float64bits(st.float() + f)
}

// merge adds the state src of the same aggregate into dst.
func (p plan) merge(dst, src *aggState) {
	switch p.op {
	case opCount:
		dst.n += src.n
	case opMinInt, opMaxInt:
		if src.has {
			p.add(dst, IntValue(src.int()), 0)
		}
	case opMinFloat, opMaxFloat:
		if src.has {
			p.add(dst, FloatValue(src.float()), 0)
		}
	case opMinString, opMaxString:
		if src.has {
			p.add(dst, StringValue(src.s), 0)
		}
	case opAvgInt:
		dst.n += src.n
		if src.overflow {
			dst.addIntSum(0, true, src.float())
		} else {
			dst.addIntSum(src.int(), false, 0)
		}
	case opAvgFloat:
		dst.n += src.n
		dst.x = math.Float64bits(dst.float() + src.float())
	case opCollectSet, opCountDistinct:
		src.setEach(func(v string) { dst.setAdd(v, p.strings) })
	case opHistogram:
		if other, _ := src.p.(*histogram); other != nil {
			if dst.p == nil {
				dst.p = &histogram{}
			}
			other.each(dst.p.(*histogram).addN)
		}
	case opIntHistogram:
		if other, _ := src.p.(*intHistogram); other != nil {
			if dst.p == nil {
				dst.p = &intHistogram{}
			}
			other.each(dst.p.(*intHistogram).addN)
		}
	case opLatest, opEarliest:
		if src.has {
			p.add(dst, src.value(p.kind), src.n)
		}
	}
}

// result returns the aggregate's value; states are the group's states, for
// opSharedDistinct.
func (p plan) result(st *aggState, states []aggState) Value {
	switch p.op {
	case opCount:
		return IntValue(st.n)
	case opMinInt, opMaxInt:
		if !st.has {
			return Null
		}
		return Value{Kind: p.kind, Int: st.int()}
	case opMinFloat, opMaxFloat:
		if !st.has {
			return Null
		}
		return FloatValue(st.float())
	case opMinString, opMaxString:
		if !st.has {
			return Null
		}
		return StringValue(st.s)
	case opAvgInt:
		if st.n == 0 {
			return Null
		}
		if st.overflow {
			return FloatValue(st.float() / float64(st.n))
		}
		return FloatValue(float64(st.int()) / float64(st.n))
	case opAvgFloat:
		if st.n == 0 {
			return Null
		}
		return FloatValue(st.float() / float64(st.n))
	case opCollectSet:
		return ListValue(st.setSorted())
	case opCountDistinct:
		return IntValue(int64(st.setLen()))
	case opSharedDistinct:
		return IntValue(int64(states[p.shared].setLen()))
	case opHistogram:
		h, _ := st.p.(*histogram)
		return h.result()
	case opIntHistogram:
		h, _ := st.p.(*intHistogram)
		return h.result(p.kind)
	case opLatest, opEarliest:
		if !st.has {
			return Null
		}
		return st.value(p.kind)
	}
	return Null
}

// The state of COLLECT_SET and COUNT_DISTINCT is a set of strings. Most
// groups see one distinct value (one SSID, the broadcast address), so the
// state holds its first member itself, in s with has set, and only a
// second distinct member moves the members into a *stringSet in p. That
// spares each such group the set's memory and the cache misses of reaching
// it.

// setAdd adds v to the set of st, copying it through in.
func (st *aggState) setAdd(v string, in *interner) {
	if set, _ := st.p.(*stringSet); set != nil {
		set.add(v)
		return
	}
	if !st.has {
		st.s, st.has = in.intern(v), true
		return
	}
	if v == st.s {
		return
	}
	set := &stringSet{strings: in}
	set.add(st.s)
	set.add(v)
	st.p, st.s, st.has = set, "", false
}

func (st *aggState) setLen() int {
	if set, _ := st.p.(*stringSet); set != nil {
		return set.len()
	}
	if st.has {
		return 1
	}
	return 0
}

func (st *aggState) setEach(fn func(string)) {
	if set, _ := st.p.(*stringSet); set != nil {
		set.each(fn)
	} else if st.has {
		fn(st.s)
	}
}

// setSorted returns the members of the set of st as stringSet.sorted does.
func (st *aggState) setSorted() []string {
	if set, _ := st.p.(*stringSet); set != nil || !st.has {
		return set.sorted()
	}
	return []string{st.s}
}

// stringSet is a set of strings that stays a small sorted slice until it
// outgrows smallSetMax, because most groups see few distinct values and a
// map costs several hundred bytes even when nearly empty. A nil set is
// empty.
type stringSet struct {
	small []string
	large map[string]struct{}
	// strings copies the members, sharing equal ones between sets; nil
	// copies each.
	strings *interner
}

const smallSetMax = 32

// add inserts v, copying it: callers pass strings that share memory with a
// record.
func (s *stringSet) add(v string) {
	if s.large != nil {
		if _, ok := s.large[v]; !ok {
			s.large[s.strings.intern(v)] = struct{}{}
		}
		return
	}
	i, found := slices.BinarySearch(s.small, v)
	if found {
		return
	}
	if len(s.small) < smallSetMax {
		s.small = slices.Insert(s.small, i, s.strings.intern(v))
		return
	}
	s.large = make(map[string]struct{}, 2*smallSetMax)
	for _, item := range s.small {
		s.large[item] = struct{}{}
	}
	s.small = nil
	s.large[s.strings.intern(v)] = struct{}{}
}

func (s *stringSet) len() int {
	if s == nil {
		return 0
	}
	if s.large != nil {
		return len(s.large)
	}
	return len(s.small)
}

func (s *stringSet) each(fn func(string)) {
	if s == nil {
		return
	}
	for _, v := range s.small {
		fn(v)
	}
	for v := range s.large {
		fn(v)
	}
}

// sorted returns the members ordered by compareText.
func (s *stringSet) sorted() []string {
	out := make([]string, 0, s.len())
	s.each(func(v string) { out = append(out, v) })
	slices.SortFunc(out, compareText)
	return out
}

// histogram counts strings: buckets in the order their values came, and
// once there are more than smallSetMax of them, an index of the buckets by
// value.
type histogram struct {
	buckets []Bucket
	// index maps a value to its bucket. A count is never stored in the map,
	// because assigning to an existing string key replaces the stored key
	// with the one assigned, which may share memory with a record.
	index map[string]int
}

func (h *histogram) addValue(v *Value) {
	switch v.Kind {
	case KindList:
		for _, item := range v.List {
			h.addN(item, 1)
		}
	case KindString:
		h.addN(v.Str, 1)
	default:
		h.addN(v.Text(), 1)
	}
}

func (h *histogram) addN(v string, n int64) {
	if h.index != nil {
		if i, ok := h.index[v]; ok {
			h.buckets[i].N += n
			return
		}
	} else {
		for i := range h.buckets {
			if h.buckets[i].Value == v {
				h.buckets[i].N += n
				return
			}
		}
	}
	v = strings.Clone(v)
	h.buckets = append(h.buckets, Bucket{Value: v, N: n})
	if h.index != nil {
		h.index[v] = len(h.buckets) - 1
	} else if len(h.buckets) > smallSetMax {
		h.index = make(map[string]int, 2*len(h.buckets))
		for i, b := range h.buckets {
			h.index[b.Value] = i
		}
	}
}

func (h *histogram) each(fn func(string, int64)) {
	for _, b := range h.buckets {
		fn(b.Value, b.N)
	}
}

func (h *histogram) result() Value {
	if h == nil {
		return Null
	}
	var buckets []Bucket
	h.each(func(v string, n int64) { buckets = append(buckets, Bucket{Value: v, N: n}) })
	slices.SortFunc(buckets, func(a, b Bucket) int { return compareText(a.Value, b.Value) })
	return Value{Kind: KindCounts, Counts: buckets}
}

// intHistogram is the histogram of an integer argument, counted by value
// so that the buckets cost no strings.
type intHistogram struct {
	small []intBucket
	large map[int64]int64
}

type intBucket struct{ v, n int64 }

func (h *intHistogram) addN(v, n int64) {
	if h.large != nil {
		h.large[v] += n
		return
	}
	for i := range h.small {
		if h.small[i].v == v {
			h.small[i].n += n
			return
		}
	}
	if len(h.small) < smallSetMax {
		h.small = append(h.small, intBucket{v, n})
		return
	}
	h.large = make(map[int64]int64, 2*smallSetMax)
	for _, b := range h.small {
		h.large[b.v] = b.n
	}
	h.small = nil
	h.large[v] = n
}

func (h *intHistogram) each(fn func(v, n int64)) {
	for _, b := range h.small {
		fn(b.v, b.n)
	}
	for v, n := range h.large {
		fn(v, n)
	}
}

func (h *intHistogram) result(kind Kind) Value {
	if h == nil {
		return Null
	}
	var buckets []intBucket
	h.each(func(v, n int64) { buckets = append(buckets, intBucket{v, n}) })
	slices.SortFunc(buckets, func(a, b intBucket) int { return cmp.Compare(a.v, b.v) })
	counts := make([]Bucket, len(buckets))
	for i, b := range buckets {
		counts[i] = Bucket{Value: Value{Kind: kind, Int: b.v}.Text(), N: b.n}
	}
	return Value{Kind: KindCounts, Counts: counts}
}
