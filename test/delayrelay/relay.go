// Package delayrelay is a TCP relay that gives a loopback connection the
// round trip of a wide-area path. This kernel has no netem; instead the
// relay reads each direction as fast as data comes and writes every chunk
// once half the round trip has passed since it was read: a path with
// latency and no bandwidth limit, on which a sender is held back only by
// its own window, as on a long fast link.
//
// The tests and the benchmark put it between a client and the test bed's
// sshd.
package delayrelay

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkSize is the most the relay reads at once.
const chunkSize = 1 << maxChunkShift

// Relay accepts connections on 127.0.0.1 and relays each to a target
// address with a fixed delay each way.
type Relay struct {
	ln     net.Listener
	target string
	oneWay time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	chunks chunkPools
}

// Start listens on a free port of 127.0.0.1 and relays every connection to
// target, adding rtt to each round trip (rtt/2 each way).
func Start(target string, rtt time.Duration) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target, oneWay: rtt / 2, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr returns the relay's listening address.
func (r *Relay) Addr() *net.TCPAddr { return r.ln.Addr().(*net.TCPAddr) }

// Close stops accepting, closes every relayed connection and waits for
// the relay's goroutines to end.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

// track adds c to the connections Close closes; false when closed.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go r.relay(c)
	}
}

// relay connects c to the target and copies both ways with the delay.
func (r *Relay) relay(c net.Conn) {
	defer r.wg.Done()
	t, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	if !r.track(c) || !r.track(t) {
		c.Close()
		t.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(t, c) }()
	go func() { defer wg.Done(); r.pipe(c, t) }()
	wg.Wait()
	c.Close()
	t.Close()
	r.untrack(c)
	r.untrack(t)
}

// chunk is data read at one time, or the end of the stream (data nil).
type chunk struct {
	data []byte
	due  time.Time
	err  error
}

// queue is an unbounded FIFO of chunks: the reader never waits for the
// writer, so the relay adds latency and no limit on bandwidth.
type queue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	items []chunk
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(c chunk) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *queue) pop() chunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		q.cond.Wait()
	}
	c := q.items[0]
	q.items[0] = chunk{}
	q.items = q.items[1:]
	return c
}

// pipe copies src to dst, each chunk after the one-way delay. At the end
// of src it half-closes dst once everything before has been written; on
// an error it closes both.
func (r *Relay) pipe(dst, src net.Conn) {
	q := newQueue()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c := q.pop()
			time.Sleep(time.Until(c.due))
			if c.data == nil {
				if c.err == nil || errors.Is(c.err, io.EOF) {
					if cw, ok := dst.(interface{ CloseWrite() error }); ok {
						cw.CloseWrite()
						return
					}
				}
				dst.Close()
				return
			}
			_, err := dst.Write(c.data)
			r.chunks.put(c.data)
			if err != nil {
				dst.Close()
				src.Close()
				// Drain what the reader still queues until it ends.
				for c.data != nil {
					c = q.pop()
				}
				return
			}
		}
	}()
	// One read buffer; each chunk is a copy of what one read returned
	// into a recycled buffer of its size class, so the relay's memory
	// follows the data in flight, not the number of reads (a fresh
	// chunkSize buffer per read would make the relay, not the path, the
	// bandwidth limit), and the relay allocates nothing in the steady
	// state: fresh memory per chunk (page faults, the collector) made it
	// fall behind a fast sender, which a path does not do.
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			data := r.chunks.get(n)
			copy(data, buf[:n])
			q.push(chunk{data: data, due: time.Now().Add(r.oneWay)})
		}
		if err != nil {
			q.push(chunk{due: time.Now().Add(r.oneWay), err: err})
			break
		}
	}
	<-done
}
