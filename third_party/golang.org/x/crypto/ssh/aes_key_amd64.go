// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

package ssh

// The AES key schedule (FIPS 197, section 5.2) for the VAES GCM, which
// needs the round keys that crypto/aes keeps to itself. It runs once per
// key exchange; the S-box is computed byte by byte rather than kept in a
// table.

// gfMul multiplies a and b in AES's field, GF(2^8) modulo x^8+x^4+x^3+x+1.
func gfMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		carry := a & 0x80
		a <<= 1
		if carry != 0 {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

// subByte is AES's S-box: the inverse in the field (0 for 0), then the
// affine map.
func subByte(x byte) byte {
	// x^254 is x's inverse, and 0 for 0.
	inv := byte(1)
	for e, sq := 254, x; e > 0; e >>= 1 {
		if e&1 != 0 {
			inv = gfMul(inv, sq)
		}
		sq = gfMul(sq, sq)
	}
	rotl := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
	return inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
}

// expandAESKey writes the round keys of a 16- or 32-byte key to
// roundKeys, in the byte order AESENC takes them, and returns the number
// of rounds (10 or 14).
func expandAESKey(key []byte, roundKeys *[15][16]byte) int {
	nk := len(key) / 4
	rounds := nk + 6
	var w [15 * 16]byte
	copy(w[:], key)
	rcon := byte(1)
	for i := nk; i < 4*(rounds+1); i++ {
		var t [4]byte
		copy(t[:], w[4*(i-1):4*i])
		switch {
		case i%nk == 0:
			t = [4]byte{subByte(t[1]) ^ rcon, subByte(t[2]), subByte(t[3]), subByte(t[0])}
			rcon = gfMul(rcon, 2)
		case nk > 6 && i%nk == 4:
			t = [4]byte{subByte(t[0]), subByte(t[1]), subByte(t[2]), subByte(t[3])}
		}
		for j := range t {
			w[4*i+j] = w[4*(i-nk)+j] ^ t[j]
		}
	}
	for r := 0; r <= rounds; r++ {
		copy(roundKeys[r][:], w[16*r:16*r+16])
	}
	return rounds
}
