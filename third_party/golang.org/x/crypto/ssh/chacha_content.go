// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"runtime"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// The chacha20-poly1305@openssh.com construction encrypts a packet's
// contents with the ChaCha20 keystream of the content key from block 1
// on, with the packet's sequence number as the nonce. Package chacha20
// has no amd64 assembly, so that keystream comes from generic Go code,
// about half the CPU of a chacha20 connection. Package chacha20poly1305's
// AEAD has amd64 assembly (AVX2) and produces exactly that keystream:
// RFC 8439 encrypts from block 1 with a 96-bit nonce, and the SSH nonce
// (a 64-bit sequence number) is the RFC nonce of 4 zero bytes and the 8
// bytes of the sequence number, the counter staying below 2^32. Its
// Seal's ciphertext is therefore the SSH ciphertext; the RFC 8439 tag it
// appends is of no use to SSH (which MACs the length and the ciphertext
// with Poly1305 itself) and is overwritten. Where the CPU runs AVX-512 at
// full clock, assembly of this package makes the keystream alone
// (chacha_avx512_amd64.s), sparing Seal's tag.
//
// useAEADKeystream selects that path where the assembly runs; elsewhere
// the generic chacha20 package stays, as before.
var useAEADKeystream = runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasBMI2 && cpu.X86.HasSSSE3

// A contentKeystream XORs packet contents with the keystream of a content
// key from block 1 on, in assembly.
type contentKeystream interface {
	// xorKeyStream sets dst to src XORed with the keystream for nonce.
	// dst and src have the same length and are the same memory or do not
	// overlap; dst has chacha20poly1305.Overhead bytes of spare capacity
	// after its length, which the Seal path writes its tag to.
	xorKeyStream(dst, src, nonce []byte)
}

// newContentKeystream returns the fastest keystream of key that this CPU
// runs in assembly, or nil where the generic code is used.
func newContentKeystream(key *[32]byte) contentKeystream {
	switch {
	case useAVX512Keystream:
		return newAVX512Keystream(key)
	case useAEADKeystream:
		aead, err := chacha20poly1305.New(key[:])
		if err != nil {
			return nil
		}
		return sealKeystream{aead}
	}
	return nil
}

// sealKeystream takes the keystream from the AEAD's Seal (AVX2), whose
// RFC 8439 tag, computed for nothing, lands in the spare capacity.
type sealKeystream struct {
	aead cipher.AEAD
}

func (s sealKeystream) xorKeyStream(dst, src, nonce []byte) {
	s.aead.Seal(dst[:0], nonce, src, nil)
}

// avx512Keystream makes the keystream alone with AVX-512
// (chacha_avx512_amd64.s): without the tag Seal computes for nothing, at
// about twice Seal's rate.
type avx512Keystream struct {
	// state holds the constants and the key; the counter and the nonce
	// are set for each packet.
	state [16]uint32
}

func newAVX512Keystream(key *[32]byte) *avx512Keystream {
	k := &avx512Keystream{}
	k.state[0], k.state[1], k.state[2], k.state[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	for i := range 8 {
		k.state[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	return k
}

// xorKeyStream works on whole groups of four blocks in assembly and makes
// the keystream of the last, partial group into a buffer. The 32-bit
// block counter cannot wrap: a packet is far shorter than 2^32 blocks.
func (k *avx512Keystream) xorKeyStream(dst, src, nonce []byte) {
	if len(dst) < len(src) || len(nonce) != chacha20poly1305.NonceSize {
		panic("ssh: invalid keystream arguments")
	}
	state := k.state
	state[12] = 1
	state[13] = binary.LittleEndian.Uint32(nonce[0:])
	state[14] = binary.LittleEndian.Uint32(nonce[4:])
	state[15] = binary.LittleEndian.Uint32(nonce[8:])
	const group = 4 * 64
	whole := len(src) / group * group
	if whole > 0 {
		chachaXORBlocksAVX512(&dst[0], &src[0], whole/64, &state)
		state[12] += uint32(whole / 64)
	}
	if whole < len(src) {
		var stream [group]byte
		chachaXORBlocksAVX512(&stream[0], &stream[0], 4, &state)
		subtle.XORBytes(dst[whole:len(src)], src[whole:], stream[:])
	}
}
