// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"io"
	"testing"
	"time"
)

// TestWindowAdjustedInEighths reads 8 MiB through channels of the
// default 2 MiB window in reads of several sizes: every byte arrives,
// the writer is never held up for good, and the reader sends one window
// adjustment per eighth of the window it reads (32 for 8 MiB), not one
// per read.
func TestWindowAdjustedInEighths(t *testing.T) {
	const total = 8 << 20
	for _, readSize := range []int{1 << 10, 32 << 10, 100 << 10, 1 << 20} {
		s, c, mux := channelPair(t)
		writes := mux.conn.(*memTransport)

		done := make(chan error, 1)
		go func() {
			data := make([]byte, 64<<10)
			for sent := 0; sent < total; sent += len(data) {
				if _, err := s.Write(data); err != nil {
					done <- err
					return
				}
			}
			done <- s.CloseWrite()
		}()

		before := writes.getWriteCount()
		buf := make([]byte, readSize)
		var got int
		for {
			n, err := c.Read(buf)
			got += n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reads of %d bytes: Read: %v", readSize, err)
			}
		}
		adjustments := writes.getWriteCount() - before
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("reads of %d bytes: the writer: %v", readSize, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reads of %d bytes: the writer never finished", readSize)
		}
		if got != total {
			t.Errorf("reads of %d bytes: read %d bytes, want %d", readSize, got, total)
		}
		want := uint64(total / (channelWindowSize / windowAdjustFraction))
		if adjustments > want+1 {
			t.Errorf("reads of %d bytes: %d window adjustments for %d MiB, want at most %d", readSize, adjustments, total>>20, want+1)
		}
		s.Close()
		c.Close()
		mux.Close()
	}
}
