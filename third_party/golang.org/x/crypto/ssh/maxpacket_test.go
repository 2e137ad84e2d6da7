// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// TestMaxPacketOf checks the largest data packet a connection's channels
// take for each setting: upstream's 32 KiB unless more is asked for, and
// never more than maxReceivePacket.
func TestMaxPacketOf(t *testing.T) {
	for _, tt := range []struct {
		rw   *ReceiveWindow
		want uint32
	}{
		{nil, channelMaxPacket},
		{&ReceiveWindow{}, channelMaxPacket},
		{&ReceiveWindow{MaxPacket: 1000}, channelMaxPacket},
		{&ReceiveWindow{MaxPacket: 64 << 10}, 64 << 10},
		{&ReceiveWindow{MaxPacket: maxReceivePacket}, maxReceivePacket},
		{&ReceiveWindow{MaxPacket: 1 << 30}, maxReceivePacket},
	} {
		if got := tt.rw.maxPacket(); got != tt.want {
			t.Errorf("%+v: max packet %d, want %d", tt.rw, got, tt.want)
		}
	}
	if c := packetClassCap(packetClasses - 1); c < maxReceivePacket+maxPacketOverhead {
		t.Errorf("the largest packet buffer holds %d bytes, a packet of %d bytes of data needs %d", c, maxReceivePacket, maxReceivePacket+maxPacketOverhead)
	}
}

// maxPacketOverhead is what a data packet has beyond its data: the
// message header (type, channel, length), padding length and padding, and
// the AEAD tag.
const maxPacketOverhead = 13 + 1 + 255 + 16

// dataPacket returns a channel data packet (or extended data, when ext
// is not 0) of n bytes.
func dataPacket(n int, ext uint32) []byte {
	p := []byte{msgChannelData, 0, 0, 0, 0}
	if ext != 0 {
		p[0] = msgChannelExtendedData
		p = binary.BigEndian.AppendUint32(p, ext)
	}
	p = binary.BigEndian.AppendUint32(p, uint32(n))
	return append(p, make([]byte, n)...)
}

// TestDataPacketLimit gives a channel data packets at and beyond the
// largest it accepts: one byte more is refused, for data and extended
// data alike.
func TestDataPacketLimit(t *testing.T) {
	for _, max := range []uint32{channelMaxPacket, 64 << 10, maxReceivePacket} {
		for _, ext := range []uint32{0, 1} {
			m := &mux{maxPacket: max}
			ch := &channel{mux: m, tune: newWindowTuner(channelWindowSize), myWindow: channelWindowSize,
				pending: newBuffer(), extPending: newBuffer()}
			if err := ch.handleData(dataPacket(int(max), ext)); err != nil {
				t.Errorf("max %d, extended %d: a packet of %d bytes: %v", max, ext, max, err)
			}
			if err := ch.handleData(dataPacket(int(max)+1, ext)); err == nil {
				t.Errorf("max %d, extended %d: a packet of %d bytes was taken", max, ext, max+1)
			}
		}
	}
}

