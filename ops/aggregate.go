package ops

import "fmt"

// AggFunc is an aggregate function, named after its ksqlDB counterpart.
type AggFunc uint8

// The aggregate functions. Each ignores NULL arguments, as ksqlDB's do.
const (
	// Count counts the records (COUNT(*)) when the aggregate has no
	// argument, else the records whose argument is not NULL.
	Count AggFunc = iota + 1
	// Min and Max keep the smallest and largest number or string.
	Min
	Max
	// Avg is the arithmetic mean of a number, as a float.
	Avg
	// CollectSet is the distinct values as a list, ordered as compareText
	// orders them (numbers by value, other strings by their bytes) so that
	// the result does not depend on the input order. A list argument adds
	// each of its items.
	CollectSet
	// CountDistinct counts the distinct values exactly (no sketch); a list
	// argument counts its items.
	CountDistinct
	// Histogram counts how often each value occurs (ksqlDB: a map from the
	// value to its count), ordered as CollectSet orders.
	Histogram
	// LatestByOffset is the argument of the record added last, and
	// EarliestByOffset of the record added first. Records are numbered in
	// the order Engine.Add receives them, which is the order of lines in a
	// file and of offsets in a Kafka partition.
	LatestByOffset
	EarliestByOffset
)

var aggFuncNames = map[AggFunc]string{
	Count: "COUNT", Min: "MIN", Max: "MAX", Avg: "AVG", CollectSet: "COLLECT_SET",
	CountDistinct: "COUNT_DISTINCT", Histogram: "HISTOGRAM",
	LatestByOffset: "LATEST_BY_OFFSET", EarliestByOffset: "EARLIEST_BY_OFFSET",
}

func (f AggFunc) String() string {
	if name, ok := aggFuncNames[f]; ok {
		return name
	}
	return fmt.Sprintf("AggFunc(%d)", f)
}

// Aggregate is one aggregate column of a Query.
type Aggregate struct {
	// Name is the column name.
	Name string
	Func AggFunc
	// Arg is the argument. The zero Expr is COUNT(*)'s star, which only
	// Count accepts.
	Arg Expr
}

// hasArg reports whether the aggregate has an argument.
func (a Aggregate) hasArg() bool { return a.Arg.eval != nil }

// resultKind returns the kind of the aggregate's values, or an error when
// the function does not take its argument's kind.
func (a Aggregate) resultKind() (Kind, error) {
	if !a.hasArg() {
		if a.Func != Count {
			return 0, fmt.Errorf("aggregate %s: %s needs an argument", a.Name, a.Func)
		}
		return KindInt, nil
	}
	arg := a.Arg.Kind
	switch a.Func {
	case Count, CountDistinct:
		return KindInt, nil
	case Min, Max:
		if arg == KindList {
			return 0, fmt.Errorf("aggregate %s: %s takes a number or a string, not the list %s", a.Name, a.Func, a.Arg.Name)
		}
		return arg, nil
	case Avg:
		if arg != KindInt && arg != KindFloat {
			return 0, fmt.Errorf("aggregate %s: AVG takes a number, not the %s %s", a.Name, arg, a.Arg.Name)
		}
		return KindFloat, nil
	case CollectSet:
		return KindList, nil
	case Histogram:
		return KindCounts, nil
	case LatestByOffset, EarliestByOffset:
		return arg, nil
	}
	return 0, fmt.Errorf("aggregate %s: unknown function %v", a.Name, a.Func)
}
