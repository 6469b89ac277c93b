// Package export writes a binary spiking neural network (BSNN) in each
// profile of docs/spec/bsnn-onnx.md §5 and reads back every file it
// writes.
//
//	out, err := export.Export(model, bsnn.ProfilePacked, export.Options{})
//	info, err := export.Recognize(out)   // binary layers, LIF neurons, AGMM gates
//	rep, err := export.Describe(out)     // profile, sizes, packed ratio
//
// The input may be any of our profiles (portable, plain in either form,
// packed, train) or a QONNX-cleaned / FINN-folded form of one. Export first
// lifts it to the canonical portable graph (the graph convert.Convert
// writes), then lowers that to the profile asked for. Every written file
// has ir_version 8, opset_import "" 17 first and then only the custom
// domains used, producer "bsnnctl", the bsnn.* metadata of spec §4 with
// bsnn.profile (and bsnn.plain_form) updated, finn_datatype BIPOLAR on every
// binary weight tensor the compute layers read and BINARY on every LIF's
// spikes, value_info for every custom-node output, and no unused
// initializer. Initializers, value_info and annotations are ordered by
// first use in the node list, so a file's history does not show in it.
// Every file obeys the naming rules of bsnn.CheckNames, which QONNX's
// cleanup relies on: every output a node lists is named (a LIF's unread V_T
// is <lif>.V_T) and no node lists one tensor twice (the input encoding is
// Unsqueeze -> Expand([T, 1, ...]) -> Reshape, and V_0 of an unrolled LIF is
// the initializer <lif>.v0). Files written before those rules (a Concat of
// T copies of the input, LIF outputs [S, ""]) are read and rewritten.
//
// # Profiles
//
// portable: BipolarQuant (qonnx.custom_op.general) on the latent weights,
// LIF and AGMMGate (bsnn.custom_op.snn) nodes, each custom op with its
// model-local FunctionProto from package bsnn (refreshed on every
// export), so stock onnxruntime runs the file.
//
// plain: no custom domain at all; two forms (Options.PlainForm).
//
//   - unrolled (default): BipolarQuant is folded into the initializer
//     L.weight_bin (±1, annotated BIPOLAR; the latent weight is dropped).
//     Each LIF becomes T explicit steps, X_t = Slice(X, t, t+1, axis 0),
//     V_0 = v_reset (the initializer <lif>.v0), in exactly the float32 order of ops/spiking's package
//     documentation (d = V - v_reset; l = d*k; h0 = V - l; [ax = k*X];
//     H = h0 + ax; S = Cast(H >= v_threshold); V' = H - S*(H - v_reset) or
//     H - S*v_threshold), with k = Div(1, tau) computed in the graph from
//     the initializer <lif>.tau; the spikes are joined by a Concat named like
//     the LIF node (so bsnn.neurons still resolves) and V_T, when used, is
//     Squeeze(V_{T-1}). Spikes are bit-identical to the LIF op's. Each
//     AGMMGate becomes the standard ops of its function body with the mode
//     known: X3 = Reshape(X, [0,0,-1]), g = Unsqueeze(alpha, [1,2]) *
//     Sigmoid(ReduceMean(X3, axes 2)), Y = Reshape(X3*g, Shape(X)) (mode
//     grad_only: Identity). A LIFStep node becomes one such step.
//   - step: the same graph for one time step. The input encoding expands the
//     input once ([1, 1, ...]) and every time-major view [T, N, ...] has
//     T = 1; each LIF
//     reads its membrane from the graph input "<lif>.v_in" [N, ...] and
//     writes the next one to the graph output "<lif>.v_out"; the gates read
//     alpha[t] = ReduceSum(alpha * time_onehot) from the graph input
//     "time_onehot" (float32 [T]). An event input [T, N, ...]
//     (bsnn.input_encoding "events") is declared [1, N, ...]: call t reads
//     frame t. To run it: call it T times with the same
//     input [N, ...] (an event input: frame t, x[t:t+1]),
//     "time_onehot" = one-hot of t, every "<lif>.v_in" equal
//     to v_reset (bsnn.neurons) at t = 0 and to the previous call's
//     "<lif>.v_out" after; the model output is the mean of the T calls'
//     outputs. Spikes at call t equal the unrolled model's at step t.
//
// packed: the portable graph with each binary weight stored 1 bit per value
// in the UINT8 initializer L.weight_packed (element i in bit i%8 of byte
// i/8, bit 1 = -1, sign(0) = +1), unpacked by standard ops only:
// Unsqueeze[1] -> BitShift(RIGHT, 0..7) -> Mod 2 -> Cast float -> 1 - 2b ->
// Reshape[-1] -> Slice[0:n] -> Reshape(dims) -> L.weight_bin, which keeps
// the BIPOLAR annotation. No custom node is on the weight path (QONNX's
// FoldConstants can fold it); LIF and AGMMGate stay custom ops. bsnn.layers
// gives packing "lsb_first_1_is_neg" and weight_packed. The binary layers'
// packed bytes are ceil(n/8) for 4n float32 bytes (about 1/32).
//
// train: portable plus ModelProto.training_info (the optimizer state, in
// the layout of train.EncodeTrainState). A train-profile input keeps its
// training_info verbatim; otherwise Options.TrainState must write one
// (`bsnnctl export --profile train` passes a fresh state written with
// train.EncodeTrainState), else the error wraps ErrNoTrainState.
//
// # Round trips and what each profile keeps
//
// Exporting a model to profile P, reading the file back and exporting it to
// P again gives a proto-equal model, for every P. Every profile keeps the
// binary weights (portable -> packed -> portable gives the same signs), the
// LIF attributes (plain keeps tau, v_threshold, v_reset, decay_input and
// soft_reset in the graph and the training-only surrogate, surrogate_alpha
// and detach_reset in bsnn.neurons), the AGMM alphas and every float layer.
// Only the portable and train files keep the latent float weights: plain
// and packed are deployment forms that store the ±1 weights alone, and a
// portable file read back from them has latent weights equal to the signs.
//
// # Reading files back (Recognize)
//
// Binary layers are found by the BipolarQuant -> Conv/MatMul/Gemm pattern
// (legacy domains onnx.brevitas and finn accepted), by a finn_datatype
// BIPOLAR annotation on a weight initializer (as QONNX-cleaned or
// FINN-folded files have them; the values must be ±1), by a weight_bin of
// bsnn.layers holding ±1 values, or by the unpack chain above. Neurons are
// LIF/LIFStep nodes or the unrolled / per-step patterns (matched by
// structure, so QONNX's renaming does not matter; their training-only
// attributes come from bsnn.neurons when the names still resolve). Gates
// are AGMMGate nodes or their expansion. Names recorded in the metadata are
// used only when they resolve.
//
// # Not supported
//
// The plain and packed profiles need unit weight scales (the ±1 weights of
// spec §3); a layer with another BipolarQuant scale is reported as an
// *onnx.UnsupportedError (the portable and train profiles keep any scale).
// An AGMMGate in mode grad_only is the identity in the forward pass: the
// plain profile writes an Identity and reading the file back does not
// restore the gate or its alpha. The per-step form cannot keep a LIF's V_T
// output nor LIFStep nodes. Inputs with an ai.onnx opset outside 13..17,
// sparse initializers or custom ops of other domains are reported as an
// *onnx.UnsupportedError; a model with neither binary layers nor LIF
// neurons is not a BSNN (convert it first).
package export
