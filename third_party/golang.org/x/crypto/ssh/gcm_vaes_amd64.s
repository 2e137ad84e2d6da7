// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

#include "textflag.h"

// AES-GCM with VAES and VPCLMULQDQ on ZMM registers (gcm_vaes_amd64.go):
// a ZMM register holds four 16-byte blocks, one per 128-bit lane, and
// both instructions work on each lane on its own. The counter mode and
// the hash are two passes over the data, each over 16 blocks (256 bytes)
// per step: the hash multiplies the 16 blocks by H^16 ... H^1 and reduces
// once per step.
//
// The hash works in the representation crypto/aes's gcm_amd64.s uses:
// blocks byte-reversed, so that PCLMULQDQ's bit order is GHASH's, and H
// shifted left by one bit modulo the polynomial, which saves shifting
// every product; gcmVAESPoly is what the reduction multiplies by.

DATA gcmVAESByteSwap<>+0x00(SB)/8, $0x08090a0b0c0d0e0f
DATA gcmVAESByteSwap<>+0x08(SB)/8, $0x0001020304050607
GLOBL gcmVAESByteSwap<>(SB), RODATA|NOPTR, $16

DATA gcmVAESPoly<>+0x00(SB)/8, $0x0000000000000001
DATA gcmVAESPoly<>+0x08(SB)/8, $0xc200000000000000
GLOBL gcmVAESPoly<>(SB), RODATA|NOPTR, $16

// Counter blocks are kept byte-reversed, their 32-bit counter in the low
// dword of the lane, where VPADDD raises it modulo 2^32 as GCM's inc32
// does. gcmVAESLanes raises lane i by i; gcmVAESFour each lane by 4.
DATA gcmVAESLanes<>+0x00(SB)/8, $0
DATA gcmVAESLanes<>+0x08(SB)/8, $0
DATA gcmVAESLanes<>+0x10(SB)/8, $1
DATA gcmVAESLanes<>+0x18(SB)/8, $0
DATA gcmVAESLanes<>+0x20(SB)/8, $2
DATA gcmVAESLanes<>+0x28(SB)/8, $0
DATA gcmVAESLanes<>+0x30(SB)/8, $3
DATA gcmVAESLanes<>+0x38(SB)/8, $0
GLOBL gcmVAESLanes<>(SB), RODATA|NOPTR, $64

DATA gcmVAESFour<>+0x00(SB)/8, $4
DATA gcmVAESFour<>+0x08(SB)/8, $0
DATA gcmVAESFour<>+0x10(SB)/8, $4
DATA gcmVAESFour<>+0x18(SB)/8, $0
DATA gcmVAESFour<>+0x20(SB)/8, $4
DATA gcmVAESFour<>+0x28(SB)/8, $0
DATA gcmVAESFour<>+0x30(SB)/8, $4
DATA gcmVAESFour<>+0x38(SB)/8, $0
GLOBL gcmVAESFour<>(SB), RODATA|NOPTR, $64

// ROUND4 and LAST4 do an AES round, and the last one, on Z0-Z3 with the
// round key k.
#define ROUND4(k) \
	VAESENC k, Z0, Z0; VAESENC k, Z1, Z1; VAESENC k, Z2, Z2; VAESENC k, Z3, Z3

#define LAST4(k) \
	VAESENCLAST k, Z0, Z0; VAESENCLAST k, Z1, Z1; VAESENCLAST k, Z2, Z2; VAESENCLAST k, Z3, Z3

