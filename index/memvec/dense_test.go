package memvec

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// addDenseGo is addDense without the wide loop: one slot at a time, the
// product rounded to float32 before the sum.
func addDenseGo(acc []float32, data []byte, base uint32, step float32) {
	if uint64(base) >= uint64(len(acc)) {
		return
	}
	acc = acc[base:]
	for i := range min(len(acc), len(data)/2) {
		acc[i] += float32(step * float32(int16(binary.LittleEndian.Uint16(data[2*i:]))))
	}
}

// TestAddDenseMatchesGo: addDense (with AVX2 where the CPU has it) gives
// every slot the same sum, bit for bit, as the plain loop, at every
// length, base and offset, for extreme values and steps.
func TestAddDenseMatchesGo(t *testing.T) {
	if !hasAVX2 {
		t.Log("no AVX2 here: this compares the Go loop with itself")
	}
	r := rand.New(rand.NewPCG(3, 5))
	steps := []float32{1, 0.5, 3.3e-5, 7.1e3, math.SmallestNonzeroFloat32, math.MaxFloat32 / 40000, -2.5}
	for round := range 3000 {
		n := r.IntN(200)
		if round%100 == 0 {
			n = 5000 + r.IntN(5000)
		}
		data := make([]byte, 2*(r.IntN(n+1)+r.IntN(8)))
		for i := 0; i < len(data); i += 2 {
			var q int16
			switch r.IntN(6) {
			case 0:
				q = math.MaxInt16
			case 1:
				q = math.MinInt16
			case 2:
				q = 0
			default:
				q = int16(r.Uint32())
			}
			binary.LittleEndian.PutUint16(data[i:], uint16(q))
		}
		off := r.IntN(3) // an acc not starting on a vector boundary
		want := make([]float32, n+off)
		for i := range want {
			want[i] = float32(r.NormFloat64() * 100)
		}
		got := append([]float32(nil), want...)
		base := uint32(r.IntN(n/2 + 1))
		step := steps[r.IntN(len(steps))] * float32(0.5+r.Float64())
		addDenseGo(want[off:], data, base, step)
		addDense(got[off:], data, base, step)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("round %d (n %d, base %d, off %d, step %g): slot %d = %v, want %v", round, n, base, off, step, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkAddDense: one dense list of 1M slots into the accumulator.
func BenchmarkAddDense(b *testing.B) {
	const n = 1 << 20
	data := make([]byte, 2*n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(data); i += 2 {
		binary.LittleEndian.PutUint16(data[i:], uint16(r.IntN(1<<15)))
	}
	acc := make([]float32, n)
	for _, impl := range []struct {
		name string
		fn   func([]float32, []byte, uint32, float32)
	}{{"addDense", addDense}, {"go", addDenseGo}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(2 * n)
			for b.Loop() {
				impl.fn(acc, data, 0, 1e-4)
			}
		})
	}
}
