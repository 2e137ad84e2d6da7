// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"
)

// delayConn is a packetConn with a one-way delay and no bandwidth limit:
// every packet is stamped when written and handed to the reader once the
// delay has passed since then.
type delayConn struct {
	packetConn
	delay time.Duration
}

func (d *delayConn) writePacket(p []byte) error {
	b := make([]byte, 8+len(p))
	binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano()))
	copy(b[8:], p)
	return d.packetConn.writePacket(b)
}

func (d *delayConn) readPacket() ([]byte, error) {
	b, err := d.packetConn.readPacket()
	if err != nil {
		return nil, err
	}
	due := time.Unix(0, int64(binary.BigEndian.Uint64(b))).Add(d.delay)
	time.Sleep(time.Until(due))
	return b[8:], nil
}

// delayedChannelPair returns a channel opened by a client mux, whose
// windows grow as rw allows, and the server's end of it, over a pipe
// with the given round trip.
func delayedChannelPair(t *testing.T, rtt time.Duration, rw *ReceiveWindow) (client, server *channel) {
	t.Helper()
	a, b := memPipe()
	s := newMux(&delayConn{a, rtt / 2})
	c := newMuxWindow(&delayConn{b, rtt / 2}, rw)
	t.Cleanup(func() { s.Close(); c.Close() })
	accepted := make(chan *channel, 1)
	go func() {
		nc, ok := <-s.incomingChannels
		if !ok {
			close(accepted)
			return
		}
		ch, _, err := nc.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			close(accepted)
			return
		}
		accepted <- ch.(*channel)
	}()
	client, err := c.openChannel("chan", nil)
	if err != nil {
		t.Fatalf("openChannel: %v", err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("no channel accepted")
	}
	return client, server
}

// pattern returns n bytes that differ from packet to packet, so that a
// lost, repeated or reordered packet changes what arrives.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		binary.BigEndian.PutUint64(b[i:], uint64(i)*0x9e3779b97f4a7c15)
	}
	return b
}

// send writes data on ch and closes it, reporting a failure on errc.
func send(ch *channel, data []byte, errc chan<- error) {
	_, err := ch.Write(data)
	if err == nil {
		err = ch.CloseWrite()
	}
	errc <- err
}

// slowReader reads through a small buffer and pauses after every read.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p[:min(len(p), 256<<10)])
	time.Sleep(s.pause)
	return n, err
}

func TestReceiveWindowGrowth(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		rtt      time.Duration
		window   *ReceiveWindow
		size     int
		slow     time.Duration // pause of the reader after each 256 KiB read
		wantGrow bool
	}{
		{"no ReceiveWindow keeps the fixed window", 40 * time.Millisecond, nil, 12 * mib, 0, false},
		{"nil budget keeps the fixed window", 40 * time.Millisecond, &ReceiveWindow{Max: 64 * mib}, 12 * mib, 0, false},
		{"max below the initial window keeps it", 40 * time.Millisecond, &ReceiveWindow{Max: mib, Budget: NewWindowBudget(64 * mib)}, 12 * mib, 0, false},
		{"grows on a path with latency", 150 * time.Millisecond, &ReceiveWindow{Max: 16 * mib, Budget: NewWindowBudget(64 * mib)}, 32 * mib, 0, true},
		{"a slow reader does not grow it", 10 * time.Millisecond, &ReceiveWindow{Max: 64 * mib, Budget: NewWindowBudget(64 * mib)}, 8 * mib, 20 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := delayedChannelPair(t, tt.rtt, tt.window)
			want := pattern(tt.size)
			errc := make(chan error, 1)
			go send(server, want, errc)

			var r io.Reader = client
			if tt.slow > 0 {
				r = slowReader{client, tt.slow}
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
			}

			client.windowMu.Lock()
			size, grown := client.tune.size, client.tune.grown
			client.windowMu.Unlock()
			t.Logf("window %d bytes after %d, round trip measured %v", size, tt.size, client.mux.rtt.get())
			if grew := size > channelWindowSize; grew != tt.wantGrow {
				t.Errorf("window size %d after %d bytes; growth %v, want %v", size, tt.size, grew, tt.wantGrow)
			}
			if size != channelWindowSize+grown {
				t.Errorf("window size %d is not the initial %d + the %d taken from the budget", size, channelWindowSize, grown)
			}
			if tt.window != nil && tt.window.Budget != nil {
				if max := max(tt.window.Max, channelWindowSize); size > max {
					t.Errorf("window size %d above its cap %d", size, max)
				}
				if used := tt.window.Budget.Used(); used != uint64(grown) {
					t.Errorf("budget used %d, want the channel's growth %d", used, grown)
				}
				client.Close()
				waitBudget(t, tt.window.Budget, 0)
			}
		})
	}
}

