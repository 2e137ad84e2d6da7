// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

package ssh

import "golang.org/x/sys/cpu"

// useAVX512Keystream selects the AVX-512 keystream (chacha_avx512_amd64.s)
// for the content of chacha20-poly1305@openssh.com packets. Its
// instructions need AVX-512F; VBMI2 is asked for as well, as the mark of
// the cores (Ice Lake and later, Zen 4 and later) that run 512-bit
// vectors at their full clock: the first AVX-512 cores (Skylake-X,
// Cascade Lake) lower the clock of the whole core while they do, which
// would slow the rest of the process more than the keystream gains. Those
// keep the AVX2 path through the AEAD's Seal.
var useAVX512Keystream = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VBMI2

// chachaXORBlocksAVX512 XORs blocks*64 bytes of src with the ChaCha20
// keystream of state (RFC 8439's layout: constants, key, 32-bit block
// counter, 96-bit nonce) from its counter on, into dst. blocks must be a
// multiple of 4; dst and src are the same memory or do not overlap. The
// counter in state is left as it was.
//
//go:noescape
func chachaXORBlocksAVX512(dst, src *byte, blocks int, state *[16]uint32)
