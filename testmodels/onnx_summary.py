#!/usr/bin/python3
"""Print a JSON summary of ONNX files, computed with the Python onnx API.

Usage: onnx_summary.py MODEL.onnx [MODEL.onnx ...]

One file prints one JSON object; several files print a JSON object keyed by the
path as given on the command line. The keys mirror `bsnnctl inspect --json`
(docs: ../../shared/spec/cli.md) so tests can compare the two:

  ir_version     int
  producer       "<producer_name> <producer_version>" (trimmed)
  opsets         {domain: version}; "" is ai.onnx ("ai.onnx" is written as "")
  inputs         [{name, dtype, shape}] graph inputs that are not initializers
  outputs        [{name, dtype, shape}]
                 dtype: ONNX element type name in lower case ("float", "int64");
                 shape: list of dims, an int for dim_value, the string for
                 dim_param, null when neither is set; null when the shape is unknown
  nodes          number of nodes in the top-level graph (subgraphs and function
                 bodies are not counted)
  op_counts      {op_type: count} over top-level nodes; ops outside ai.onnx are
                 keyed "domain::Op"
  params         total element count of graph.initializer
  binary_layers  names of binary layers: from the `bsnn.layers` metadata (entries
                 with binary true) when present, else one per BipolarQuant node that
                 feeds a Conv/MatMul (its weight tensor name without the
                 ".weight_bin" suffix)
  metadata       {key: value} of metadata_props
"""
import json
import sys

import onnx

STANDARD_DOMAINS = ("", "ai.onnx")


def _dtype_name(elem_type):
    if elem_type == 0:
        return "undefined"
    return onnx.TensorProto.DataType.Name(elem_type).lower()


def _value_info(vi):
    t = vi.type
    if not t.HasField("tensor_type"):
        return {"name": vi.name, "dtype": t.WhichOneof("value"), "shape": None}
    tt = t.tensor_type
    shape = None
    if tt.HasField("shape"):
        shape = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                shape.append(None)
    return {"name": vi.name, "dtype": _dtype_name(tt.elem_type), "shape": shape}


def _op_key(node):
    if node.domain in STANDARD_DOMAINS:
        return node.op_type
    return f"{node.domain}::{node.op_type}"


def _numel(tensor):
    n = 1
    for d in tensor.dims:
        n *= int(d)
    return n


def _binary_layers(model, metadata):
    raw = metadata.get("bsnn.layers")
    if raw is not None:
        try:
            layers = json.loads(raw)
            return [l["name"] for l in layers if isinstance(l, dict) and l.get("binary")]
        except (ValueError, KeyError, TypeError):
            pass
    consumers = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    names = []
    for node in model.graph.node:
        if node.op_type != "BipolarQuant" or not node.output:
            continue
        out = node.output[0]
        if any(c.op_type in ("Conv", "MatMul") for c in consumers.get(out, [])):
            suffix = ".weight_bin"
            names.append(out[: -len(suffix)] if out.endswith(suffix) else out)
    return names


def summarize_model(model):
    """Summary dict of an onnx.ModelProto (see module docstring)."""
    g = model.graph
    init_names = {t.name for t in g.initializer}
    op_counts = {}
    for node in g.node:
        k = _op_key(node)
        op_counts[k] = op_counts.get(k, 0) + 1
    opsets = {}
    for o in model.opset_import:
        opsets["" if o.domain in STANDARD_DOMAINS else o.domain] = int(o.version)
    metadata = {p.key: p.value for p in model.metadata_props}
    producer = f"{model.producer_name} {model.producer_version}".strip()
    return {
        "ir_version": int(model.ir_version),
        "producer": producer,
        "opsets": opsets,
        "inputs": [_value_info(v) for v in g.input if v.name not in init_names],
        "outputs": [_value_info(v) for v in g.output],
        "nodes": len(g.node),
        "op_counts": dict(sorted(op_counts.items())),
        "params": sum(_numel(t) for t in g.initializer),
        "binary_layers": _binary_layers(model, metadata),
        "metadata": metadata,
    }


def summarize(path):
    """Summary dict of the ONNX file at path (external data is not loaded)."""
    return summarize_model(onnx.load(path, load_external_data=False))


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2 if not argv else 0
    out = {}
    for p in argv:
        try:
            out[p] = summarize(p)
        except Exception as e:  # one clear line naming the file, no traceback
            print(f"onnx_summary: {p}: {e}", file=sys.stderr)
            return 1
    if len(argv) == 1:
        out = out[argv[0]]
    json.dump(out, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
