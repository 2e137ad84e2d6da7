// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

package ssh

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/internal/alias"
	"golang.org/x/sys/cpu"
)

// useVAESGCM selects the VAES and VPCLMULQDQ AES-GCM (gcm_vaes_amd64.s)
// for the aes*-gcm@openssh.com packets. crypto/aes's GCM works on 128-bit
// registers, eight blocks at a time; on cores with 512-bit vectors this
// one does sixteen at a time and hashes four blocks per instruction,
// which makes a received packet's decryption about twice as fast
// (BenchmarkReadBulkPackets). VBMI2 is asked for as in
// chacha_avx512_amd64.go, as the mark of cores that keep their clock
// while they use 512-bit vectors.
var useVAESGCM = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512VAES && cpu.X86.HasAVX512VPCLMULQDQ && cpu.X86.HasAVX512VBMI2

// gcmVAESCtr XORs blocks*16 bytes of src with the AES-CTR keystream from
// counter on (GCM's: the last 32 bits count, big-endian, modulo 2^32)
// into dst; dst and src are the same memory or do not overlap.
//
//go:noescape
func gcmVAESCtr(roundKeys *[15][16]byte, rounds int, counter *[16]byte, dst, src *byte, blocks int)

// gcmVAESGhash hashes blocks*16 bytes of data into the GHASH state x,
// which is byte-reversed; powers are H^16 ... H^1 (vaesGCM.powers).
//
//go:noescape
func gcmVAESGhash(powers *[16][16]byte, x *[16]byte, data *byte, blocks int)

// gcmVAESMul sets a to a·b, both in the hash's representation.
//
//go:noescape
func gcmVAESMul(a, b *[16]byte)

// vaesGCM is AES-GCM with a 12-byte nonce and a 16-byte tag, as
// cipher.NewGCM makes it, for AES-128 and AES-256. Messages whose length
// is a multiple of 16 bytes, as every SSH packet's is, go through the
// assembly; others, and other nonce sizes, through the standard AEAD.
type vaesGCM struct {
	std       cipher.AEAD
	roundKeys [15][16]byte
	rounds    int
	// powers holds H^16 ... H^1 in the hash's representation: each
	// byte-reversed and the hash key H shifted left by one bit modulo
	// the polynomial, as crypto/aes's gcm_amd64.s keeps them.
	powers [16][16]byte
}

// errVAESOpen is the error of a failed Open, worded as crypto/cipher's.
var errVAESOpen = errors.New("cipher: message authentication failed")

// newVAESGCM returns the AEAD for key when this CPU has the instructions
// and key is an AES-128 or AES-256 key; block is crypto/aes's cipher for
// the same key, std cipher.NewGCM of it.
func newVAESGCM(key []byte, block cipher.Block, std cipher.AEAD) (cipher.AEAD, bool) {
	if !useVAESGCM || (len(key) != 16 && len(key) != 32) {
		return nil, false
	}
	g := &vaesGCM{std: std}
	g.rounds = expandAESKey(key, &g.roundKeys)

	var h [16]byte
	block.Encrypt(h[:], h[:])
	// H byte-reversed, as a 128-bit number hi:lo, shifted left by one
	// bit modulo the polynomial.
	hi := binary.BigEndian.Uint64(h[0:8])
	lo := binary.BigEndian.Uint64(h[8:16])
	carry := hi >> 63
	hi = hi<<1 | lo>>63
	lo <<= 1
	if carry != 0 {
		hi ^= 0xc200000000000000
		lo ^= 1
	}
	var h1 [16]byte
	binary.LittleEndian.PutUint64(h1[0:8], lo)
	binary.LittleEndian.PutUint64(h1[8:16], hi)
	power := h1
	for i := 15; i >= 0; i-- {
		g.powers[i] = power
		gcmVAESMul(&power, &h1)
	}
	return g, true
}

func (g *vaesGCM) NonceSize() int { return gcmStandardNonceSize }

