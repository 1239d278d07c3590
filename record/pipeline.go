package record

import "sync"

// Pipeline is a Sink that hands records to another Sink in a goroutine of
// its own, in chunks, so that producing the records (decoding, say) and
// writing them (compressing and sending to Kafka, say) run on two cores.
// Records keep their order. Close must be called at the end.
type Pipeline struct {
	next    Sink
	current *chunk
	chunks  chan *chunk
	free    chan *chunk
	done    chan struct{}

	mu  sync.Mutex
	err error // the first error of next
}

// chunk is a run of record lines with their event times.
type chunk struct {
	buf   []byte
	ends  []int
	times []int64
	// flushed, if set, is closed once next has flushed this chunk's
	// records.
	flushed chan error
}

// pipelineChunkSize is the number of bytes of lines that fills a chunk.
const pipelineChunkSize = 128 * 1024

// NewPipeline starts handing records to next.
func NewPipeline(next Sink) *Pipeline {
	const chunks = 4
	p := &Pipeline{next: next, chunks: make(chan *chunk, chunks), free: make(chan *chunk, chunks+1), done: make(chan struct{})}
	for range chunks + 1 {
		p.free <- &chunk{buf: make([]byte, 0, pipelineChunkSize+16*1024)}
	}
	p.current = <-p.free
	go p.run()
	return p
}

func (p *Pipeline) run() {
	defer close(p.done)
	for c := range p.chunks {
		start := 0
		for i, end := range c.ends {
			if p.failed() == nil {
				if err := p.next.WriteRecord(c.times[i], c.buf[start:end]); err != nil {
					p.fail(err)
				}
			}
			start = end
		}
		if c.flushed != nil {
			err := p.failed()
			if err == nil {
				err = p.next.Flush()
				if err != nil {
					p.fail(err)
				}
			}
			c.flushed <- err
		}
		c.buf, c.ends, c.times, c.flushed = c.buf[:0], c.ends[:0], c.times[:0], nil
		p.free <- c
	}
}

func (p *Pipeline) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *Pipeline) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// WriteRecord copies line into the current chunk. It returns the first
// error that the next sink returned, if any.
func (p *Pipeline) WriteRecord(timestamp int64, line []byte) error {
	if err := p.failed(); err != nil {
		return err
	}
	c := p.current
	c.buf = append(c.buf, line...)
	c.ends = append(c.ends, len(c.buf))
	c.times = append(c.times, timestamp)
	if len(c.buf) >= pipelineChunkSize {
		p.chunks <- c
		p.current = <-p.free
	}
	return nil
}

// Flush hands on the records written so far and waits until the next sink
// has written and flushed them.
func (p *Pipeline) Flush() error {
	flushed := make(chan error, 1)
	p.current.flushed = flushed
	p.chunks <- p.current
	err := <-flushed
	p.current = <-p.free
	return err
}

// Close flushes and stops the goroutine. The next sink stays open.
func (p *Pipeline) Close() error {
	err := p.Flush()
	close(p.chunks)
	<-p.done
	return err
}
