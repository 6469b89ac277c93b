#!/usr/bin/env python3
"""Read a BSNN written by `bsnnctl export` with plain Python tools.

    python3 python_example.py MODEL.onnx                   # describe, and run if onnxruntime is installed
    python3 python_example.py MODEL.onnx --check --expect-binary conv2,fc1,fc2

It needs only `onnx` and `numpy`; `onnxruntime` (pip install onnxruntime) is
optional and used to run the model. Nothing from bsnnctl is imported: the file
format (docs/python.md, shared/spec/bsnn-onnx.md) is all it relies on.

With --check it exits 1 unless the binary layers found from the finn_datatype
BIPOLAR annotations, and those listed as binary in the bsnn.layers metadata,
are exactly the --expect-binary list (in graph order), and every binary weight
stored in the file holds only +1/-1 values (or 1-bit packed bytes).
"""

import argparse
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

COMPUTE_OPS = ("Conv", "MatMul", "Gemm", "ConvTranspose")


def metadata(model):
    """metadata_props as a dict; the bsnn.* values that hold JSON are parsed."""
    out = {}
    for p in model.metadata_props:
        value = p.value
        if p.key.startswith("bsnn.") and value[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[p.key] = value
    return out


def annotations(model):
    """graph.quantization_annotation as {tensor: {key: value}}."""
    out = {}
    for a in model.graph.quantization_annotation:
        kv = out.setdefault(a.tensor_name, {})
        for e in a.quant_parameter_tensor_names:
            kv[e.key] = e.value
    return out


def binary_layers_from_annotations(model, meta):
    """Compute nodes whose weight input is annotated finn_datatype BIPOLAR.

    Works for every profile: the annotated tensor is BipolarQuant's output
    (portable, train), a +/-1 initializer (plain, or a FINN-folded file) or the
    output of the bit-unpacking chain (packed). Names come from bsnn.layers
    when the weight is listed there, else from the weight tensor's name.
    """
    ann = annotations(model)
    listed = {l.get("weight_bin"): l for l in meta.get("bsnn.layers", []) if l.get("binary")}
    found = []
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in COMPUTE_OPS or len(node.input) < 2:
            continue
        weight = node.input[1]
        if ann.get(weight, {}).get("finn_datatype") != "BIPOLAR":
            continue
        entry = listed.get(weight, {})
        name = entry.get("name") or weight.replace(".weight_bin", "")
        found.append({"name": name, "node": node.name, "op": node.op_type, "weight": weight,
                      "packing": entry.get("packing")})
    return found


def binary_layers_from_metadata(meta):
    return [l["name"] for l in meta.get("bsnn.layers", []) if l.get("binary")]


def stored_weight_check(model, layers, meta):
    """Check the binary weights the file stores; returns a list of problems."""
    inits = {t.name: t for t in model.graph.initializer}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    by_name = {l["name"]: l for l in meta.get("bsnn.layers", []) if l.get("binary")}
    problems = []
    for layer in layers:
        w = layer["weight"]
        entry = by_name.get(layer["name"], {})
        if w in inits:  # plain / FINN-folded: the +/-1 values themselves
            values = numpy_helper.to_array(inits[w])
            if not np.isin(values, (-1.0, 1.0)).all():
                problems.append("%s: %s holds values other than +/-1" % (layer["name"], w))
        elif entry.get("packing") == "lsb_first_1_is_neg":  # packed: 1 bit per weight
            packed = inits.get(entry.get("weight_packed", ""))
            if packed is None or packed.data_type != onnx.TensorProto.UINT8:
                problems.append("%s: packed weight %r is not a UINT8 initializer" % (layer["name"], entry.get("weight_packed")))
                continue
            count = int(np.prod(shapes.get(w, [0])))
            data = numpy_helper.to_array(packed)
            if count == 0 or data.size != (count + 7) // 8:
                problems.append("%s: %d packed bytes for %d weights" % (layer["name"], data.size, count))
                continue
            signs = unpack_bits(data, count).reshape(shapes[w])
            layer["unpacked"] = signs  # what the in-graph unpack chain computes
        elif entry.get("weight_latent") in inits:  # portable / train: latent weights, sign taken in-graph
            pass
        else:
            problems.append("%s: cannot find how %s is stored" % (layer["name"], w))
    return problems


def unpack_bits(packed, count):
    """The packed profile's storage: bit i%8 of byte i/8, bit 1 means -1."""
    bits = np.unpackbits(packed.astype(np.uint8), bitorder="little")[:count]
    return (1 - 2 * bits.astype(np.int8)).astype(np.float32)


def run_with_onnxruntime(path, meta, seed=0):
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed (pip install onnxruntime): not running the model")
        return None
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    inputs = sess.get_inputs()
    image = inputs[0]
    shape = [d if isinstance(d, int) else 1 for d in image.shape]
    x = rng.standard_normal(shape).astype(np.float32)
    steps = int(meta.get("bsnn.time_steps", "1"))
    neurons = meta.get("bsnn.neurons", {})
    names = [i.name for i in inputs]
    if meta.get("bsnn.plain_form") == "step":
        # One call per time step: the same image, the membranes carried from
        # <lif>.v_out to <lif>.v_in (starting at v_reset), alpha[t] picked by
        # time_onehot; the model's output is the mean of the T per-step outputs.
        state = {}
        for i in inputs[1:]:
            if i.name.endswith(".v_in"):
                lif = i.name[: -len(".v_in")]
                v_reset = float(neurons.get(lif, {}).get("v_reset", 0.0))
                state[i.name] = np.full([d if isinstance(d, int) else shape[0] for d in i.shape], v_reset, np.float32)
        outputs = [o.name for o in sess.get_outputs()]
        total = None
        for t in range(steps):
            feeds = {image.name: x, **state}
            if "time_onehot" in names:
                feeds["time_onehot"] = np.eye(steps, dtype=np.float32)[t]
            res = dict(zip(outputs, sess.run(outputs, feeds)))
            for k in state:
                state[k] = res[k[: -len(".v_in")] + ".v_out"]
            total = res[outputs[0]] if total is None else total + res[outputs[0]]
        y = total / steps
    else:
        y = sess.run(None, {image.name: x})[0]
    print("onnxruntime %s: output %s, argmax %s" % (ort.__version__, list(y.shape), y.argmax(axis=-1).tolist()))
    return y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--check", action="store_true", help="assert the binary layers found (exit 1 otherwise)")
    ap.add_argument("--expect-binary", default="", help="comma-separated binary layer names for --check")
    args = ap.parse_args(argv)

    model = onnx.load(args.model)
    onnx.checker.check_model(model)
    meta = metadata(model)
    print("file: %s (ir_version %d, opsets %s)" % (args.model, model.ir_version,
          ", ".join("%s:%d" % (o.domain or "ai.onnx", o.version) for o in model.opset_import)))
    print("bsnn metadata:")
    for key in sorted(k for k in meta if k.startswith("bsnn.")):
        value = meta[key]
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
            if len(value) > 100:
                value = value[:97] + "..."
        print("  %-22s %s" % (key, value))

    layers = binary_layers_from_annotations(model, meta)
    print("binary layers (finn_datatype BIPOLAR on the weight):")
    for layer in layers:
        print("  %-22s %-8s weight %s%s" % (layer["name"], layer["op"], layer["weight"],
              "  (packed: %s)" % layer["packing"] if layer["packing"] else ""))
    from_meta = binary_layers_from_metadata(meta)
    print("binary layers (bsnn.layers): %s" % ", ".join(from_meta))
    spikes = [t for t, kv in annotations(model).items() if kv.get("finn_datatype") == "BINARY"]
    print("spike tensors (finn_datatype BINARY): %d" % len(spikes))

    if args.check:
        expected = [n for n in args.expect_binary.split(",") if n]
        found = [l["name"] for l in layers]
        problems = stored_weight_check(model, layers, meta)
        if found != expected:
            problems.append("annotations give binary layers %s, expected %s" % (found, expected))
        if from_meta != expected:
            problems.append("bsnn.layers lists binary layers %s, expected %s" % (from_meta, expected))
        if problems:
            for p in problems:
                print("CHECK FAILED: " + p, file=sys.stderr)
            return 1
        print("check: OK (%d binary layers)" % len(found))

    run_with_onnxruntime(args.model, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
