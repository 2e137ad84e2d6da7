// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !amd64 || !gc || purego

package ssh

// useAVX512Keystream is false where there is no AVX-512 assembly.
const useAVX512Keystream = false

func chachaXORBlocksAVX512(dst, src *byte, blocks int, state *[16]uint32) {
	panic("ssh: no AVX-512 keystream on this platform")
}
