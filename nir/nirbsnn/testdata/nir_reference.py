"""The Python side of the NIR tests (Debian python3-h5py and numpy only; NIR's
own package is not installable here, so this follows its sources, github.com/
neuromorphs/NIR nir/serialization.py and nir/ir/*.py, at v1.0.7).

  check FILE...              read each file as nir.read does (hdf2dict, then
                             each node's fields as its dataclass takes them,
                             then NIRGraph's type inference and check) and
                             print a JSON summary: every node's type, fields
                             (dtype, shape) and input/output types
  simulate FILE IN.npy OUT   run the graph as a NIR simulator would, forward
                             Euler at the graph's dt (as snnTorch's and
                             SpikingJelly's NIR import do), in float32, for
                             the graph's bsnn.time_steps steps, and write the
                             mean over time of the output (float32 .npy)
  rewrite IN OUT             read IN as nir.read and write it back as nir.write
  foreign OUT                write a small network the way snnTorch and
                             SpikingJelly export one (no bsnn metadata)
"""
import json
import sys

import h5py
import numpy as np

STR = h5py.string_dtype()

# Fields of each node type (nir/ir/*.py) as (name, kind, required).
# Kinds: "array" float ndarray, "ints" integer tuple/array, "int" scalar,
# "padding" ints or 'same'/'valid'.
SCHEMA = {
    "Input": [("shape", "ints", True)],
    "Output": [("shape", "ints", True)],
    "Affine": [("weight", "array", True), ("bias", "array", True)],
    "Linear": [("weight", "array", True)],
    "Scale": [("scale", "array", True)],
    "Conv1d": [("input_shape", "int", False), ("weight", "array", True), ("stride", "int", True),
               ("padding", "padding", True), ("dilation", "int", True), ("groups", "int", True),
               ("bias", "array", True)],
    "Conv2d": [("input_shape", "ints", False), ("weight", "array", True), ("stride", "ints", True),
               ("padding", "padding", True), ("dilation", "ints", True), ("groups", "int", True),
               ("bias", "array", True)],
    "SumPool2d": [("kernel_size", "ints", True), ("stride", "ints", True), ("padding", "ints", True)],
    "AvgPool2d": [("kernel_size", "ints", True), ("stride", "ints", True), ("padding", "ints", True)],
    "Flatten": [("input_type", "ints", False), ("start_dim", "int", False), ("end_dim", "int", False)],
    "Delay": [("delay", "array", True)],
    "Threshold": [("threshold", "array", True)],
    "I": [("r", "array", True)],
    "IF": [("r", "array", True), ("v_threshold", "array", True), ("v_reset", "array", False)],
    "LI": [("tau", "array", True), ("r", "array", True), ("v_leak", "array", True)],
    "LIF": [("tau", "array", True), ("r", "array", True), ("v_leak", "array", True),
            ("v_threshold", "array", True), ("v_reset", "array", False)],
}


def hdf2dict(node):
    """nir/serialization.py's hdf2dict: groups become dicts, datasets values."""
    out = {}
    for key, item in node.items():
        if isinstance(item, h5py.Group):
            out[key] = hdf2dict(item)
        else:
            v = item[()]
            out[key] = v.decode("utf8") if isinstance(v, bytes) else v
    return out


def fail(msg):
    raise SystemExit(msg)


def check_field(path, name, kind, v):
    if kind == "array":
        if not isinstance(v, np.ndarray) or v.dtype.kind != "f":
            fail("%s: %s is %r, want a float array" % (path, name, type(v)))
    elif kind == "ints":
        a = np.asarray(v)
        if a.dtype.kind not in "iu" or a.ndim > 1:
            fail("%s: %s is %r, want integers" % (path, name, v))
    elif kind == "int":
        if np.asarray(v).dtype.kind not in "iu" or np.asarray(v).ndim != 0:
            fail("%s: %s is %r, want an integer" % (path, name, v))
    elif kind == "padding":
        if not (isinstance(v, str) and v in ("same", "valid")) and np.asarray(v).dtype.kind not in "iu":
            fail("%s: padding is %r" % (path, v))


def pair(v):
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[-1]))


def conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def declared_types(t, d):
    """A node's (input_type, output_type) as its NIR constructor sets them;
    None where NIR leaves it to inference."""
    if t in ("Input", "Output"):
        s = [int(x) for x in np.asarray(d["shape"]).reshape(-1)]
        return s, s
    if t in ("Affine", "Linear"):
        w = d["weight"].shape
        return [w[-1]], [w[-2]]
    if t in ("Scale", "Delay", "Threshold"):
        s = list(d[{"Scale": "scale", "Delay": "delay", "Threshold": "threshold"}[t]].shape)
        return s, s
    if t in ("I", "IF", "LI", "LIF"):
        return list(d["r"].shape), list(d["r"].shape)
    if t == "Conv2d" and "input_shape" in d:
        w = d["weight"]
        h, wd = [int(x) for x in np.asarray(d["input_shape"]).reshape(-1)]
        (sh, sw), (dh, dw) = pair(d["stride"]), pair(d["dilation"])
        ph, pw = (0, 0) if isinstance(d["padding"], str) else pair(d["padding"])
        # NIR's Conv2d: input channels are weight.shape[1] (groups ignored).
        return [w.shape[1], h, wd], [w.shape[0], conv_out(h, w.shape[2], sh, ph, dh), conv_out(wd, w.shape[3], sw, pw, dw)]
    if t == "Flatten" and "input_type" in d:
        return list(d["input_type"]), flatten(list(d["input_type"]), d.get("start_dim", 1), d.get("end_dim", -1))
    return None, None


def flatten(s, start, end):
    """nir/ir/utils.py's calc_flatten_output."""
    start, end = int(start), int(end)
    head = s[:start] if start != 0 else []
    mid = int(np.prod(s[start:end + 1])) if end != -1 else int(np.prod(s[start:]))
    tail = s[end + 1:] if end not in (-1, len(s) - 1) else []
    return [*head, mid, *tail]


def infer(nodes, edges):
    """NIRGraph.infer_types then check_types, for the node kinds this
    package writes; raises on a mismatch as NIR does."""
    types = {k: list(declared_types(n["type"], n)) for k, n in nodes.items()}
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            out = types[a][1]
            if out is None or types[b][0] is not None:
                continue
            n = nodes[b]
            if n["type"] in ("SumPool2d", "AvgPool2d"):
                (kh, kw), (sh, sw), (ph, pw) = pair(n["kernel_size"]), pair(n["stride"]), pair(n["padding"])
                res = [out[0], conv_out(out[1], kh, sh, ph, 1), conv_out(out[2], kw, sw, pw, 1)]
            elif n["type"] == "Flatten":
                res = flatten(out, n.get("start_dim", 1), n.get("end_dim", -1))
            else:
                res = out
            types[b] = [list(out), res]
            changed = True
    for a, b in edges:
        if types[a][1] is None or types[b][0] is None or list(types[a][1]) != list(types[b][0]):
            fail("type mismatch: %s.output: %s -> %s.input: %s" % (a, types[a][1], b, types[b][0]))
    return types


def read(path):
    with h5py.File(path, "r") as f:
        version = f["version"][()].decode("utf8")
        g = hdf2dict(f["node"])
    if g.get("type") != "NIRGraph":
        fail("%s: the top node is %r" % (path, g.get("type")))
    edges = [(a.decode("utf8"), b.decode("utf8")) for a, b in g["edges"]]
    for name, n in g["nodes"].items():
        t = n.get("type")
        if t not in SCHEMA:
            fail("%s: node %s has type %r" % (path, name, t))
        fields = {f: (k, req) for f, k, req in SCHEMA[t]}
        for key in n:
            if key not in fields and key not in ("type", "metadata"):
                fail("%s: node %s (%s) has field %r, which %s's constructor rejects" % (path, name, t, key, t))
        for f, (kind, req) in fields.items():
            if f not in n:
                if req:
                    fail("%s: node %s lacks %s" % (path, name, f))
                continue
            check_field("%s: node %s" % (path, name), f, kind, n[f])
    return version, g, edges


def summary(path):
    version, g, edges = read(path)
    types = infer(g["nodes"], edges)
    nodes = {}
    for name, n in g["nodes"].items():
        fields = {}
        for k, v in n.items():
            if k in ("type", "metadata"):
                continue
            a = np.asarray(v)
            fields[k] = {"dtype": "string" if isinstance(v, str) else str(a.dtype), "shape": list(a.shape)}
        nodes[name] = {"type": n["type"], "fields": fields, "metadata": sorted(n.get("metadata", {})),
                       "input_type": [int(x) for x in types[name][0]], "output_type": [int(x) for x in types[name][1]]}
    meta = {k: (v if isinstance(v, str) else np.asarray(v).tolist()) for k, v in g.get("metadata", {}).items()}
    return {"version": version, "edges": edges, "nodes": nodes, "metadata": meta}


