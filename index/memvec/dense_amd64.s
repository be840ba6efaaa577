#include "textflag.h"

// func addDenseAVX2(acc *float32, data *byte, n int, step float32)
TEXT ·addDenseAVX2(SB), NOSPLIT, $0-28
	MOVQ acc+0(FP), DI
	MOVQ data+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS step+24(FP), Y0

loop32:
	CMPQ CX, $32
	JL   loop8
	VPMOVSXWD (SI), Y1
	VPMOVSXWD 16(SI), Y2
	VPMOVSXWD 32(SI), Y3
	VPMOVSXWD 48(SI), Y4
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VCVTDQ2PS Y4, Y4
	VMULPS    Y0, Y1, Y1
	VMULPS    Y0, Y2, Y2
	VMULPS    Y0, Y3, Y3
	VMULPS    Y0, Y4, Y4
	VADDPS    (DI), Y1, Y1
	VADDPS    32(DI), Y2, Y2
	VADDPS    64(DI), Y3, Y3
	VADDPS    96(DI), Y4, Y4
	VMOVUPS   Y1, (DI)
	VMOVUPS   Y2, 32(DI)
	VMOVUPS   Y3, 64(DI)
	VMOVUPS   Y4, 96(DI)
	ADDQ      $64, SI
	ADDQ      $128, DI
	SUBQ      $32, CX
	JMP       loop32

loop8:
	CMPQ CX, $8
	JL   done
	VPMOVSXWD (SI), Y1
	VCVTDQ2PS Y1, Y1
	VMULPS    Y0, Y1, Y1
	VADDPS    (DI), Y1, Y1
	VMOVUPS   Y1, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       loop8

done:
	VZEROUPPER
	RET