// TestReceiveWindowBudget runs several transfers at once on connections
// that share a small budget: every one arrives whole, their windows grow
// by no more than the budget together, and closing them returns it all.
func TestReceiveWindowBudget(t *testing.T) {
	const mib = 1 << 20
	const streams = 4
	budget := NewWindowBudget(6 * mib)
	rw := &ReceiveWindow{Max: 32 * mib, Budget: budget}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var chans []*channel
	for i := range streams {
		client, server := delayedChannelPair(t, 200*time.Millisecond, rw)
		chans = append(chans, client)
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := pattern(16*mib + i*4096)
			errc := make(chan error, 1)
			go send(server, want, errc)
			got, err := io.ReadAll(client)
			if err == nil {
				err = <-errc
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("stream %d: %v", i, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("stream %d: received %d bytes that differ from the %d sent", i, len(got), len(want))
			}
		}()
	}
	wg.Wait()

	var total uint64
	for _, c := range chans {
		c.windowMu.Lock()
		total += uint64(c.tune.grown)
		c.windowMu.Unlock()
	}
	if total == 0 {
		t.Errorf("no window grew")
	}
	if total > 6*mib {
		t.Errorf("windows grew by %d in total, above the budget of %d", total, 6*mib)
	}
	if used := budget.Used(); used != total {
		t.Errorf("budget used %d, want the channels' growth %d", used, total)
	}
	for _, c := range chans {
		c.Close()
	}
	waitBudget(t, budget, 0)
}

// TestNoGrowthAfterClose reads, after the channel closed, data that
// arrived before: the window must not take from the budget again once it
// gave its growth back, or the budget leaks what it takes.
func TestNoGrowthAfterClose(t *testing.T) {
	budget := NewWindowBudget(64 << 20)
	m := &mux{recvWindow: &ReceiveWindow{Max: 64 << 20, Budget: budget}}
	m.rtt.note(time.Second)
	ch := &channel{mux: m, tune: newWindowTuner(channelWindowSize)}
	if more := ch.grow(channelWindowSize); more != 7*channelWindowSize {
		t.Fatalf("an open channel read a whole window at once and grew by %d, want %d", more, 7*channelWindowSize)
	}
	ch.releaseWindow()
	if used := budget.Used(); used != 0 {
		t.Fatalf("budget used %d after the channel gave its growth back", used)
	}
	if more := ch.grow(2 * channelWindowSize); more != 0 {
		t.Errorf("the closed channel's window grew by %d", more)
	}
	ch.releaseWindow()
	if used := budget.Used(); used != 0 {
		t.Errorf("budget used %d after reading on the closed channel", used)
	}
}