// func gcmVAESCtr(roundKeys *[15][16]byte, rounds int, counter *[16]byte, dst, src *byte, blocks int)
TEXT ·gcmVAESCtr(SB), NOSPLIT, $0-48
	MOVQ roundKeys+0(FP), AX
	MOVQ rounds+8(FP), BX
	MOVQ counter+16(FP), CX
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	MOVQ blocks+40(FP), DX

	// Z14-Z28: the round keys in every lane (Z25-Z28 for 14 rounds
	// only). Z29: gcmVAESFour. Z30: the next four counter blocks,
	// byte-reversed. Z31: the byte reversal.
	VBROADCASTI32X4 0(AX), Z14
	VBROADCASTI32X4 16(AX), Z15
	VBROADCASTI32X4 32(AX), Z16
	VBROADCASTI32X4 48(AX), Z17
	VBROADCASTI32X4 64(AX), Z18
	VBROADCASTI32X4 80(AX), Z19
	VBROADCASTI32X4 96(AX), Z20
	VBROADCASTI32X4 112(AX), Z21
	VBROADCASTI32X4 128(AX), Z22
	VBROADCASTI32X4 144(AX), Z23
	VBROADCASTI32X4 160(AX), Z24
	CMPQ BX, $10
	JE   keysLoaded
	VBROADCASTI32X4 176(AX), Z25
	VBROADCASTI32X4 192(AX), Z26
	VBROADCASTI32X4 208(AX), Z27
	VBROADCASTI32X4 224(AX), Z28

keysLoaded:
	VBROADCASTI32X4 gcmVAESByteSwap<>(SB), Z31
	VMOVDQU64       gcmVAESFour<>(SB), Z29
	VBROADCASTI32X4 (CX), Z30
	VPSHUFB         Z31, Z30, Z30
	VPADDD          gcmVAESLanes<>(SB), Z30, Z30

sixteen:
	CMPQ    DX, $16
	JB      four
	VPSHUFB Z31, Z30, Z0
	VPADDD  Z29, Z30, Z30
	VPSHUFB Z31, Z30, Z1
	VPADDD  Z29, Z30, Z30
	VPSHUFB Z31, Z30, Z2
	VPADDD  Z29, Z30, Z30
	VPSHUFB Z31, Z30, Z3
	VPADDD  Z29, Z30, Z30
	VPXORD  Z14, Z0, Z0
	VPXORD  Z14, Z1, Z1
	VPXORD  Z14, Z2, Z2
	VPXORD  Z14, Z3, Z3
	ROUND4(Z15)
	ROUND4(Z16)
	ROUND4(Z17)
	ROUND4(Z18)
	ROUND4(Z19)
	ROUND4(Z20)
	ROUND4(Z21)
	ROUND4(Z22)
	ROUND4(Z23)
	CMPQ    BX, $10
	JE      sixteenLast10
	ROUND4(Z24)
	ROUND4(Z25)
	ROUND4(Z26)
	ROUND4(Z27)
	LAST4(Z28)
	JMP     sixteenXOR

sixteenLast10:
	LAST4(Z24)

sixteenXOR:
	VPXORD    0(SI), Z0, Z0
	VPXORD    64(SI), Z1, Z1
	VPXORD    128(SI), Z2, Z2
	VPXORD    192(SI), Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $16, DX
	JMP       sixteen

	// Four blocks at a time in Z0, then one at a time in X0.
four:
	CMPQ        DX, $4
	JB          one
	VPSHUFB     Z31, Z30, Z0
	VPADDD      Z29, Z30, Z30
	VPXORD      Z14, Z0, Z0
	VAESENC     Z15, Z0, Z0
	VAESENC     Z16, Z0, Z0
	VAESENC     Z17, Z0, Z0
	VAESENC     Z18, Z0, Z0
	VAESENC     Z19, Z0, Z0
	VAESENC     Z20, Z0, Z0
	VAESENC     Z21, Z0, Z0
	VAESENC     Z22, Z0, Z0
	VAESENC     Z23, Z0, Z0
	CMPQ        BX, $10
	JE          fourLast10
	VAESENC     Z24, Z0, Z0
	VAESENC     Z25, Z0, Z0
	VAESENC     Z26, Z0, Z0
	VAESENC     Z27, Z0, Z0
	VAESENCLAST Z28, Z0, Z0
	JMP         fourXOR

fourLast10:
	VAESENCLAST Z24, Z0, Z0

