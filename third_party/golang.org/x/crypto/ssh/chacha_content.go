// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"crypto/cipher"
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
// with Poly1305 itself) and is overwritten.
//
// useAEADKeystream selects that path where the assembly runs; elsewhere
// the generic chacha20 package stays, as before.
var useAEADKeystream = runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasBMI2 && cpu.X86.HasSSSE3

// newContentAEAD returns the AEAD that supplies the keystream of key, or
// nil where the generic code is used.
func newContentAEAD(key []byte) cipher.AEAD {
	if !useAEADKeystream {
		return nil
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil
	}
	return aead
}

// xorContentAEAD XORs buf in place with the keystream of aead's key and
// nonce from block 1 on. buf must have chacha20poly1305.Overhead bytes of
// spare capacity after its length: Seal writes its tag there.
func xorContentAEAD(aead cipher.AEAD, nonce, buf []byte) {
	aead.Seal(buf[:0], nonce, buf, nil)
}
