// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

package ssh

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"testing"
)

// newTestGCMs returns the VAES AEAD and crypto/cipher's for key, or skips
// the test where the VAES assembly does not run.
func newTestGCMs(t testing.TB, key []byte) (fast, std cipher.AEAD) {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	std, err = cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := newVAESGCM(key, block, std)
	if !ok {
		t.Skip("no VAES and VPCLMULQDQ on this CPU")
	}
	return fast, std
}

// TestVAESGCMKnownAnswers checks test cases 3 and 15 of the GCM
// specification (McGrew and Viega), AES-128 and AES-256 with four blocks
// of plaintext.
func TestVAESGCMKnownAnswers(t *testing.T) {
	tests := []struct {
		name, key, nonce, plaintext, ciphertext, tag string
	}{
		{
			name:       "case 3, AES-128",
			key:        "feffe9928665731c6d6a8f9467308308",
			nonce:      "cafebabefacedbaddecaf888",
			plaintext:  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
			ciphertext: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
			tag:        "4d5c2af327cd64a62cf35abd2ba6fab4",
		},
		{
			name:       "case 15, AES-256",
			key:        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
			nonce:      "cafebabefacedbaddecaf888",
			plaintext:  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
			ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
			tag:        "b094dac5d93471bdec1a502270e3cc6c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, _ := newTestGCMs(t, unhex(tt.key))
			nonce, plaintext := unhex(tt.nonce), unhex(tt.plaintext)
			want := append(unhex(tt.ciphertext), unhex(tt.tag)...)
			if got := fast.Seal(nil, nonce, plaintext, nil); !bytes.Equal(got, want) {
				t.Fatalf("Seal = %x, want %x", got, want)
			}
			got, err := fast.Open(nil, nonce, want, nil)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("Open = %x, %v; want %x", got, err, plaintext)
			}
		})
	}
}

// TestVAESGCMAgainstStandard compares Seal and Open with crypto/cipher's
// GCM over the lengths that take each path of the assembly (16, 4 and 1
// blocks at a time, and their mixes), lengths the assembly leaves to the
// standard AEAD, and additional data of SSH's 4 bytes and others.
func TestVAESGCMAgainstStandard(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	lengths := []int{0, 1, 15, 16, 17, 32, 48, 63, 64, 80, 240, 255, 256, 272, 320, 496, 512, 1000, 1024, 4096 + 48, 32768 + 16, 128 << 10}
	for _, keySize := range []int{16, 32} {
		key := make([]byte, keySize)
		rng.Read(key)
		fast, std := newTestGCMs(t, key)
		for _, aadLen := range []int{0, 4, 13, 16, 40} {
			for _, n := range lengths {
				nonce := make([]byte, 12)
				rng.Read(nonce)
				aad := make([]byte, aadLen)
				rng.Read(aad)
				plaintext := make([]byte, n)
				rng.Read(plaintext)

				want := std.Seal(nil, nonce, plaintext, aad)
				got := fast.Seal(nil, nonce, plaintext, aad)
				if !bytes.Equal(got, want) {
					t.Fatalf("AES-%d, %d bytes, %d of additional data: Seal differs from crypto/cipher's", keySize*8, n, aadLen)
				}
				opened, err := fast.Open(nil, nonce, want, aad)
				if err != nil || !bytes.Equal(opened, plaintext) {
					t.Fatalf("AES-%d, %d bytes, %d of additional data: Open = %v, or the plaintext differs", keySize*8, n, aadLen, err)
				}
			}
		}
	}
}

// TestVAESGCMRejectsForgeries flips one bit at a time in the ciphertext,
// the tag, the additional data and the nonce of a sealed message: Open
// must fail each time and leave dst as it was.
func TestVAESGCMRejectsForgeries(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	key := make([]byte, 16)
	rng.Read(key)
	fast, _ := newTestGCMs(t, key)
	nonce, aad, plaintext := make([]byte, 12), make([]byte, 4), make([]byte, 1024)
	rng.Read(nonce)
	rng.Read(aad)
	rng.Read(plaintext)
	sealed := fast.Seal(nil, nonce, plaintext, aad)

	for _, part := range []struct {
		name string
		buf  []byte
	}{{"ciphertext", sealed[:len(plaintext)]}, {"tag", sealed[len(plaintext):]}, {"additional data", aad}, {"nonce", nonce}} {
		for _, bit := range []int{0, 7, 8*len(part.buf)/2 + 3, 8*len(part.buf) - 1} {
			part.buf[bit/8] ^= 1 << (bit % 8)
			dst := bytes.Repeat([]byte{0xaa}, len(plaintext))
			if _, err := fast.Open(dst[:0], nonce, sealed, aad); err == nil {
				t.Errorf("Open took a message with bit %d of the %s flipped", bit, part.name)
			}
			if !bytes.Equal(dst, bytes.Repeat([]byte{0xaa}, len(plaintext))) {
				t.Errorf("a failed Open (bit %d of the %s) wrote to dst", bit, part.name)
			}
			part.buf[bit/8] ^= 1 << (bit % 8)
		}
	}
	if _, err := fast.Open(nil, nonce, sealed, aad); err != nil {
		t.Fatalf("Open of the restored message: %v", err)
	}
}