func (g *vaesGCM) Overhead() int { return gcmTagSize }

const gcmStandardNonceSize = 12

// vaesCounter returns the counter block nonce || n.
func vaesCounter(nonce []byte, n uint32) [16]byte {
	var b [16]byte
	copy(b[:], nonce)
	binary.BigEndian.PutUint32(b[12:], n)
	return b
}

// tag returns the tag of ciphertext and additionalData under nonce.
func (g *vaesGCM) tag(nonce, ciphertext, additionalData []byte) [16]byte {
	var x [16]byte
	if n := len(additionalData) / 16; n > 0 {
		gcmVAESGhash(&g.powers, &x, &additionalData[0], n)
	}
	if rest := additionalData[len(additionalData)/16*16:]; len(rest) > 0 {
		var last [16]byte
		copy(last[:], rest)
		gcmVAESGhash(&g.powers, &x, &last[0], 1)
	}
	if n := len(ciphertext) / 16; n > 0 {
		gcmVAESGhash(&g.powers, &x, &ciphertext[0], n)
	}
	var lengths [16]byte
	binary.BigEndian.PutUint64(lengths[0:8], uint64(len(additionalData))*8)
	binary.BigEndian.PutUint64(lengths[8:16], uint64(len(ciphertext))*8)
	gcmVAESGhash(&g.powers, &x, &lengths[0], 1)

	// The hash, byte-reversed back, XOR the encrypted first counter block.
	var t [16]byte
	for i := range t {
		t[i] = x[15-i]
	}
	j0 := vaesCounter(nonce, 1)
	gcmVAESCtr(&g.roundKeys, g.rounds, &j0, &t[0], &t[0], 1)
	return t
}

func (g *vaesGCM) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != gcmStandardNonceSize || len(plaintext)%16 != 0 {
		return g.std.Seal(dst, nonce, plaintext, additionalData)
	}
	ret, out := sliceForAppend(dst, len(plaintext)+gcmTagSize)
	if alias.InexactOverlap(out, plaintext) {
		panic("crypto/cipher: invalid buffer overlap of output and input")
	}
	if alias.AnyOverlap(out, additionalData) {
		panic("crypto/cipher: invalid buffer overlap of output and additional data")
	}
	if n := len(plaintext) / 16; n > 0 {
		ctr := vaesCounter(nonce, 2)
		gcmVAESCtr(&g.roundKeys, g.rounds, &ctr, &out[0], &plaintext[0], n)
	}
	t := g.tag(nonce, out[:len(plaintext)], additionalData)
	copy(out[len(plaintext):], t[:])
	return ret
}

func (g *vaesGCM) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != gcmStandardNonceSize || len(ciphertext) < gcmTagSize || (len(ciphertext)-gcmTagSize)%16 != 0 {
		return g.std.Open(dst, nonce, ciphertext, additionalData)
	}
	sealed, received := ciphertext[:len(ciphertext)-gcmTagSize], ciphertext[len(ciphertext)-gcmTagSize:]
	ret, out := sliceForAppend(dst, len(sealed))
	if alias.InexactOverlap(out, ciphertext) {
		panic("crypto/cipher: invalid buffer overlap of output and input")
	}
	if alias.AnyOverlap(out, additionalData) {
		panic("crypto/cipher: invalid buffer overlap of output and additional data")
	}
	// The tag is checked before anything is decrypted, so that a forged
	// packet leaves dst as it was.
	t := g.tag(nonce, sealed, additionalData)
	if subtle.ConstantTimeCompare(t[:], received) != 1 {
		return nil, errVAESOpen
	}
	if n := len(sealed) / 16; n > 0 {
		ctr := vaesCounter(nonce, 2)
		gcmVAESCtr(&g.roundKeys, g.rounds, &ctr, &out[0], &sealed[0], n)
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, reallocating if it has no room,
// and returns the whole slice and the n bytes added (crypto/cipher's).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
