// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"io"
	"testing"
)

// TestBulkChannelData sends a bulk stream on a channel of a real
// transport with each cipher and reads it back through small reads, so
// that pooled packet buffers are given back and used again while earlier
// data is still being read: the stream arrives whole, and a connection
// that carried bulk data reads through a bulk buffer.
func TestBulkChannelData(t *testing.T) {
	for _, cipher := range []string{CipherAES128GCM, CipherChaCha20Poly1305, CipherAES128CTR} {
		t.Run(cipher, func(t *testing.T) {
			c1, c2, err := netPipe()
			if err != nil {
				t.Fatalf("netPipe: %v", err)
			}
			defer c1.Close()
			defer c2.Close()
			serverConf := &ServerConfig{NoClientAuth: true, Config: Config{Ciphers: []string{cipher}}}
			serverConf.AddHostKey(testSigners["ecdsa"])
			accepted := make(chan Channel, 1)
			go func() {
				defer close(accepted)
				_, chans, reqs, err := NewServerConn(c1, serverConf)
				if err != nil {
					t.Errorf("NewServerConn: %v", err)
					return
				}
				go DiscardRequests(reqs)
				nc, ok := <-chans
				if !ok {
					return
				}
				ch, creqs, err := nc.Accept()
				if err != nil {
					t.Errorf("Accept: %v", err)
					return
				}
				go DiscardRequests(creqs)
				accepted <- ch
			}()
			conn, chans, reqs, err := NewClientConn(c2, "addr", &ClientConfig{
				User:            "user",
				Config:          Config{Ciphers: []string{cipher}},
				HostKeyCallback: InsecureIgnoreHostKey(),
			})
			if err != nil {
				t.Fatalf("NewClientConn: %v", err)
			}
			client := NewClient(conn, chans, reqs)
			defer client.Close()
			ch, creqs, err := client.OpenChannel("bulk", nil)
			if err != nil {
				t.Fatalf("OpenChannel: %v", err)
			}
			go DiscardRequests(creqs)
			sch := <-accepted
			if sch == nil {
				t.Fatal("no channel accepted")
			}
			want := pattern(8<<20 + 12344)
			errc := make(chan error, 1)
			go func() {
				var err error
				for rest := want; len(rest) > 0 && err == nil; {
					n := min(len(rest), 100<<10+len(rest)%7919)
					_, err = sch.Write(rest[:n])
					rest = rest[n:]
				}
				if err == nil {
					err = sch.CloseWrite()
				}
				errc <- err
			}()
			var got bytes.Buffer
			buf := make([]byte, 7<<10)
			if _, err := io.CopyBuffer(&got, struct{ io.Reader }{ch}, buf); err != nil {
				t.Fatalf("reading the channel: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("writing the channel: %v", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("received %d bytes that differ from the %d sent", got.Len(), len(want))
			}
			if size := conn.(*connection).transport.(*handshakeTransport).conn.(*transport).bufReader.Size(); size != bulkReadSize {
				t.Errorf("read buffer of %d bytes after a bulk transfer, want %d", size, bulkReadSize)
			}
		})
	}
}

// TestNewPacket checks that every buffer newPacket returns, pooled or
// not, is empty and has room for the packet and an AEAD tag, also after
// the pool got back buffers a byte shorter each time.
func TestNewPacket(t *testing.T) {
	for round := range 2000 {
		for _, length := range []int{1, 100, bulkPacketSize - 1, bulkPacketSize, channelMaxPacket + 13, channelMaxPacket + 300, packetPoolCap, 64<<10 + 13, packetClassCap(1), maxReceivePacket + 13, packetClassCap(2), maxPacket} {
			p := newPacket(length)
			if len(p) != 0 || cap(p) < length+16 {
				t.Fatalf("round %d: newPacket(%d) has len %d cap %d", round, length, len(p), cap(p))
			}
			p = p[:length]
			// The cipher cuts off the padding-length byte before the
			// channel gives the packet back.
			freePacket(p[1:])
		}
	}
}