// TestGrowthByReadTime reads a whole window in a given part of the round
// trip: within half a round trip the window grows eightfold, within 1.25
// round trips it quadruples, within two it doubles, slower it stays; the
// cap and the budget bound the growth.
func TestGrowthByReadTime(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		elapsed float64 // round trips taken to read the window
		max     uint32
		budget  uint64
		want    uint32
	}{
		{"read within half a round trip", 0.4, 64 * mib, 256 * mib, 7 * channelWindowSize},
		{"read within a round trip", 0.9, 64 * mib, 256 * mib, 3 * channelWindowSize},
		{"read within 1.25 round trips", 1.2, 64 * mib, 256 * mib, 3 * channelWindowSize},
		{"read within two round trips", 1.6, 64 * mib, 256 * mib, channelWindowSize},
		{"read in more than two round trips", 2.2, 64 * mib, 256 * mib, 0},
		{"the cap bounds it", 0.4, 5 * mib, 256 * mib, 5*mib - channelWindowSize},
		{"the budget bounds it", 0.4, 64 * mib, 1 * mib, 1 * mib},
	}
	const rtt = 100 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &mux{recvWindow: &ReceiveWindow{Max: tt.max, Budget: NewWindowBudget(tt.budget)}}
			m.rtt.note(rtt)
			ch := &channel{mux: m, tune: newWindowTuner(channelWindowSize)}
			ch.tune.epochStart = time.Now().Add(-time.Duration(tt.elapsed * float64(rtt)))
			if more := ch.grow(channelWindowSize); more != tt.want {
				t.Errorf("grew by %d, want %d", more, tt.want)
			}
		})
	}
}

// TestFirstEpochStartsWithData opens a channel, waits as long as opening
// takes on a long path, then reads a whole window at once: the wait is
// not counted, and the window grows as for a window read at once.
func TestFirstEpochStartsWithData(t *testing.T) {
	const rtt = 100 * time.Millisecond
	m := &mux{recvWindow: &ReceiveWindow{Max: 64 << 20, Budget: NewWindowBudget(256 << 20)}}
	m.rtt.note(rtt)
	ch := &channel{mux: m, tune: newWindowTuner(channelWindowSize)}
	ch.tune.epochStart = time.Now().Add(-3 * rtt) // the channel opened long ago
	ch.noteReceived(channelWindowSize)
	if more := ch.grow(channelWindowSize); more != 7*channelWindowSize {
		t.Errorf("grew by %d, want %d", more, 7*channelWindowSize)
	}
}

// TestEpochWaitsForRoundTrip reads two windows before the connection's
// round trip is known: nothing grows until it is, and then the two
// windows are judged by their rate.
func TestEpochWaitsForRoundTrip(t *testing.T) {
	const rtt = 100 * time.Millisecond
	m := &mux{recvWindow: &ReceiveWindow{Max: 64 << 20, Budget: NewWindowBudget(256 << 20)}}
	ch := &channel{mux: m, tune: newWindowTuner(channelWindowSize)}
	ch.tune.epochStart = time.Now().Add(-8 * rtt / 10)
	if more := ch.grow(channelWindowSize); more != 0 {
		t.Fatalf("grew by %d before the round trip was known", more)
	}
	m.rtt.note(rtt)
	// Two windows in 0.8 round trips: 0.4 round trips per window.
	if more := ch.grow(channelWindowSize); more != 7*channelWindowSize {
		t.Errorf("grew by %d, want %d", more, 7*channelWindowSize)
	}
}

// waitBudget waits for the channels' closing to return the budget.
func waitBudget(t *testing.T, b *WindowBudget, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Used() != want {
		if time.Now().After(deadline) {
			t.Fatalf("budget used %d after the channels closed, want %d", b.Used(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWindowBudgetTake(t *testing.T) {
	b := NewWindowBudget(100)
	for _, step := range []struct {
		take, want uint32
		used       uint64
	}{{60, 60, 60}, {60, 40, 100}, {1, 0, 100}} {
		if got := b.take(step.take); got != step.want || b.Used() != step.used {
			t.Fatalf("take(%d) = %d with %d used, want %d with %d used", step.take, got, b.Used(), step.want, step.used)
		}
	}
	b.give(100)
	if b.Used() != 0 {
		t.Fatalf("used %d after giving all back", b.Used())
	}
}

func TestRoundTripKeepsMinimum(t *testing.T) {
	var r roundTrip
	for _, d := range []time.Duration{50, 30, 70, 0} {
		r.note(d)
	}
	if got := r.get(); got != 1 {
		t.Fatalf("round trip %v, want the smallest, 1ns", got)
	}
}
