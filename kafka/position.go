package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// PositionKind selects how a StartPosition picks the first offset.
type PositionKind int

// Kinds of start positions. The zero value means "not given".
const (
	PositionUnset    PositionKind = iota
	PositionEarliest              // the log start offset
	PositionLatest                // the end offset: only records produced from now on
	PositionTime                  // the first record stamped at or after Millis
	PositionOffset                // Offset, clamped to the partition's range
	PositionFromEnd               // Offset records before the end offset
)

// StartPosition is the rule that picks the first offset a consumer reads in
// each partition. With a consumer group it applies only to partitions
// without a committed offset.
type StartPosition struct {
	Kind   PositionKind
	Millis int64 // for PositionTime, milliseconds since the Unix epoch
	Offset int64 // for PositionOffset and PositionFromEnd
}

// ParseStartPosition reads "earliest", "latest", a time in RFC 3339
// ("2024-05-01T12:00:00Z") or as "@" and milliseconds since the Unix epoch
// ("@1714564800000"), an offset ("1500"), or "-N" for N records before the
// end of each partition.
func ParseStartPosition(s string) (StartPosition, error) {
	v := strings.TrimSpace(s)
	switch strings.ToLower(v) {
	case "earliest", "beginning", "start":
		return StartPosition{Kind: PositionEarliest}, nil
	case "latest", "end":
		return StartPosition{Kind: PositionLatest}, nil
	}
	if ms, ok := strings.CutPrefix(v, "@"); ok {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n < 0 {
			return StartPosition{}, invalidPosition(s)
		}
		return StartPosition{Kind: PositionTime, Millis: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return StartPosition{Kind: PositionTime, Millis: t.UnixMilli()}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return StartPosition{Kind: PositionFromEnd, Offset: -n}, nil
		}
		return StartPosition{Kind: PositionOffset, Offset: n}, nil
	}
	return StartPosition{}, invalidPosition(s)
}

func invalidPosition(s string) error {
	return fmt.Errorf("invalid start position %q: want earliest, latest, an RFC 3339 time, @ and milliseconds since the Unix epoch, an offset, or -N for N records before the end", s)
}

func (p StartPosition) String() string {
	switch p.Kind {
	case PositionEarliest:
		return "earliest"
	case PositionLatest:
		return "latest"
	case PositionTime:
		return time.UnixMilli(p.Millis).UTC().Format(time.RFC3339Nano)
	case PositionOffset:
		return strconv.FormatInt(p.Offset, 10)
	case PositionFromEnd:
		return "-" + strconv.FormatInt(p.Offset, 10)
	}
	return "unset"
}

// resolve returns the absolute start offset of each partition of topic.
func (p StartPosition) resolve(ctx context.Context, admin *kadm.Client, topic string) (map[int32]int64, error) {
	switch p.Kind {
	case PositionEarliest:
		return listOffsets(admin.ListStartOffsets(ctx, topic))
	case PositionLatest:
		return listOffsets(admin.ListEndOffsets(ctx, topic))
	case PositionTime:
		// The broker returns the end offset for a partition with no record
		// stamped at or after the time.
		return listOffsets(admin.ListOffsetsAfterMilli(ctx, p.Millis, topic))
	}

	starts, err := listOffsets(admin.ListStartOffsets(ctx, topic))
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(admin.ListEndOffsets(ctx, topic))
	if err != nil {
		return nil, err
	}
	result := make(map[int32]int64, len(ends))
	for partition, end := range ends {
		want := p.Offset
		if p.Kind == PositionFromEnd {
			want = end - p.Offset
		}
		result[partition] = min(max(want, starts[partition]), end)
	}
	return result, nil
}

// listOffsets turns a kadm listing of one topic into offsets by partition.
func listOffsets(listed kadm.ListedOffsets, err error) (map[int32]int64, error) {
	if err != nil {
		return nil, fmt.Errorf("unable to list offsets: %w", err)
	}
	if err := listed.Error(); err != nil {
		return nil, fmt.Errorf("unable to list offsets: %w", err)
	}
	result := make(map[int32]int64)
	listed.Each(func(o kadm.ListedOffset) {
		result[o.Partition] = o.Offset
	})
	return result, nil
}

// clampOffsets returns starts with the partitions of offsets replaced by
// those offsets, clamped to each partition's range: an offset below the log
// start (records deleted by retention) starts at the log start.
func clampOffsets(ctx context.Context, admin *kadm.Client, topic string, starts, offsets map[int32]int64) (map[int32]int64, error) {
	first, err := listOffsets(admin.ListStartOffsets(ctx, topic))
	if err != nil {
		return nil, err
	}
	ends, err := listOffsets(admin.ListEndOffsets(ctx, topic))
	if err != nil {
		return nil, err
	}
	result := make(map[int32]int64, len(starts))
	for partition, start := range starts {
		result[partition] = start
		if want, ok := offsets[partition]; ok {
			result[partition] = min(max(want, first[partition]), ends[partition])
		}
	}
	return result, nil
}
