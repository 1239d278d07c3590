package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// WriteTombstone sends a record with key and a null value: the tombstone
// that makes a compacted topic, or an upserting sink, delete the key. Like
// WriteKeyed it may return before the record is acknowledged.
func (p *Producer) WriteTombstone(timestampMs int64, key []byte) error {
	if err := p.stopError(); err != nil {
		return err
	}
	r := &kgo.Record{Key: append([]byte(nil), key...), Timestamp: time.UnixMilli(timestampMs)}
	p.written.Add(1)
	p.client.Produce(p.produceCtx, r, p.promise)
	return nil
}
