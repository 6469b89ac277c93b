"""h5py side of the hdf5 package's interop tests.

    python3 h5py_fixtures.py make OUTDIR    writes every fixture FILE.h5 into
                                           OUTDIR, each with FILE.json, its
                                           description as h5py reads it back
    python3 h5py_fixtures.py goldens OUTDIR the small files committed under
                                           testdata/ (h5py_*.h5, h5py_*.json)
    python3 h5py_fixtures.py modify FILE    changes FILE the way a user might:
                                           40 new groups under /node/nodes (B-tree
                                           splits, a larger local heap), an
                                           attribute, a deleted link
    python3 h5py_fixtures.py describe FILE...
                                           prints {FILE: description, ...}
                                           (JSON)

A description lists every object reachable from the root group:

    {"objects": [{"path": "/a/x", "kind": "dataset", "addr": 1234,
                  "dtype": "float32", "shape": [2, 3], "data": [...],
                  "storage": {"layout": "chunked", "chunks": [2, 3],
                              "deflate": 4, "shuffle": false},
                  "attrs": {"name": {"dtype": ..., "shape": ..., "data": ...}}},
                 {"path": "/a", "kind": "group", "addr": 96, "attrs": {}},
                 {"path": "/a/s", "kind": "soft", "target": "/a/x"}]}

Data is flattened in C order; strings are decoded from UTF-8; dtype uses
numpy's names, with "string" for any string type. The Go tests compare
these descriptions with what the hdf5 package decodes or encoded, so h5py
is the oracle in both directions. Values avoid NaN and infinities so that
the JSON stays standard.
"""

import json
import os
import sys

import h5py
import numpy as np


# ------------------------------------------------------------------ describe

def dtype_name(dt):
    if h5py.check_string_dtype(dt) is not None or dt.kind in "SUO":
        return "string"
    if dt.kind == "b":
        return "bool"
    return np.dtype(dt.str.replace(">", "<")).name


def flat(value, dt):
    a = np.asarray(value)
    out = []
    for v in a.ravel(order="C").tolist():
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        out.append(v)
    return out


def array_desc(value, dt, shape):
    return {"dtype": dtype_name(dt), "shape": list(shape), "data": flat(value, dt)}


def attrs_desc(obj):
    out = {}
    for name in obj.attrs:
        aid = h5py.h5a.open(obj.id, name.encode("utf-8"))
        out[name] = array_desc(obj.attrs[name], aid.dtype, aid.shape)
    return out


def storage_desc(ds):
    layout = ds.id.get_create_plist().get_layout()
    s = {"layout": {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.COMPACT: "compact",
                    h5py.h5d.CHUNKED: "chunked"}.get(layout, str(layout))}
    if ds.chunks is not None:
        s["chunks"] = list(ds.chunks)
    s["deflate"] = ds.compression_opts if ds.compression == "gzip" else 0
    s["shuffle"] = bool(ds.shuffle)
    return s


def describe(path):
    objects = []
    with h5py.File(path, "r") as f:
        def visit(group, prefix):
            for name in sorted(group.keys()):
                p = prefix + name
                link = group.get(name, getlink=True)
                if isinstance(link, h5py.SoftLink):
                    objects.append({"path": p, "kind": "soft", "target": link.path})
                    continue
                obj = group[name]
                addr = h5py.h5o.get_info(obj.id).addr
                if isinstance(obj, h5py.Group):
                    objects.append({"path": p, "kind": "group", "addr": addr, "attrs": attrs_desc(obj)})
                    if not any(o["kind"] == "group" and o["addr"] == addr for o in objects[:-1]):
                        visit(obj, p + "/")
                else:
                    d = {"path": p, "kind": "dataset", "addr": addr, "attrs": attrs_desc(obj),
                         "storage": storage_desc(obj)}
                    d.update(array_desc(obj[()], obj.dtype, obj.shape))
                    objects.append(d)

        objects.append({"path": "/", "kind": "group", "addr": h5py.h5o.get_info(f["/"].id).addr,
                        "attrs": attrs_desc(f)})
        visit(f, "/")
    return {"objects": objects}


# ---------------------------------------------------------------- fixtures

