package bench

import (
	"runtime"
	"testing"
)

// BenchmarkResBlock is one training step (forward + backward) of the ResNet
// basic block, batch 32, 64 channels, 32x32; -benchmem gives the bytes
// allocated per step.
func BenchmarkResBlock(b *testing.B) {
	s, err := NewBlockStep(DefaultBlock)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBlockStepAllocations checks the steady-state step allocates far less
// than the block's activations (a regression test for buffer reuse, not a
// timing test): the activations of the block are ~6 tensors of 8 MiB.
func TestBlockStepAllocations(t *testing.T) {
	c := DefaultBlock
	c.Batch = 4
	s, err := NewBlockStep(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 2; i++ {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const steps = 3
	for i := 0; i < steps; i++ {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / steps
	act := uint64(c.Batch * c.Channels * c.Size * c.Size * 4)
	t.Logf("%d bytes allocated per step (one activation is %d bytes)", per, act)
	if per > act {
		t.Errorf("a training step allocates %d bytes, more than one activation tensor (%d): buffers are not reused", per, act)
	}
}