// TestVAESGCMInPlace seals and opens in place, as x/crypto/ssh may.
func TestVAESGCMInPlace(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	fast, std := newTestGCMs(t, key)
	nonce, aad := make([]byte, 12), []byte{0, 0, 1, 0}
	plaintext := bytes.Repeat([]byte("sixteen byte blk"), 300)
	want := std.Seal(nil, nonce, plaintext, aad)

	buf := make([]byte, len(plaintext), len(plaintext)+16)
	copy(buf, plaintext)
	if got := fast.Seal(buf[:0], nonce, buf, aad); !bytes.Equal(got, want) {
		t.Fatal("Seal in place differs from crypto/cipher's")
	}
	buf = buf[:len(want)]
	got, err := fast.Open(buf[:0], nonce, buf, aad)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("Open in place = %v, or the plaintext differs", err)
	}
}

// TestVAESCtrCounterWraps runs the counter mode across the 32-bit
// counter's wrap, which GCM's inc32 takes modulo 2^32 without touching
// the nonce, against crypto/aes block by block.
func TestVAESCtrCounterWraps(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 16)
	newTestGCMs(t, key)
	block, _ := aes.NewCipher(key)
	var roundKeys [15][16]byte
	rounds := expandAESKey(key, &roundKeys)
	for _, blocks := range []int{1, 3, 4, 7, 16, 37} {
		for _, start := range []uint32{0xffffffff, 0xfffffff0, 0xfffffffe} {
			var ctr [16]byte
			copy(ctr[:], "twelve bytes")
			binary.BigEndian.PutUint32(ctr[12:], start)
			src := make([]byte, 16*blocks)
			for i := range src {
				src[i] = byte(i)
			}
			got := make([]byte, len(src))
			gcmVAESCtr(&roundKeys, rounds, &ctr, &got[0], &src[0], blocks)

			want := make([]byte, len(src))
			cb := ctr
			for i := 0; i < blocks; i++ {
				block.Encrypt(want[16*i:], cb[:])
				for j := 0; j < 16; j++ {
					want[16*i+j] ^= src[16*i+j]
				}
				binary.BigEndian.PutUint32(cb[12:], binary.BigEndian.Uint32(cb[12:])+1)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%d blocks from counter %#x: keystream differs from crypto/aes's", blocks, start)
			}
		}
	}
}

// TestExpandAESKey checks the key schedule against FIPS 197's appendix A
// (the last round key of each expansion).
func TestExpandAESKey(t *testing.T) {
	tests := []struct{ key, last string }{
		{"2b7e151628aed2a6abf7158809cf4f3c", "d014f9a8c9ee2589e13f0cc8b6630ca6"},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "fe4890d1e6188d0b046df344706c631e"},
	}
	for _, tt := range tests {
		var roundKeys [15][16]byte
		rounds := expandAESKey(unhex(tt.key), &roundKeys)
		if got := hex.EncodeToString(roundKeys[rounds][:]); got != tt.last {
			t.Errorf("key %s: last round key %s, want %s", tt.key, got, tt.last)
		}
	}
}

// FuzzVAESGCM compares the VAES AEAD with crypto/cipher's on any key,
// nonce, additional data and plaintext, and checks that Open takes what
// Seal made and refuses it with the tag's last bit flipped.
func FuzzVAESGCM(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 16), make([]byte, 12), []byte{0, 0, 0, 32}, make([]byte, 32))
	f.Add(bytes.Repeat([]byte{2}, 32), make([]byte, 12), []byte{}, make([]byte, 4096))
	f.Fuzz(func(t *testing.T, key, nonce, aad, plaintext []byte) {
		switch {
		case len(key) >= 32:
			key = key[:32]
		case len(key) >= 16:
			key = key[:16]
		default:
			return
		}
		if len(nonce) < 12 {
			return
		}
		nonce = nonce[:12]
		fast, std := newTestGCMs(t, key)
		want := std.Seal(nil, nonce, plaintext, aad)
		got := fast.Seal(nil, nonce, plaintext, aad)
		if !bytes.Equal(got, want) {
			t.Fatalf("Seal differs from crypto/cipher's")
		}
		opened, err := fast.Open(nil, nonce, got, aad)
		if err != nil || !bytes.Equal(opened, plaintext) {
			t.Fatalf("Open = %v, or the plaintext differs", err)
		}
		got[len(got)-1] ^= 1
		if _, err := fast.Open(nil, nonce, got, aad); err == nil {
			t.Fatal("Open took a forged tag")
		}
	})
}

// BenchmarkVAESGCMOpen opens a 32 KiB SSH packet with crypto/cipher's GCM
// and with the VAES one.
func BenchmarkVAESGCMOpen(b *testing.B) {
	key := bytes.Repeat([]byte{5}, 16)
	fast, std := newTestGCMs(b, key)
	nonce, aad := make([]byte, 12), []byte{0, 0, 0x80, 0x10}
	sealed := std.Seal(nil, nonce, make([]byte, 32768+16), aad)
	for _, bb := range []struct {
		name string
		aead cipher.AEAD
	}{{"crypto-cipher", std}, {"vaes", fast}} {
		b.Run(bb.name, func(b *testing.B) {
			dst := make([]byte, 0, len(sealed))
			b.SetBytes(int64(len(sealed) - gcmTagSize))
			for b.Loop() {
				if _, err := bb.aead.Open(dst, nonce, sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
