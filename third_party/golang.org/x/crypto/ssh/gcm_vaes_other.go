// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !amd64 || !gc || purego

package ssh

import "crypto/cipher"

// useVAESGCM is false where there is no VAES assembly.
const useVAESGCM = false

// newVAESGCM has no AEAD to offer where there is no VAES assembly.
func newVAESGCM(key []byte, block cipher.Block, std cipher.AEAD) (cipher.AEAD, bool) {
	return nil, false
}