// TestMaxPacketAdvertised opens channels each way between a client and a
// server of which one asks for larger packets: the other side learns the
// size when the channel opens and sends packets that large (a stream
// written 100 KiB at a time arrives whole), and the one that asked for
// nothing keeps 32 KiB; with an AEAD cipher (pooled packet buffers of
// each class) and with one that copies.
func TestMaxPacketAdvertised(t *testing.T) {
	for _, tt := range []struct {
		name            string
		clientMax       uint32
		serverMax       uint32
		clientOpens     bool
		wantClientSends uint32 // the server's size, as the client learned it
		wantServerSends uint32 // the client's size, as the server learned it
		cipher          string // "" for the default
	}{
		{"client asks, client opens", maxReceivePacket, 0, true, channelMaxPacket, maxReceivePacket, CipherAES128GCM},
		{"client asks, chacha20-poly1305", maxReceivePacket, 0, true, channelMaxPacket, maxReceivePacket, CipherChaCha20Poly1305},
		{"client asks, aes128-ctr", maxReceivePacket, 0, true, channelMaxPacket, maxReceivePacket, CipherAES128CTR},
		{"client asks, server opens", maxReceivePacket, 0, false, channelMaxPacket, maxReceivePacket, ""},
		{"server asks, client opens", 0, 64 << 10, true, 64 << 10, channelMaxPacket, ""},
		{"neither asks", 0, 0, true, channelMaxPacket, channelMaxPacket, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ciphers []string
			if tt.cipher != "" {
				ciphers = []string{tt.cipher}
			}
			c1, c2, err := netPipe()
			if err != nil {
				t.Fatalf("netPipe: %v", err)
			}
			defer c1.Close()
			defer c2.Close()
			serverConf := &ServerConfig{NoClientAuth: true, Config: Config{Ciphers: ciphers, ReceiveWindow: &ReceiveWindow{MaxPacket: tt.serverMax}}}
			serverConf.AddHostKey(testSigners["ecdsa"])
			serverSide := make(chan Channel, 1)
			go func() {
				defer close(serverSide)
				sconn, chans, reqs, err := NewServerConn(c1, serverConf)
				if err != nil {
					t.Errorf("NewServerConn: %v", err)
					return
				}
				go DiscardRequests(reqs)
				if !tt.clientOpens {
					ch, creqs, err := sconn.OpenChannel("bulk", nil)
					if err != nil {
						t.Errorf("server OpenChannel: %v", err)
						return
					}
					go DiscardRequests(creqs)
					serverSide <- ch
					return
				}
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
				serverSide <- ch
			}()
			conn, chans, reqs, err := NewClientConn(c2, "addr", &ClientConfig{
				User:            "user",
				Config:          Config{Ciphers: ciphers, ReceiveWindow: &ReceiveWindow{MaxPacket: tt.clientMax}},
				HostKeyCallback: InsecureIgnoreHostKey(),
			})
			if err != nil {
				t.Fatalf("NewClientConn: %v", err)
			}
			var clientCh Channel
			if tt.clientOpens {
				client := NewClient(conn, chans, reqs)
				defer client.Close()
				ch, creqs, err := client.OpenChannel("bulk", nil)
				if err != nil {
					t.Fatalf("OpenChannel: %v", err)
				}
				go DiscardRequests(creqs)
				clientCh = ch
			} else {
				defer conn.Close()
				go DiscardRequests(reqs)
				nc, ok := <-chans
				if !ok {
					t.Fatal("no channel from the server")
				}
				ch, creqs, err := nc.Accept()
				if err != nil {
					t.Fatalf("Accept: %v", err)
				}
				go DiscardRequests(creqs)
				clientCh = ch
			}
			serverCh := <-serverSide
			if serverCh == nil {
				t.Fatal("no server side channel")
			}
			if got := clientCh.(*channel).maxRemotePayload; got != tt.wantClientSends {
				t.Errorf("the client sends packets of up to %d bytes, want %d", got, tt.wantClientSends)
			}
			if got := serverCh.(*channel).maxRemotePayload; got != tt.wantServerSends {
				t.Errorf("the server sends packets of up to %d bytes, want %d", got, tt.wantServerSends)
			}
			// Each way, a stream written in pieces larger than any
			// packet arrives whole.
			for _, dir := range []struct {
				from, to Channel
			}{{serverCh, clientCh}, {clientCh, serverCh}} {
				want := pattern(3<<20 + 776)
				errc := make(chan error, 1)
				go func() {
					var err error
					for rest := want; len(rest) > 0 && err == nil; {
						n := min(len(rest), 100<<10)
						_, err = dir.from.Write(rest[:n])
						rest = rest[n:]
					}
					errc <- err
				}()
				got := make([]byte, len(want))
				if _, err := io.ReadFull(dir.to, got); err != nil {
					t.Fatalf("reading: %v", err)
				}
				if err := <-errc; err != nil {
					t.Fatalf("writing: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatal("the stream arrived changed")
				}
			}
		})
	}
}
