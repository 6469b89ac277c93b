// Package spiking holds the raw float32 kernels of the three BSNN operators of the bsnnctl
// contract (docs/spec/bsnn-onnx.md §2): the LIF neuron (multi-step and single-step, forward and
// BPTT backward with surrogate gradients), the AGMM gate, and BipolarQuant with its
// straight-through backward. They work on plain []float32 slices and know nothing of Gorgonia;
// the ops package wraps them.
//
// # Conventions
//
// Every kernel checks its arguments and returns an error wrapping ErrShape or ErrParam instead
// of panicking. Outputs are overwritten, never accumulated into. An output may share memory with
// an input only where the function says so. Kernels allocate nothing per call in steady state;
// large inputs are split between two goroutines (the calling one and a long-lived helper) along
// an axis whose elements are independent, so results do not depend on the split.
//
// # Memory layout
//
// LIF and AGMMGate take time-major tensors X[T, N, ...] as flat slices. LIF sees them as [T, M]
// with M = N * (product of the other dimensions): element t*M + i is step t of neuron i.
// AGMMGate sees them as [T, N, D] with D the product of the dimensions after N: row t*N + n is
// the D values of sample n at step t. Stateless layers run on [T*N, ...] in the same order
// (spec §3.7), so no transpose is ever needed. BipolarQuant's per-channel scale layout is
// described at BipolarForward.
//
// # LIF (spec §2.2)
//
// With V_0 = v_reset, k = 1/tau and a = k if decay_input else 1, each step t computes
//
//	H_t = V_{t-1} - (V_{t-1} - v_reset)*k + a*X_t
//	S_t = 1[H_t >= v_threshold]
//	V_t = H_t - S_t*(H_t - v_reset)     (hard reset, default)
//	V_t = H_t - S_t*v_threshold         (soft reset)
//
// Spikes must be bit-identical to onnxruntime running the model-local ONNX function body, so the
// forward pass is specified down to the float32 rounding. Every operation below is one IEEE
// float32 operation with round-to-nearest-even, evaluated in this order, with no fused
// multiply-add (Go code forces the rounding with explicit float32 conversions):
//
//	k   = 1 / tau                      computed once (Div of two float32 constants)
//	a   = k if decay_input else 1
//	d   = V - v_reset                  Sub
//	l   = d * k                        Mul
//	h0  = V - l                        Sub
//	ax  = a * X                        Mul  (exact, = X, when a = 1; a body may skip it)
//	H   = h0 + ax                      Add
//	S   = H >= v_threshold ? 1 : 0     GreaterOrEqual, Cast to float (or Where(1, 0))
//	hard reset: r = H - v_reset        Sub
//	            p = S * r              Mul
//	            V = H - p              Sub
//	soft reset: p = S * v_threshold    Mul
//	            V = H - p              Sub
//
// V_0 is v_reset, and k, 1 - k and a are float32 constants. A body that wants to save operations
// may only drop ones that are exact (a multiplication by a = 1, a subtraction of v_reset = 0);
// rewriting the hard reset as Where(S, v_reset, H) is not allowed in general, because
// H - (H - v_reset) need not round to v_reset (it does whenever v_reset = 0).
//
// The backward pass (LIFBackward, LIFStepBackward) is BPTT through V with dS/dH replaced by a
// Surrogate evaluated at u = H - v_threshold; the recurrence is written out at LIFBackward.
// detach_reset removes the S-dependence of the reset term from the gradient. V_0 is a constant.
//
// # AGMMGate (spec §2.3)
//
//	m[t,n] = mean(X[t,n,:]),  g[t,n] = alpha[t]*sigmoid(m[t,n]),  Y = g*X   (mode forward)
//	                                                               Y = X     (mode grad_only)
//
// Both modes share one backward pass: dX = g*dY + alpha*sigmoid'(m)*<dY,X>/D (the second term
// dropped when detach_stat = 1) and dalpha[t] = sum_n sigmoid(m[t,n])*<dY,X>_{t,n}.
//
// # BipolarQuant (spec §2.1)
//
// Y = (X >= 0 ? +1 : -1) * scale with sign(0) = +1; the backward pass is the straight-through
// estimator dY/dX = scale * 1[|X| <= 1] (STEClipped, default) or scale (STEIdentity); scale gets no
// gradient. MeanAbsPerChannel computes the XNOR-style per-channel scale mean|W|.
package spiking