STR = h5py.string_dtype()
NUMERIC = ["<f4", "<f8", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8"]


def values(dtype, shape, seed):
    """Deterministic values that exercise the dtype's range."""
    n = int(np.prod(shape)) if shape else 1
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = (np.arange(n) - n / 2) * 0.37 + seed
        if n > 2:
            v[0], v[1] = np.finfo(dt).tiny, np.finfo(dt).max
    elif dt.kind == "b":
        v = (np.arange(n) + seed) % 3 == 0
    else:
        info = np.iinfo(dt)
        v = np.arange(n, dtype=np.int64) * 7 + seed
        v = v.astype(dt)
        if n > 2:
            v[0], v[1] = info.min, info.max
    return np.asarray(v, dtype=dt).reshape(shape)


def fill_common(f, compression=None, shuffle=False, fletcher32=False):
    """Groups, every dtype and rank, strings, attributes and links."""
    f.attrs["title"] = "fixture \u00e9"
    f.attrs["count"] = np.int64(3)
    f.attrs["scale"] = np.float32([0.5, 1.5])
    g = f.create_group("a/b")
    kw = {}
    if compression:
        kw = dict(compression=compression, shuffle=shuffle, fletcher32=fletcher32)
    for i, dtype in enumerate(NUMERIC + ["?"]):
        name = np.dtype(dtype).name
        g.create_dataset(name + "_scalar", data=values(dtype, (), i)[()])
        g.create_dataset(name + "_2x3", data=values(dtype, (2, 3), i), **kw)
    g.create_dataset("f4_rank3", data=values("<f4", (2, 1, 4), 9), **kw)
    g.create_dataset("f8_empty", data=np.zeros((0, 3)))
    ds = g.create_dataset("weight", data=values("<f4", (4, 3), 11), **kw)
    ds.attrs["binary"] = np.int64(1)
    ds.attrs["note"] = "\u00b11 weights"
    ds.attrs["bool"] = np.bool_(True)
    f.create_dataset("version", data="0.5.0", dtype=STR)
    f.create_dataset("edges", data=[["in", "lif\u00e9"], ["lif\u00e9", "out"], ["", "x"]], dtype=STR)
    f["a/shared_again"] = g["weight"]
    f["a/soft"] = h5py.SoftLink("/a/b/weight")
    f.create_group("empty_group")


def make_default(path):
    with h5py.File(path, "w") as f:
        fill_common(f)


def make_gzip(path):
    with h5py.File(path, "w") as f:
        fill_common(f, compression="gzip")
        f.create_dataset("shuffled", data=values("<i2", (40, 30), 3), compression="gzip",
                         compression_opts=7, shuffle=True, chunks=(7, 9))
        f.create_dataset("checksummed", data=values("<f8", (33,), 4), compression="gzip",
                         fletcher32=True, chunks=(8,))
        f.create_dataset("many_chunks", data=values("<f4", (100, 100), 5), chunks=(10, 10),
                         compression="gzip")
        f.create_dataset("strings", data=np.array(["a", "bb", "", "d\u00e9", "e"], dtype=object),
                         dtype=STR, chunks=(2,), compression="gzip")


def make_compact(path):
    with h5py.File(path, "w") as f:
        for name, data in [("f4", values("<f4", (3, 2), 1)), ("u2", values("<u2", (5,), 2)),
                           ("scalar", np.float64(2.5))]:
            data = np.asarray(data)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            space = h5py.h5s.create_simple(data.shape) if data.shape else h5py.h5s.create(h5py.h5s.SCALAR)
            ds = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(data.dtype), space, dcpl=dcpl)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(data))


