// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// genericContent is the content keystream as the generic code makes it:
// package chacha20 from block 1 on.
func genericContent(t testing.TB, key, nonce, buf []byte) {
	s, err := chacha20.NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCounter(1)
	s.XORKeyStream(buf, buf)
}

// contentKeystreams are the assembly keystreams this CPU runs, by name.
func contentKeystreams(t testing.TB, key []byte) map[string]contentKeystream {
	var k [32]byte
	copy(k[:], key)
	streams := map[string]contentKeystream{}
	if useAEADKeystream {
		aead, err := chacha20poly1305.New(key)
		if err != nil {
			t.Fatal(err)
		}
		streams["Seal"] = sealKeystream{aead}
	}
	if useAVX512Keystream {
		streams["AVX-512"] = newAVX512Keystream(&k)
	}
	if len(streams) == 0 {
		t.Logf("no assembly keystream on this CPU: only the generic code is tested")
	}
	return streams
}

// runKeystream XORs data with ks's keystream, in place or into a separate
// buffer, each with the spare capacity the interface allows, and checks
// that nothing was written beyond it.
func runKeystream(t testing.TB, ks contentKeystream, nonce, data []byte, inPlace bool) []byte {
	const guard = 8
	spare := len(data) + chacha20poly1305.Overhead
	buf := make([]byte, spare+guard)
	for i := range buf[spare:] {
		buf[spare+i] = 0xa5
	}
	dst := buf[:len(data):spare]
	src := data
	if inPlace {
		copy(dst, data)
		src = dst
	}
	ks.xorKeyStream(dst, src, nonce)
	if !bytes.Equal(buf[spare:], bytes.Repeat([]byte{0xa5}, guard)) {
		t.Fatalf("the keystream wrote beyond its spare capacity")
	}
	return dst
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestChaChaContentRFC8439 checks every keystream against RFC 8439's
// ChaCha20 encryption vector (section 2.4.2: initial counter 1, as the
// SSH construction's content).
func TestChaChaContentRFC8439(t *testing.T) {
	key := unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	nonce := unhex("000000000000004a00000000")
	plain := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	want := unhex(`6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81
		e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
		f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57
		16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
		07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e
		52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
		5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42
		87 4d`)
	for name, ks := range contentKeystreams(t, key) {
		for _, inPlace := range []bool{true, false} {
			if got := runKeystream(t, ks, nonce, plain, inPlace); !bytes.Equal(got, want) {
				t.Errorf("%s keystream (in place %v):\n got %x\nwant %x", name, inPlace, got, want)
			}
		}
	}
	got := bytes.Clone(plain)
	genericContent(t, key, nonce, got)
	if !bytes.Equal(got, want) {
		t.Errorf("generic keystream:\n got %x\nwant %x", got, want)
	}
}

// sshNonce is the nonce the SSH construction uses for a sequence number.
func sshNonce(seq uint32) []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint32(nonce[8:], seq)
	return nonce
}

// FuzzChaChaContent compares each assembly keystream with the generic one
// for any key, sequence number and packet, in place and not, and decrypts
// what it encrypted.
func FuzzChaChaContent(f *testing.F) {
	f.Add(make([]byte, 32), uint32(0), []byte("x"))
	f.Add(bytes.Repeat([]byte{0xff}, 32), uint32(0xffffffff), make([]byte, 35000))
	f.Add(unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), uint32(7), bytes.Repeat([]byte("0123456789abcdef"), 300))
	f.Add(make([]byte, 32), uint32(1), make([]byte, 1024))
	f.Add(make([]byte, 32), uint32(2), make([]byte, 1024+256+17))
	f.Fuzz(func(t *testing.T, key []byte, seq uint32, data []byte) {
		if len(key) != 32 {
			return
		}
		nonce := sshNonce(seq)
		want := bytes.Clone(data)
		genericContent(t, key, nonce, want)
		for name, ks := range contentKeystreams(t, key) {
			for _, inPlace := range []bool{true, false} {
				got := runKeystream(t, ks, nonce, data, inPlace)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s and generic keystreams differ for %d bytes at sequence %d (in place %v)", name, len(data), seq, inPlace)
				}
				if back := runKeystream(t, ks, nonce, got, inPlace); !bytes.Equal(back, data) {
					t.Fatalf("%s: decrypting gave back other bytes", name)
				}
			}
		}
	})
}

// TestChaChaContentSizes compares each assembly keystream with the generic
// one at the sizes around its blocks, its groups of four blocks and its
// sixteen-block loop.
func TestChaChaContentSizes(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(3*i + 1)
	}
	var sizes []int
	for _, base := range []int{0, 64, 256, 512, 768, 1024, 1280, 2048, 32768, 131072} {
		for d := -1; d <= 1; d++ {
			if base+d >= 0 {
				sizes = append(sizes, base+d)
			}
		}
	}
	for name, ks := range contentKeystreams(t, key) {
		for _, size := range sizes {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 13)
			}
			nonce := sshNonce(uint32(size))
			want := bytes.Clone(data)
			genericContent(t, key, nonce, want)
			for _, inPlace := range []bool{true, false} {
				if got := runKeystream(t, ks, nonce, data, inPlace); !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes (in place %v) differ from the generic keystream", name, size, inPlace)
				}
			}
		}
	}
}

// TestChaChaCipherPaths runs packets through the cipher between every
// pair of keystreams (the generic one and each assembly one), both ways.
func TestChaChaCipherPaths(t *testing.T) {
	key := make([]byte, 64)
	for i := range key {
		key[i] = byte(i * 7)
	}
	streams := contentKeystreams(t, key[:32])
	streams["generic"] = nil
	newCipher := func(stream string) *chacha20Poly1305Cipher {
		c, err := newChaCha20Cipher(key, nil, nil, DirectionAlgorithms{})
		if err != nil {
			t.Fatal(err)
		}
		cc := c.(*chacha20Poly1305Cipher)
		cc.content = streams[stream]
		return cc
	}
	for writer := range streams {
		for reader := range streams {
			t.Run(writer+" to "+reader, func(t *testing.T) {
				w, r := newCipher(writer), newCipher(reader)
				for seq, size := range []int{1, 15, 16, 17, 255, 256, 1024, 4096, 32768 + 100} {
					payload := bytes.Repeat([]byte{byte(seq + 1)}, size)
					var wire bytes.Buffer
					if err := w.writeCipherPacket(uint32(seq), &wire, zeroReader{}, payload); err != nil {
						t.Fatal(err)
					}
					got, err := r.readCipherPacket(uint32(seq), &wire)
					if err != nil {
						t.Fatalf("packet of %d bytes: %v", size, err)
					}
					if !bytes.Equal(got, payload) {
						t.Fatalf("packet of %d bytes came back changed", size)
					}
				}
			})
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// BenchmarkChaChaContent measures each content keystream on a full
// channel data packet.
func BenchmarkChaChaContent(b *testing.B) {
	key := make([]byte, 32)
	nonce := sshNonce(1)
	buf := make([]byte, 32768+chacha20poly1305.Overhead)
	data := buf[:32768]
	b.Run("generic", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			genericContent(b, key, nonce, data)
		}
	})
	for name, ks := range contentKeystreams(b, key) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				ks.xorKeyStream(data, data, nonce)
			}
		})
	}
}
