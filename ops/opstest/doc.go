// Package opstest is the contract every op of the ops registry passes, in
// the spirit of gonum's graph/testgraph: reusable checks that any registry
// entry, present or future, can be run through.
//
// # Cases
//
// A Case describes a small ONNX model around one op: the registry entry
// (domain, op type, opset version), the attributes, the inputs (graph
// inputs, float initializers that become trainable parameters, frozen
// initializers, int64 shape-like initializers, omitted optional inputs),
// the outputs with their expected static shapes, the ops.Options to compile
// with, and how to check its gradients. Input values are drawn
// reproducibly from the case's seed (Uniform, AwayFrom kinks, Distinct for
// max-like ops, or explicit Data); Accept can reject draws that sit too
// close to a discontinuity.
//
// # Checks
//
// Each check builds the case's model (Case.Model), compiles it with
// ops.NewBuilder and Builder.Compile and runs it; a panic of the engine is
// reported as a failure of the case, not a crash of the suite.
//
//   - Shapes: the builder's static output shapes (ops.Value.Shape) equal the
//     length and runtime shape of the computed tensors and the case's
//     expected shapes; gradients have their inputs' shapes.
//   - Deterministic: repeated runs of the same program give bit-identical
//     outputs and gradients (a parallel reduction whose order depends on
//     thread scheduling fails it), also after a run on other inputs in
//     between, and the forward-only and training programs agree.
//   - Gradients: the engine's analytic gradients of a random weighted-sum
//     loss (ops.Builder.WeightedSum) with respect to every graph input
//     (Options.InputGrads, Program.InputGrad) and parameter (Program.Grad)
//     are compared with central finite differences (float32 perturbations
//     whose true size is measured in float64, loss accumulated in float64),
//     element by element: |a-r| <= Atol + Rtol*|r| (GradCheck.Richardson
//     extrapolates two steps for strongly nonlinear compositions). Where finite
//     differences do not measure what the engine computes by design (the
//     surrogate gradient of LIF's spikes, BipolarQuant's straight-through
//     estimator, AGMMGate's grad_only mode and detached statistics),
//     GradCheck.Reference supplies a closed-form gradient instead; LIFRef,
//     AGMMRef and BipolarRef implement those of docs/spec/bsnn-onnx.md §2
//     independently of ops/spiking.
//   - ValuesMatch: the outputs equal the case's reference forward pass
//     (Case.Want), when it has one.
//   - Rejection: a case with Rejects set must be refused by ops.CheckModel
//     (unsupported attribute values are reported up front).
//
// CheckShapes, CheckDeterministic, CheckGradients and CheckValues run them
// as tests; CheckCase runs all of them on one case, CheckOp on the cases of
// one registry entry (failing when it has none that builds a model), and
// CheckRegistry on a whole case table: every entry of ops.Specs() must be
// covered, so that a newly registered op cannot slip in untested.
//
// # ONNX conformance
//
// LoadONNXCase and RunONNXCase run ONNX's own backend node tests (Debian's
// libonnx-testdata, ONNXTestdataDir) through the engine and compare the
// outputs with ONNX's tolerance semantics |a-b| <= atol + rtol*|b|;
// ONNXRunOptions.Promote runs a case with its shape-like or statistics
// graph inputs turned into initializers, since the engine takes float32
// runtime inputs only and needs those as compile-time constants.
//
// The contract over the bsnnctl registry is ops/contract_test.go:
//
//	go test ./ops -run Contract -v
package opstest