# ---- simulation -----------------------------------------------------------

def conv2d(x, w, b, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    co, ci, kh, kw = w.shape
    oh, ow = conv_out(h, kh, stride[0], pad[0], dil[0]), conv_out(wd, kw, stride[1], pad[1], dil[1])
    out = np.empty((n, co, oh, ow), np.float32)
    per = co // groups
    for g in range(groups):
        xs = x[:, g * ci:(g + 1) * ci]
        cols = np.empty((n, ci, kh, kw, oh, ow), np.float32)
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dil[0], j * dil[1]
                cols[:, :, i, j] = xs[:, :, r0:r0 + stride[0] * oh:stride[0], c0:c0 + stride[1] * ow:stride[1]]
        wg = w[g * per:(g + 1) * per].reshape(per, -1)
        out[:, g * per:(g + 1) * per] = np.einsum("ok,nkp->nop", wg, cols.reshape(n, ci * kh * kw, oh * ow)).reshape(n, per, oh, ow)
    return out + b.astype(np.float32)[None, :, None, None]


def pool(x, k, s, p, mean):
    n, c, h, w = x.shape
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh, ow = conv_out(h, k[0], s[0], p[0], 1), conv_out(w, k[1], s[1], p[1], 1)
    out = np.zeros((n, c, oh, ow), np.float32)
    for i in range(k[0]):
        for j in range(k[1]):
            out += x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
    return out / np.float32(k[0] * k[1]) if mean else out


def topo(nodes, edges):
    indeg = {k: 0 for k in nodes}
    for _, b in edges:
        indeg[b] += 1
    ready = sorted(k for k, v in indeg.items() if v == 0)
    order = []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for a, b in edges:
            if a == k:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
                    ready.sort()
    return order


def simulate(path, x):
    _, g, edges = read(path)
    nodes, meta = g["nodes"], g.get("metadata", {})
    dt = float(meta.get("dt", 1e-4))
    T = int(meta.get("bsnn.time_steps", 4))
    events = meta.get("bsnn.input_encoding") == "events"
    order = topo(nodes, edges)
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    state, outs = {}, []
    f32 = np.float32
    for t in range(T):
        val = {}
        for k in order:
            n = nodes[k]
            typ = n["type"]
            if typ == "Input":
                val[k] = (x[t] if events else x).astype(f32)
                continue
            inp = val[preds[k][0]]
            for p in preds[k][1:]:
                inp = inp + val[p]
            if typ == "Output":
                outs.append(inp)
                val[k] = inp
            elif typ == "Conv2d":
                pad = (0, 0) if isinstance(n["padding"], str) else pair(n["padding"])
                val[k] = conv2d(inp, n["weight"].astype(f32), n["bias"], pair(n["stride"]), pad, pair(n["dilation"]), int(n["groups"]))
            elif typ in ("Affine", "Linear"):
                y = np.einsum("ni,oi->no", inp, n["weight"].astype(f32))
                val[k] = y + n["bias"].astype(f32) if typ == "Affine" else y
            elif typ == "Scale":
                val[k] = inp * n["scale"].astype(f32)
            elif typ in ("SumPool2d", "AvgPool2d"):
                val[k] = pool(inp, pair(n["kernel_size"]), pair(n["stride"]), pair(n["padding"]), typ == "AvgPool2d")
            elif typ == "Flatten":
                val[k] = inp.reshape(inp.shape[0], *flatten(list(inp.shape[1:]), n.get("start_dim", 1), n.get("end_dim", -1)))
            elif typ in ("LIF", "IF"):
                reset = n.get("v_reset", np.zeros_like(n["v_threshold"])).astype(f32)
                v = state.get(k, np.broadcast_to(reset, inp.shape).astype(f32))
                if typ == "LIF":
                    # Forward Euler: v += dt/tau*(v_leak - v) + dt*r/tau*I.
                    leak, gain = (dt / n["tau"]).astype(f32), (dt * n["r"] / n["tau"]).astype(f32)
                    v = v + leak * (n["v_leak"].astype(f32) - v) + gain * inp
                else:
                    v = v + (dt * n["r"]).astype(f32) * inp
                z = v > n["v_threshold"].astype(f32)
                state[k] = np.where(z, reset, v).astype(f32)
                val[k] = z.astype(f32)
            else:
                fail("simulate: node %s: type %s" % (k, typ))
    acc = outs[0]
    for o in outs[1:]:
        acc = acc + o
    return (acc / f32(T)).astype(f32)


# ---- writing as nir.write -------------------------------------------------

def write(path, graph, version="1.0.7"):
    """nir/serialization.py's write: str as string datasets, ndarrays gzip,
    dicts as groups (empty metadata skipped), anything else plain."""
    def rec(group, node):
        for k, v in node.items():
            if k == "metadata":
                if v:
                    rec(group.create_group(k), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=STR)
            elif isinstance(v, np.ndarray):
                group.create_dataset(k, data=v, dtype=v.dtype, compression="gzip")
            elif isinstance(v, dict):
                rec(group.create_group(str(k)), v)
            else:
                group.create_dataset(k, data=v)

    with h5py.File(path, "w") as f:
        f.create_dataset("version", data=version, dtype=STR)
        rec(f.create_group("node"), graph)


def rewrite(src, dst):
    version, g, edges = read(src)
    g["edges"] = edges  # NIRGraph.from_dict turns them into str tuples
    write(dst, g, version)


def foreign(path):
    """A network as snnTorch's and SpikingJelly's exporters write one: float
    layers with biases, LIF parameters in their conventions (snnTorch:
    tau = dt/(1-beta), r = tau/dt; SpikingJelly: tau*dt, r = 1 with
    decay_input), full-shape float64 parameters, no metadata."""
    rng = np.random.default_rng(7)
    dt = 1e-4
    def lif_snntorch(shape, beta, thr):
        tau = dt / (1 - beta)
        return {"type": "LIF", "tau": np.full(shape, tau), "r": np.full(shape, tau / dt),
                "v_leak": np.zeros(shape), "v_threshold": np.full(shape, thr), "v_reset": np.zeros(shape)}
    def lif_spikingjelly(shape, tau, thr):
        return {"type": "LIF", "tau": np.full(shape, tau * dt), "r": np.ones(shape),
                "v_leak": np.zeros(shape), "v_threshold": np.full(shape, thr), "v_reset": np.zeros(shape)}
    g = {
        "type": "NIRGraph",
        "nodes": {
            "input": {"type": "Input", "shape": np.array([1, 8, 8])},
            "conv": {"type": "Conv2d", "input_shape": (8, 8), "weight": rng.normal(0, 0.6, (4, 1, 3, 3)).astype(np.float32),
                     "stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": 1,
                     "bias": rng.normal(0, 0.1, 4).astype(np.float32)},
            "lif1": lif_snntorch((4, 8, 8), 0.9, 1.0),
            "pool": {"type": "AvgPool2d", "kernel_size": np.array([2, 2]), "stride": np.array([2, 2]), "padding": np.array([0, 0])},
            "flat": {"type": "Flatten", "input_type": np.array([4, 4, 4]), "start_dim": 0, "end_dim": -1},
            "fc": {"type": "Affine", "weight": rng.normal(0, 0.5, (10, 64)).astype(np.float32),
                   "bias": rng.normal(0.2, 0.1, 10).astype(np.float32)},
            "lif2": lif_spikingjelly((10,), 2.0, 0.5),
            "output": {"type": "Output", "shape": np.array([10])},
        },
        "edges": [("input", "conv"), ("conv", "lif1"), ("lif1", "pool"), ("pool", "flat"), ("flat", "fc"),
                  ("fc", "lif2"), ("lif2", "output")],
    }
    write(path, g)


def main(argv):
    cmd = argv[1]
    if cmd == "check":
        json.dump({p: summary(p) for p in argv[2:]}, sys.stdout)
    elif cmd == "simulate":
        np.save(argv[4], simulate(argv[2], np.load(argv[3])))
    elif cmd == "rewrite":
        rewrite(argv[2], argv[3])
    elif cmd == "foreign":
        foreign(argv[2])
    else:
        fail("unknown command %r" % cmd)


if __name__ == "__main__":
    main(sys.argv)