def make_latest(path):
    with h5py.File(path, "w", libver="latest") as f:
        fill_common(f, compression="gzip")
        many = f.create_group("many_links")  # more than 8 links: dense storage
        for i in range(20):
            many.create_dataset("d%02d" % i, data=np.int32(i))
        attrs = f.create_dataset("many_attrs", data=np.float32([1, 2]))
        for i in range(12):  # more than 8 attributes: dense storage
            attrs.attrs["attr%02d" % i] = np.float64(i) / 4
        f.create_dataset("fixed_array", data=values("<f8", (30, 20), 6), chunks=(4, 5),
                         compression="gzip")
        f.create_dataset("paged", data=values("<u1", (1500,), 7), chunks=(1,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((3, 2))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        data = values("<i4", (7, 5), 8)
        ds = h5py.h5d.create(f.id, b"implicit", h5py.h5t.py_create(data.dtype),
                             h5py.h5s.create_simple(data.shape), dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        order = f.create_group("ordered", track_order=True)
        for name in ["z", "y", "x"]:
            order.create_dataset(name, data=np.float32(1))


def make_types(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("be_f4", data=values(">f4", (3,), 1))
        f.create_dataset("be_i8", data=values(">i8", (4,), 2))
        f.create_dataset("be_u2", data=values(">u2", (2, 2), 3), chunks=(1, 2), compression="gzip")
        f.create_dataset("fixed", data=np.array([b"ab", b"cde", b""], dtype="S3"))
        f.attrs["fixed_attr"] = np.bytes_(b"xyz")
        f.attrs["be_attr"] = np.array([1.5, -2.0], dtype=">f8")
        track = f.create_group("tracked", track_order=True)
        for i in range(10):  # new-style group in a version-0 file, dense after 8
            track.create_dataset("t%d" % i, data=np.int16(i))


def make_fill(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("unwritten", shape=(4,), dtype="<f4", fillvalue=7.0)
        f.create_dataset("unwritten_zero", shape=(2, 2), dtype="<i2")
        ds = f.create_dataset("partial", shape=(10,), dtype="<i4", chunks=(3,), fillvalue=3,
                              compression="gzip")
        ds[0:3] = [1, 2, 4]
        ds[9] = 9


def make_nir(path):
    """What NIR's nir.write does (nir/serialization.py) for a small graph:
    string datasets for types and the version, gzip for every ndarray,
    plain create_dataset for other values, metadata as a group."""
    def write(group, node):
        for k, v in node.items():
            if k == "metadata":
                if v:
                    write(group.create_group(k), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=STR)
            elif isinstance(v, np.ndarray):
                group.create_dataset(k, data=v, dtype=v.dtype, compression="gzip")
            elif isinstance(v, dict):
                write(group.create_group(str(k)), v)
            else:
                group.create_dataset(k, data=v)

    graph = {
        "type": "NIRGraph",
        "edges": [("input", "fc"), ("fc", "lif"), ("lif", "output")],
        "metadata": {"dt": 0.001},
        "nodes": {
            "input": {"type": "Input", "shape": np.array([4])},
            "fc": {"type": "Affine", "weight": values("<f4", (3, 4), 1), "bias": values("<f4", (3,), 2),
                   "metadata": {"bsnn.binary": 1, "scale": 0.25, "flag": True}},
            "lif": {"type": "LIF", "tau": np.full(3, 0.02), "r": np.ones(3), "v_leak": np.zeros(3),
                    "v_reset": np.zeros(3), "v_threshold": np.ones(3)},
            "output": {"type": "Output", "shape": np.array([3])},
        },
    }
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="1.0.6", dtype=STR)
        write(f.create_group("node"), graph)


def make_unsupported(outdir):
    """Valid files using features the package refuses, each with the feature
    the error must name (written to FILE.unsupported)."""
    cases = []
    p = os.path.join(outdir, "unsupported_lzf.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(10.0), compression="lzf")
    cases.append((p, "lzf filter"))
    p = os.path.join(outdir, "unsupported_compound.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")]))
    cases.append((p, "compound datatype"))
    p = os.path.join(outdir, "unsupported_extarray.h5")
    with h5py.File(p, "w", libver="latest") as f:
        f.create_dataset("x", data=np.arange(10.0), maxshape=(None,), chunks=(4,))
    cases.append((p, "extensible-array chunk index"))
    for path, feature in cases:
        with open(path.replace(".h5", ".unsupported"), "w") as out:
            out.write(feature)


def make_latest_small(path):
    """libver='latest' structures in a small file: dense links and
    attributes, single-chunk, fixed-array and implicit chunk indexes."""
    with h5py.File(path, "w", libver="latest") as f:
        many = f.create_group("many_links")
        for i in range(10):
            many.create_dataset("d%d" % i, data=np.int8(i))
        ds = f.create_dataset("many_attrs", data=np.float32([1, 2]))
        for i in range(10):
            ds.attrs["a%d" % i] = np.float64(i) / 4
        ds.attrs["s"] = "string attribute"
        f.create_dataset("single", data=values("<f4", (3, 4), 1), compression="gzip")
        f.create_dataset("fixed_array", data=values("<i2", (6, 4), 2), chunks=(2, 3), compression="gzip",
                         shuffle=True)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((2,))
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        data = values("<u4", (5,), 3)
        dsid = h5py.h5d.create(f.id, b"implicit", h5py.h5t.py_create(data.dtype),
                               h5py.h5s.create_simple(data.shape), dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        f.create_dataset("edges", data=[["in", "out"]], dtype=STR)
        f["link_again"] = f["single"]
        f["soft"] = h5py.SoftLink("/single")


MAKERS = {"default": make_default, "gzip": make_gzip, "compact": make_compact,
          "latest": make_latest, "latest_small": make_latest_small, "types": make_types,
          "fill": make_fill, "nir": make_nir}


def make(outdir):
    for name, maker in MAKERS.items():
        path = os.path.join(outdir, name + ".h5")
        maker(path)
        with open(os.path.join(outdir, name + ".json"), "w") as out:
            json.dump(describe(path), out, indent=1, ensure_ascii=False)
    make_unsupported(outdir)


GOLDENS = {"default": make_default, "compact": make_compact, "fill": make_fill, "types": make_types,
           "latest_small": make_latest_small}


def goldens(outdir):
    for name, maker in GOLDENS.items():
        path = os.path.join(outdir, "h5py_" + name + ".h5")
        maker(path)
        with open(path[:-3] + ".json", "w") as out:
            json.dump(describe(path), out, ensure_ascii=False)


def modify(path):
    with h5py.File(path, "a") as f:
        nodes = f["node/nodes"]
        for i in range(40):
            nodes.create_group("extra%02d" % i).create_dataset("x", data=np.arange(i + 1, dtype="<i4"))
        f["node/nodes/fc/weight"].attrs["added"] = "by h5py"
        f["version"].attrs["number"] = 1.5
        del f["node/nodes/lif"]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "goldens":
        goldens(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "modify":
        modify(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "describe":
        json.dump({p: describe(p) for p in sys.argv[2:]}, sys.stdout, ensure_ascii=False)
    else:
        sys.exit("usage: h5py_fixtures.py make OUTDIR | goldens OUTDIR | modify FILE | describe FILE...")
