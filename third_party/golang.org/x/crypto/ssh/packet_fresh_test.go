// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"bytes"
	"crypto"
	"testing"
)

// TestFreshPackets reads packets through connectionState.readPacket with
// every cipher: a packet already returned stays intact while later ones
// are read, whether the cipher returns fresh memory (and the copy is
// skipped) or not.
func TestFreshPackets(t *testing.T) {
	for cipher := range cipherModes {
		t.Run(cipher, func(t *testing.T) {
			kr := &kexResult{Hash: crypto.SHA1}
			algs := DirectionAlgorithms{Cipher: cipher, MAC: HMACSHA256, compression: compressionNone}
			w, err := newPacketCipher(clientKeys, algs, kr)
			if err != nil {
				t.Fatal(err)
			}
			r, err := newPacketCipher(clientKeys, algs, kr)
			if err != nil {
				t.Fatal(err)
			}
			var wire bytes.Buffer
			var want [][]byte
			for i, size := range []int{1, 100, 32768 + 13, 7, 4096} {
				p := bytes.Repeat([]byte{byte(msgChannelData + i)}, size)
				want = append(want, bytes.Clone(p)) // stream ciphers encrypt p in place
				if err := w.writeCipherPacket(uint32(i), &wire, zeroReader{}, p); err != nil {
					t.Fatal(err)
				}
			}
			st := &connectionState{packetCipher: r}
			br := bufio.NewReader(&wire)
			var got [][]byte
			for range want {
				p, err := st.readPacket(br, false)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p)
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("packet %d (%d bytes) changed after later packets were read", i, len(want[i]))
				}
			}
		})
	}
}
