// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"sync"
	"sync/atomic"
	"time"
)

// ReceiveWindow lets the receive window of each channel grow with the
// path, as HPN-SSH's does. Every channel starts with the fixed 2 MiB
// window OpenSSH uses, so a peer can send at most 2 MiB per round trip
// (about 42 MB/s at 50 ms, however fast the link). With a ReceiveWindow,
// a channel whose reader consumed a whole window within two round trips
// (the window, not the reader or the sender, was what limited it) doubles
// its window, up to Max, taking the growth from Budget; a closed channel
// gives its growth back. Channels whose peer sends little, or whose
// reader is slower than the path, never grow, so idle connections cost
// what they cost without it.
//
// The round trip is measured on the connection's data itself: the time
// from a window adjustment to the first byte that only that adjustment
// allowed the peer to send is at least one round trip, and equals it when
// the peer was waiting for the adjustment; the connection keeps the
// smallest such time.
type ReceiveWindow struct {
	// Max is the largest receive window a channel grows to, in bytes,
	// at most 1 GiB. A Max below the initial window disables growth.
	Max uint32

	// Budget bounds the growth of all channels that share it, across
	// connections. Nil disables growth.
	Budget *WindowBudget

	// MaxPacket is the largest data packet a channel accepts, told to
	// the peer when the channel opens, at most 128 KiB (maxpacket.go).
	// Zero, or anything up to 32 KiB, keeps upstream's 32 KiB.
	MaxPacket uint32
}

// maxReceiveWindow bounds ReceiveWindow.Max, far from the 32-bit window
// arithmetic's limit.
const maxReceiveWindow = 1 << 30

// A WindowBudget is the number of bytes the receive windows of channels
// may grow by in total beyond their initial size. Connections share it,
// so that it bounds the memory a process commits to data its peers may
// send before it is read. It is safe for concurrent use.
type WindowBudget struct {
	mu    sync.Mutex
	limit uint64
	used  uint64
}

// NewWindowBudget returns a budget of limit bytes.
func NewWindowBudget(limit uint64) *WindowBudget {
	return &WindowBudget{limit: limit}
}

// Used returns the number of bytes of the budget that open channels'
// windows hold.
func (b *WindowBudget) Used() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// take reserves up to n bytes and returns how many it reserved.
func (b *WindowBudget) take(n uint32) uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.used >= b.limit:
		n = 0
	case uint64(n) > b.limit-b.used:
		n = uint32(b.limit - b.used)
	}
	b.used += uint64(n)
	return n
}

// give returns n bytes taken before.
func (b *WindowBudget) give(n uint32) {
	b.mu.Lock()
	b.used -= uint64(n)
	b.mu.Unlock()
}

// windowTuner is a channel's state for growing its receive window. It is
// protected by the channel's windowMu.
type windowTuner struct {
	size  uint32 // the current size of the receive window
	grown uint32 // the part of size taken from the budget
	// closed is set when the channel gave its growth back: what is read
	// after that (data that arrived before the close) grows nothing.
	closed bool

	received uint64 // bytes the peer sent on the channel
	granted  uint64 // bytes the peer has been allowed to send
	consumed uint64 // bytes read from the channel

	// A probe times one window adjustment: sent at probeTime, it raised
	// granted above probeLimit.
	probing    bool
	probeLimit uint64
	probeTime  time.Time

	// The epoch is the reading of the current window's worth of data.
	epochStart    time.Time
	epochConsumed uint64
}

func newWindowTuner(size uint32) windowTuner {
	return windowTuner{size: size, granted: uint64(size), epochStart: time.Now()}
}

// roundTrip keeps the smallest round trip measured on a connection.
type roundTrip struct {
	min atomic.Int64 // nanoseconds; 0 until measured
}

func (r *roundTrip) get() time.Duration { return time.Duration(r.min.Load()) }

func (r *roundTrip) note(d time.Duration) {
	if d <= 0 {
		d = 1
	}
	for {
		old := r.min.Load()
		if old != 0 && old <= int64(d) {
			return
		}
		if r.min.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// noteReceived records n bytes of data from the peer; it ends a probe
// whose adjustment they needed. windowMu is held.
func (c *channel) noteReceived(n uint32) {
	t := &c.tune
	if t.received == 0 {
		// The first epoch starts with the first data, not when the
		// channel opened: opening took a round trip of its own.
		t.epochStart = time.Now()
	}
	t.received += uint64(n)
	if t.probing && t.received > t.probeLimit {
		t.probing = false
		c.mux.rtt.note(time.Since(t.probeTime))
	}
}

// noteGranted records a window adjustment of n bytes about to be sent and
// starts a probe if none runs. windowMu is held.
func (c *channel) noteGranted(n uint32) {
	t := &c.tune
	if !t.probing {
		t.probing = true
		t.probeLimit = t.granted
		t.probeTime = time.Now()
	}
	t.granted += uint64(n)
}

// grow records n more bytes read from the channel and, when a whole window
// was read within two round trips, doubles the window (quadruples it
// within 1.25 round trips, multiplies it by eight within half a round
// trip) as far as the limit and the budget allow. It returns the number of bytes the window
// grew by, to be granted to the peer on top of what was read. windowMu is
// held.
func (c *channel) grow(n uint32) uint32 {
	t := &c.tune
	t.consumed += uint64(n)
	rw := c.mux.recvWindow
	if t.closed || rw == nil || rw.Budget == nil || t.size >= min(rw.Max, maxReceiveWindow) {
		return 0
	}
	read := t.consumed - t.epochConsumed
	if read < uint64(t.size) {
		return 0
	}
	rtt := c.mux.rtt.get()
	if rtt == 0 {
		// The epoch goes on until the connection's first round trip is
		// measured (a new connection's first window is read before
		// that), and is then judged by its rate.
		return 0
	}
	now := time.Now()
	// The time the reader took per window's worth of data.
	elapsed := time.Duration(float64(now.Sub(t.epochStart)) * float64(t.size) / float64(read))
	t.epochStart, t.epochConsumed = now, t.consumed
	if elapsed >= 2*rtt {
		return 0
	}
	// A window read within about one round trip held the peer back the
	// whole time: the path takes at least twice as much, and quadrupling
	// gets there in half the round trips doubling takes. One read within
	// half a round trip had arrived at once, queued on the way: the path
	// takes several times as much.
	grow := t.size
	switch {
	case 2*elapsed <= rtt:
		grow = 7 * t.size
	case 4*elapsed <= 5*rtt:
		grow = 3 * t.size
	}
	more := rw.Budget.take(min(grow, min(rw.Max, maxReceiveWindow)-t.size))
	t.size += more
	t.grown += more
	return more
}

// releaseWindow gives the channel's growth back to the budget, once and
// for all: the window grows no more.
func (c *channel) releaseWindow() {
	c.windowMu.Lock()
	grown := c.tune.grown
	c.tune.grown = 0
	c.tune.closed = true
	c.windowMu.Unlock()
	if grown > 0 {
		c.mux.recvWindow.Budget.give(grown)
	}
}
