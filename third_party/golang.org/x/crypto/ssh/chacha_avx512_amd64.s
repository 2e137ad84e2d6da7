// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

#include "textflag.h"

// ChaCha20 with AVX-512 (chacha_avx512_amd64.go). A ZMM register holds
// one row of the 4x4 state for four consecutive blocks, one block per
// 128-bit lane, so that a row operation of the quarter round works on four
// blocks at once and VPSHUFD, which works within lanes, turns columns into
// diagonals. VPROLD does each rotation in one instruction. The main loop
// works on four such groups (16 blocks, 1 KiB) to keep the vector units
// busy; a second loop does one group (4 blocks, 256 bytes).

DATA ·chachaLaneCounters<>+0x00(SB)/8, $0
DATA ·chachaLaneCounters<>+0x08(SB)/8, $0
DATA ·chachaLaneCounters<>+0x10(SB)/8, $1
DATA ·chachaLaneCounters<>+0x18(SB)/8, $0
DATA ·chachaLaneCounters<>+0x20(SB)/8, $2
DATA ·chachaLaneCounters<>+0x28(SB)/8, $0
DATA ·chachaLaneCounters<>+0x30(SB)/8, $3
DATA ·chachaLaneCounters<>+0x38(SB)/8, $0
GLOBL ·chachaLaneCounters<>(SB), RODATA|NOPTR, $64

DATA ·chachaFourBlocks<>+0x00(SB)/8, $4
DATA ·chachaFourBlocks<>+0x08(SB)/8, $0
DATA ·chachaFourBlocks<>+0x10(SB)/8, $4
DATA ·chachaFourBlocks<>+0x18(SB)/8, $0
DATA ·chachaFourBlocks<>+0x20(SB)/8, $4
DATA ·chachaFourBlocks<>+0x28(SB)/8, $0
DATA ·chachaFourBlocks<>+0x30(SB)/8, $4
DATA ·chachaFourBlocks<>+0x38(SB)/8, $0
GLOBL ·chachaFourBlocks<>(SB), RODATA|NOPTR, $64

// QUARTER does the quarter round on the rows a, b, c and d.
#define QUARTER(a, b, c, d) \
	VPADDD b, a, a; VPXORD a, d, d; VPROLD $16, d, d; \
	VPADDD d, c, c; VPXORD c, b, b; VPROLD $12, b, b; \
	VPADDD b, a, a; VPXORD a, d, d; VPROLD $8, d, d;  \
	VPADDD d, c, c; VPXORD c, b, b; VPROLD $7, b, b

// DIAGONALS moves the rows so that the diagonals become columns;
// COLUMNS moves them back.
#define DIAGONALS(b, c, d) \
	VPSHUFD $0x39, b, b; VPSHUFD $0x4e, c, c; VPSHUFD $0x93, d, d

#define COLUMNS(b, c, d) \
	VPSHUFD $0x93, b, b; VPSHUFD $0x4e, c, c; VPSHUFD $0x39, d, d

// INIT loads a group with the state; its row d is DD.
#define INIT(a, b, c, d, DD) \
	VMOVDQA32 Z16, a; VMOVDQA32 Z17, b; VMOVDQA32 Z18, c; VMOVDQA32 DD, d

// FINISH adds the state to a group whose row d started as DD.
#define FINISH(a, b, c, d, DD) \
	VPADDD Z16, a, a; VPADDD Z17, b, b; VPADDD Z18, c, c; VPADDD DD, d, d

// XORSTORE gathers the four blocks of a group (block i is lane i of the
// rows a, b, c and d), XORs them with 256 bytes at SI and stores them at
// DI, then moves SI and DI on.
#define XORSTORE(a, b, c, d) \
	VSHUFI32X4 $0x44, b, a, Z24; \
	VSHUFI32X4 $0xee, b, a, Z25; \
	VSHUFI32X4 $0x44, d, c, Z26; \
	VSHUFI32X4 $0xee, d, c, Z27; \
	VSHUFI32X4 $0x88, Z26, Z24, Z28; \
	VSHUFI32X4 $0xdd, Z26, Z24, Z29; \
	VSHUFI32X4 $0x88, Z27, Z25, Z30; \
	VSHUFI32X4 $0xdd, Z27, Z25, Z31; \
	VPXORD 0(SI), Z28, Z28; \
	VPXORD 64(SI), Z29, Z29; \
	VPXORD 128(SI), Z30, Z30; \
	VPXORD 192(SI), Z31, Z31; \
	VMOVDQU32 Z28, 0(DI); \
	VMOVDQU32 Z29, 64(DI); \
	VMOVDQU32 Z30, 128(DI); \
	VMOVDQU32 Z31, 192(DI); \
	ADDQ $256, SI; \
	ADDQ $256, DI