fourXOR:
	VPXORD    0(SI), Z0, Z0
	VMOVDQU64 Z0, 0(DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $4, DX
	JMP       four

one:
	// Lane 0 of Z30 holds the next counter block; gcmVAESLanes+16 is
	// one lane's step of one.
	VMOVDQU gcmVAESLanes<>+16(SB), X1

oneLoop:
	TESTQ       DX, DX
	JZ          ctrDone
	VPSHUFB     X31, X30, X0
	VPADDD      X1, X30, X30
	VPXORD      X14, X0, X0
	VAESENC     X15, X0, X0
	VAESENC     X16, X0, X0
	VAESENC     X17, X0, X0
	VAESENC     X18, X0, X0
	VAESENC     X19, X0, X0
	VAESENC     X20, X0, X0
	VAESENC     X21, X0, X0
	VAESENC     X22, X0, X0
	VAESENC     X23, X0, X0
	CMPQ        BX, $10
	JE          oneLast10
	VAESENC     X24, X0, X0
	VAESENC     X25, X0, X0
	VAESENC     X26, X0, X0
	VAESENC     X27, X0, X0
	VAESENCLAST X28, X0, X0
	JMP         oneXOR

oneLast10:
	VAESENCLAST X24, X0, X0

oneXOR:
	VPXORD  0(SI), X0, X0
	VMOVDQU X0, 0(DI)
	ADDQ    $16, SI
	ADDQ    $16, DI
	DECQ    DX
	JMP     oneLoop

ctrDone:
	VZEROUPPER
	RET

// REDUCE folds the 256-bit product hi:lo, whose middle 128 bits mid are
// still apart, into out modulo the polynomial; poly is gcmVAESPoly and
// t a scratch register. lo and mid are clobbered.
#define REDUCE(lo, mid, hi, poly, t, out) \
	VPSLLDQ    $8, mid, t; \
	VPSRLDQ    $8, mid, mid; \
	VPXOR      t, lo, lo; \
	VPXOR      mid, hi, hi; \
	VPCLMULQDQ $0x01, lo, poly, t; \
	VPSHUFD    $0x4e, lo, lo; \
	VPXOR      t, lo, lo; \
	VPCLMULQDQ $0x01, lo, poly, t; \
	VPSHUFD    $0x4e, lo, lo; \
	VPXOR      t, lo, lo; \
	VPXOR      hi, lo, out

// MUL1 multiplies a by h (both 128-bit) into lo, mid and hi.
#define MUL1(a, h, lo, mid, hi, t) \
	VPCLMULQDQ $0x00, h, a, lo; \
	VPCLMULQDQ $0x11, h, a, hi; \
	VPCLMULQDQ $0x01, h, a, mid; \
	VPCLMULQDQ $0x10, h, a, t; \
	VPXOR      t, mid, mid

// func gcmVAESGhash(powers *[16][16]byte, x *[16]byte, data *byte, blocks int)
TEXT ·gcmVAESGhash(SB), NOSPLIT, $0-32
	MOVQ powers+0(FP), AX
	MOVQ x+8(FP), BX
	MOVQ data+16(FP), SI
	MOVQ blocks+24(FP), DX

	// X0 (Z0, upper lanes zero): the state. Z26-Z29: H^16 ... H^1, four
	// to a register, lane 0 the highest power. Z31 and X11: the byte
	// reversal. X10: the polynomial. X12: H.
	VMOVDQU         (BX), X0
	VMOVDQU64       0(AX), Z26
	VMOVDQU64       64(AX), Z27
	VMOVDQU64       128(AX), Z28
	VMOVDQU64       192(AX), Z29
	VBROADCASTI32X4 gcmVAESByteSwap<>(SB), Z31
	VMOVDQU         gcmVAESByteSwap<>(SB), X11
	VMOVDQU         gcmVAESPoly<>(SB), X10
	VMOVDQU         240(AX), X12

hashSixteen:
	CMPQ      DX, $16
	JB        hashOne
	VMOVDQU64 0(SI), Z1
	VMOVDQU64 64(SI), Z2
	VMOVDQU64 128(SI), Z3
	VMOVDQU64 192(SI), Z4
	VPSHUFB   Z31, Z1, Z1
	VPSHUFB   Z31, Z2, Z2
	VPSHUFB   Z31, Z3, Z3
	VPSHUFB   Z31, Z4, Z4

	// The state joins the first block: (X ^ C0)·H^16 ^ C1·H^15 ^ ...
	VPXORD Z0, Z1, Z1

	// Z5: the low, Z6: the high, Z7: the middle products, summed over
	// the blocks.
	VPCLMULQDQ $0x00, Z26, Z1, Z5
	VPCLMULQDQ $0x00, Z27, Z2, Z8
	VPCLMULQDQ $0x00, Z28, Z3, Z9
	VPTERNLOGD $0x96, Z9, Z8, Z5
	VPCLMULQDQ $0x00, Z29, Z4, Z8
	VPXORD     Z8, Z5, Z5

	VPCLMULQDQ $0x11, Z26, Z1, Z6
	VPCLMULQDQ $0x11, Z27, Z2, Z8
	VPCLMULQDQ $0x11, Z28, Z3, Z9
	VPTERNLOGD $0x96, Z9, Z8, Z6
	VPCLMULQDQ $0x11, Z29, Z4, Z8
	VPXORD     Z8, Z6, Z6

	VPCLMULQDQ $0x01, Z26, Z1, Z7
	VPCLMULQDQ $0x10, Z26, Z1, Z8
	VPCLMULQDQ $0x01, Z27, Z2, Z9
	VPTERNLOGD $0x96, Z9, Z8, Z7
	VPCLMULQDQ $0x10, Z27, Z2, Z8
	VPCLMULQDQ $0x01, Z28, Z3, Z9
	VPTERNLOGD $0x96, Z9, Z8, Z7
	VPCLMULQDQ $0x10, Z28, Z3, Z8
	VPCLMULQDQ $0x01, Z29, Z4, Z9
	VPTERNLOGD $0x96, Z9, Z8, Z7
	VPCLMULQDQ $0x10, Z29, Z4, Z8
	VPXORD     Z8, Z7, Z7

	// Sum the four lanes of each.
	VEXTRACTI64X4 $1, Z5, Y8
	VEXTRACTI64X4 $1, Z6, Y9
	VEXTRACTI64X4 $1, Z7, Y13
	VPXOR         Y8, Y5, Y5
	VPXOR         Y9, Y6, Y6
	VPXOR         Y13, Y7, Y7
	VEXTRACTI128  $1, Y5, X8
	VEXTRACTI128  $1, Y6, X9
	VEXTRACTI128  $1, Y7, X13
	VPXOR         X8, X5, X5
	VPXOR         X9, X6, X6
	VPXOR         X13, X7, X7

	REDUCE(X5, X7, X6, X10, X8, X0)
	ADDQ $256, SI
	SUBQ $16, DX
	JMP  hashSixteen

hashOne:
	TESTQ   DX, DX
	JZ      hashDone
	VMOVDQU (SI), X1
	VPSHUFB X11, X1, X1
	VPXOR   X1, X0, X1
	MUL1(X1, X12, X5, X7, X6, X8)
	REDUCE(X5, X7, X6, X10, X8, X0)
	ADDQ    $16, SI
	DECQ    DX
	JMP     hashOne

hashDone:
	VMOVDQU X0, (BX)
	VZEROUPPER
	RET

// func gcmVAESMul(a, b *[16]byte)
TEXT ·gcmVAESMul(SB), NOSPLIT, $0-16
	MOVQ    a+0(FP), AX
	MOVQ    b+8(FP), BX
	VMOVDQU (AX), X1
	VMOVDQU (BX), X12
	VMOVDQU gcmVAESPoly<>(SB), X10
	MUL1(X1, X12, X5, X7, X6, X8)
	REDUCE(X5, X7, X6, X10, X8, X0)
	VMOVDQU X0, (AX)
	VZEROUPPER
	RET