// func chachaXORBlocksAVX512(dst, src *byte, blocks int, state *[16]uint32)
TEXT ·chachaXORBlocksAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ state+24(FP), AX

	// Z16-Z18: the first three rows of the state in every lane. Z19: the
	// last row of the next four blocks, the counter of lane i raised by
	// i. Z20: what moves a last row on by four blocks.
	VBROADCASTI32X4 0(AX), Z16
	VBROADCASTI32X4 16(AX), Z17
	VBROADCASTI32X4 32(AX), Z18
	VBROADCASTI32X4 48(AX), Z19
	VPADDD ·chachaLaneCounters<>(SB), Z19, Z19
	VMOVDQU32 ·chachaFourBlocks<>(SB), Z20

sixteen:
	CMPQ CX, $16
	JB   four
	VPADDD Z20, Z19, Z21
	VPADDD Z20, Z21, Z22
	VPADDD Z20, Z22, Z23
	INIT(Z0, Z1, Z2, Z3, Z19)
	INIT(Z4, Z5, Z6, Z7, Z21)
	INIT(Z8, Z9, Z10, Z11, Z22)
	INIT(Z12, Z13, Z14, Z15, Z23)
	MOVQ $10, DX

sixteenRounds:
	QUARTER(Z0, Z1, Z2, Z3)
	QUARTER(Z4, Z5, Z6, Z7)
	QUARTER(Z8, Z9, Z10, Z11)
	QUARTER(Z12, Z13, Z14, Z15)
	DIAGONALS(Z1, Z2, Z3)
	DIAGONALS(Z5, Z6, Z7)
	DIAGONALS(Z9, Z10, Z11)
	DIAGONALS(Z13, Z14, Z15)
	QUARTER(Z0, Z1, Z2, Z3)
	QUARTER(Z4, Z5, Z6, Z7)
	QUARTER(Z8, Z9, Z10, Z11)
	QUARTER(Z12, Z13, Z14, Z15)
	COLUMNS(Z1, Z2, Z3)
	COLUMNS(Z5, Z6, Z7)
	COLUMNS(Z9, Z10, Z11)
	COLUMNS(Z13, Z14, Z15)
	DECQ DX
	JNZ  sixteenRounds

	FINISH(Z0, Z1, Z2, Z3, Z19)
	FINISH(Z4, Z5, Z6, Z7, Z21)
	FINISH(Z8, Z9, Z10, Z11, Z22)
	FINISH(Z12, Z13, Z14, Z15, Z23)
	XORSTORE(Z0, Z1, Z2, Z3)
	XORSTORE(Z4, Z5, Z6, Z7)
	XORSTORE(Z8, Z9, Z10, Z11)
	XORSTORE(Z12, Z13, Z14, Z15)
	VPADDD Z20, Z23, Z19
	SUBQ $16, CX
	JMP  sixteen

four:
	CMPQ CX, $4
	JB   done
	INIT(Z0, Z1, Z2, Z3, Z19)
	MOVQ $10, DX

fourRounds:
	QUARTER(Z0, Z1, Z2, Z3)
	DIAGONALS(Z1, Z2, Z3)
	QUARTER(Z0, Z1, Z2, Z3)
	COLUMNS(Z1, Z2, Z3)
	DECQ DX
	JNZ  fourRounds

	FINISH(Z0, Z1, Z2, Z3, Z19)
	XORSTORE(Z0, Z1, Z2, Z3)
	VPADDD Z20, Z19, Z19
	SUBQ $4, CX
	JMP  four

done:
	VZEROUPPER
	RET
