#!/usr/bin/python3
"""Write golden vectors for the custom ops of spec §2 (BipolarQuant, LIF, LIFStep, AGMMGate).

  /usr/bin/python3 testmodels/golden/make_golden.py [--out testmodels/golden]

Deterministic (seeded; npy files are byte-identical across runs). One folder per case:
  case.json   {"op", "domain", "attributes" (every attribute, as a written node carries them),
               "training_options" (BipolarQuant STE), "inputs", "outputs", "upstream",
               "gradients" (each: spec tensor name -> file), "loss", "stats", "note"}
  *.npy       float32, C order: inputs (x.npy, ...), outputs (y.npy / s.npy, v_t.npy, ...),
              upstream gradients (dy.npy / ds.npy, dv_t.npy, ...) and the resulting input
              gradients (dx.npy, dscale.npy, dalpha.npy, ...).
Gradients are those of L = sum over outputs of sum(output * upstream), from autograd on
bsnn_ref.py. Every case is cross-checked against an independent numpy implementation
(forward bit-exact, gradients to 1e-5) before it is written.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bsnn_ref as ref  # noqa: E402

SEED = 4242
LIF_DOMAIN = "bsnn.custom_op.snn"
QONNX_DOMAIN = "qonnx.custom_op.general"


def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def write_case(root, name, case, arrays):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for fname, a in arrays.items():
        np.save(os.path.join(d, fname), f32(a), allow_pickle=False)
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")


def check(name, what, got, want, exact=False, tol=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (name, what, got.shape, want.shape)
    if exact:
        ok = np.array_equal(got, want)
    else:
        ok = np.allclose(got, want, rtol=tol, atol=tol)
    if not ok:
        raise AssertionError(f"{name}: {what} differs from the numpy cross-check "
                             f"(max abs diff {np.max(np.abs(got - want)):.3g})")


# ----------------------------------------------------------------------------- BipolarQuant

def bq_input(rng, shape):
    """Continuous values plus the edge cases: exact 0, -0, +-1 (STE boundary, kept),
    |x| > 1 (STE clipped), tiny magnitudes."""
    x = rng.normal(0.0, 1.2, size=shape).astype(np.float32)
    flat = x.reshape(-1)
    special = np.array([0.0, -0.0, 1.0, -1.0, 1.5, -1.5, 2.0, -2.0, 0.25, -0.25,
                        1e-7, -1e-7, 1.0000001, -1.0000001], dtype=np.float32)
    idx = rng.choice(flat.size, size=special.size, replace=False)
    flat[idx] = special
    return x


def np_bipolar_quant(x, scale, dy, ste):
    sign = np.where(x >= 0, 1.0, -1.0).astype(np.float32)
    y = sign * scale
    mask = (np.abs(x) <= 1).astype(np.float32) if ste == "clipped" else np.ones_like(x)
    dx = dy * scale * mask
    dscale = dy * sign
    # reduce over the axes scale was broadcast along
    padded = (1,) * (x.ndim - scale.ndim) + scale.shape
    axes = tuple(i for i, n in enumerate(padded) if n == 1 and x.shape[i] != 1)
    dscale = dscale.sum(axis=axes, keepdims=True).reshape(scale.shape)
    return y, dx, dscale


def bipolar_case(root, rng, name, x, scale, ste, desc):
    dy = rng.normal(size=x.shape).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    st = torch.from_numpy(np.array(scale, dtype=np.float32)).requires_grad_(True)
    y = ref.bipolar_quant(xt, st, ste)
    (y * torch.from_numpy(dy)).sum().backward()
    y_np, dx, ds = y.detach().numpy(), xt.grad.numpy(), st.grad.numpy()
    ny, ndx, nds = np_bipolar_quant(x, np.array(scale, dtype=np.float32), dy, ste)
    check(name, "Y", y_np, ny, exact=True)
    check(name, "dX", dx, ndx, exact=True)
    check(name, "dscale", ds, nds)
    case = {
        "op": "BipolarQuant", "domain": QONNX_DOMAIN, "attributes": {},
        "training_options": {"ste": ste},
        "inputs": {"X": "x.npy", "scale": "scale.npy"},
        "outputs": {"Y": "y.npy"},
        "upstream": {"Y": "dy.npy"},
        "gradients": {"X": "dx.npy", "scale": "dscale.npy"},
        "loss": "L = sum(Y * dY)",
        "stats": {"zeros": int(np.sum(x == 0)), "abs_gt_1": int(np.sum(np.abs(x) > 1)),
                  "abs_eq_1": int(np.sum(np.abs(x) == 1))},
        "note": desc + " dX = dY*scale*1[|X|<=1] (clipped) or dY*scale (identity); "
                       "dscale = sum of dY*sign(X) over the broadcast axes.",
    }
    write_case(root, name, case, {"x.npy": x, "scale.npy": np.array(scale, np.float32),
                                  "y.npy": y_np, "dy.npy": dy, "dx.npy": dx, "dscale.npy": ds})
    return name


# ----------------------------------------------------------------------------- LIF

def np_surrogate(u, name, alpha):
    a = np.float32(alpha)
    u = u.astype(np.float64)
    if name == "triangle":
        return np.maximum(0, a - np.abs(u)) / (a * a)
    if name == "sigmoid":
        k = 4 / a
        s = 1 / (1 + np.exp(-k * u))
        return k * s * (1 - s)
    if name == "atan":
        return (1 / a) / (1 + (np.pi * u / a) ** 2)
    if name == "rect":
        return (np.abs(u) < a / 2) / a
    raise ValueError(name)


def np_lif(x, v0, dS, dV, at):
    """Independent numpy LIF: float32 forward in the spec's order, hand-written BPTT."""
    f = np.float32
    k = f(1) / f(at["tau"])
    a = k if at["decay_input"] else f(1)
    vr, vth = f(at["v_reset"]), f(at["v_threshold"])
    T = x.shape[0]
    v = v0.astype(np.float32)
    hs, ss = [], []
    for t in range(T):
        h = (v - (v - vr) * k + a * x[t]).astype(np.float32)
        s = (h >= vth).astype(np.float32)
        v = (h - s * vth) if at["soft_reset"] else (h - s * (h - vr))
        v = v.astype(np.float32)
        hs.append(h)
        ss.append(s)
    S = np.stack(ss)
    keep = 0.0 if at["detach_reset"] else 1.0
    gV = dV.astype(np.float64)
    dX = np.zeros_like(x, dtype=np.float64)
    for t in reversed(range(T)):
        h, s = hs[t].astype(np.float64), ss[t]
        sg = np_surrogate(hs[t] - vth, at["surrogate"], at["surrogate_alpha"])
        if at["soft_reset"]:
            dv_dh = 1 - keep * float(vth) * sg
        else:
            dv_dh = (1 - s) - keep * (h - float(vr)) * sg
        gH = dS[t] * sg + gV * dv_dh
        dX[t] = float(a) * gH
        gV = gH * (1 - float(k))
    return S, v, dX, gV, hs


def lif_input(rng, shape, hi=2.5):
    """Half the entries on the 0.25 grid (so H lands exactly on the threshold), half
    continuous (so H falls inside the surrogate windows)."""
    grid = rng.choice(np.arange(-0.5, hi + 0.125, 0.25), size=shape)
    cont = rng.uniform(-0.5, hi, size=shape)
    mask = rng.random(size=shape) < 0.5
    return np.where(mask, grid, cont).astype(np.float32)


def lif_forward_h(x, v0, at):
    """H_t of the numpy forward (float32, spec order)."""
    zeros = np.zeros_like(x)
    return np_lif(x, v0, zeros, zeros[0], at)[4]


def _ulp_neighbours(v, n):
    """v, then the float32 values 1..n ulps above and below it, nearest first."""
    out, up, down = [v], v, v
    for _ in range(n):
        up = np.nextafter(up, np.float32(np.inf), dtype=np.float32)
        down = np.nextafter(down, np.float32(-np.inf), dtype=np.float32)
        out += [up, down]
    return out


def force_threshold_hits(rng, x, v0, at, per_step=2):
    """Move a few X_t entries (per_step per time step) so that H_t == v_threshold exactly in
    float32, whatever v_reset/v_threshold/tau are (the 0.25 grid only guarantees this for
    dyadic attributes). Steps are fixed in time order, since X_t only changes steps >= t."""
    f = np.float32
    vth = f(at["v_threshold"])
    a = f(1) / f(at["tau"]) if at["decay_input"] else f(1)
    x = x.copy()
    inner = x.shape[1:]
    for t in range(x.shape[0]):
        hits = 0
        for flat in rng.permutation(int(np.prod(inner))):
            idx = (t,) + np.unravel_index(flat, inner)
            old = x[idx]
            h = lif_forward_h(x, v0, at)[t][idx[1:]]
            rest = float(h) - float(a) * float(old)  # V - (V - v_reset)*k
            guess = f((float(vth) - rest) / float(a))
            for cand in _ulp_neighbours(guess, 16):
                x[idx] = cand
                if lif_forward_h(x, v0, at)[t][idx[1:]] == vth:
                    hits += 1
                    break
            else:
                x[idx] = old  # no float32 X lands exactly here (rounding grid); try another
            if hits == per_step:
                break
        assert hits == per_step, f"could not place {per_step} threshold hits at t={t}"
    return x


def lif_stats(hs, at):
    h = np.stack(hs)
    vth = np.float32(at["v_threshold"])
    u = np.abs(h.astype(np.float64) - float(vth))
    a = at["surrogate_alpha"]
    half = a / 2 if at["surrogate"] == "rect" else a
    return {"h_equal_threshold": int(np.sum(h == vth)),
            "h_in_surrogate_window": int(np.sum((u > 0) & (u < half))),
            "surrogate_window_halfwidth": half,
            "spikes": int(np.sum(h >= vth)), "elements": int(h.size)}


def lif_case(root, rng, name, attrs, desc, shape=(4, 2, 3, 5)):
    at = dict(ref.LIF_DEFAULTS, **attrs)
    hi = 2.5 if not at["decay_input"] else 4.0
    v0 = np.full(shape[1:], at["v_reset"], np.float32)
    x = force_threshold_hits(rng, lif_input(rng, shape, hi), v0, at)
    dS = rng.normal(size=shape).astype(np.float32)
    dV = rng.normal(size=shape[1:]).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    S, VT = ref.lif(xt, **at)
    ((S * torch.from_numpy(dS)).sum() + (VT * torch.from_numpy(dV)).sum()).backward()
    S_np, VT_np, dX = S.detach().numpy(), VT.detach().numpy(), xt.grad.numpy()
    nS, nV, ndX, _, hs = np_lif(x, v0, dS, dV, at)
    check(name, "S", S_np, nS, exact=True)
    check(name, "V_T", VT_np, nV, exact=True)
    check(name, "dX", dX, ndX)
    stats = lif_stats(hs, at)
    assert stats["h_equal_threshold"] > 0, (name, stats)
    assert stats["h_in_surrogate_window"] > 0, (name, stats)
    case = {
        "op": "LIF", "domain": LIF_DOMAIN, "attributes": at,
        "inputs": {"X": "x.npy"},
        "outputs": {"S": "s.npy", "V_T": "v_t.npy"},
        "upstream": {"S": "ds.npy", "V_T": "dv_t.npy"},
        "gradients": {"X": "dx.npy"},
        "loss": "L = sum(S * dS) + sum(V_T * dV_T)",
        "stats": stats,
        "note": desc + " float32; H_t = V - (V - v_reset)*k + a*X_t, then S = 1[H >= v_threshold], "
                       "hard V = H - S*(H - v_reset) / soft V = H - S*v_threshold, in that order.",
    }
    write_case(root, name, case, {"x.npy": x, "s.npy": S_np, "v_t.npy": VT_np,
                                  "ds.npy": dS, "dv_t.npy": dV, "dx.npy": dX})
    return name


def lifstep_case(root, rng, name, attrs, desc, shape=(2, 3, 5)):
    at = dict(ref.LIF_DEFAULTS, **attrs)
    v = lif_input(rng, shape, hi=1.5)
    x = force_threshold_hits(rng, lif_input(rng, shape)[None], v, at, per_step=3)[0]
    dS = rng.normal(size=shape).astype(np.float32)
    dV = rng.normal(size=shape).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    vt = torch.from_numpy(v.copy()).requires_grad_(True)
    S, Vn = ref.lif_step(xt, vt, **at)
    ((S * torch.from_numpy(dS)).sum() + (Vn * torch.from_numpy(dV)).sum()).backward()
    S_np, Vn_np, dX, dVin = S.detach().numpy(), Vn.detach().numpy(), xt.grad.numpy(), vt.grad.numpy()
    nS, nV, ndX, ndV, hs = np_lif(x[None], v, dS[None], dV, at)
    check(name, "S_t", S_np, nS[0], exact=True)
    check(name, "V_next", Vn_np, nV, exact=True)
    check(name, "dX_t", dX, ndX[0])
    check(name, "dV", dVin, ndV)
    stats = lif_stats(hs, at)
    assert stats["h_equal_threshold"] > 0 and stats["h_in_surrogate_window"] > 0, (name, stats)
    case = {
        "op": "LIFStep", "domain": LIF_DOMAIN, "attributes": at,
        "inputs": {"X_t": "x_t.npy", "V": "v.npy"},
        "outputs": {"S_t": "s_t.npy", "V_next": "v_next.npy"},
        "upstream": {"S_t": "ds_t.npy", "V_next": "dv_next.npy"},
        "gradients": {"X_t": "dx_t.npy", "V": "dv.npy"},
        "loss": "L = sum(S_t * dS_t) + sum(V_next * dV_next)",
        "stats": stats,
        "note": desc,
    }
    write_case(root, name, case, {"x_t.npy": x, "v.npy": v, "s_t.npy": S_np, "v_next.npy": Vn_np,
                                  "ds_t.npy": dS, "dv_next.npy": dV, "dx_t.npy": dX, "dv.npy": dVin})
    return name


# ----------------------------------------------------------------------------- AGMMGate

def np_agmm(x, alpha, dy, detach_stat):
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    axes = tuple(range(2, x.ndim))
    M = int(np.prod([x.shape[i] for i in axes]))
    m = x64.mean(axis=axes, keepdims=True)
    sig = 1 / (1 + np.exp(-m))
    al = alpha.astype(np.float64).reshape((-1,) + (1,) * (x.ndim - 1))
    g = al * sig
    y = g * x64
    sxd = (dy64 * x64).sum(axis=axes, keepdims=True)
    dx = dy64 * g
    if not detach_stat:
        dx = dx + sxd * al * sig * (1 - sig) / M
    dalpha = (sxd * sig).sum(axis=tuple(range(1, x.ndim)))
    return y, dx, dalpha


def agmm_case(root, rng, name, mode, detach_stat, desc, shape=(4, 3, 2, 4, 4)):
    offs = rng.normal(0.0, 1.0, size=shape[:2] + (1,) * (len(shape) - 2))
    x = (rng.normal(size=shape) + offs).astype(np.float32)
    alpha = np.array([1.0, 0.8, 1.25, 0.6], dtype=np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    at = torch.from_numpy(alpha.copy()).requires_grad_(True)
    y = ref.agmm_gate(xt, at, mode=mode, detach_stat=detach_stat)
    (y * torch.from_numpy(dy)).sum().backward()
    y_np, dx, da = y.detach().numpy(), xt.grad.numpy(), at.grad.numpy()
    ny, ndx, nda = np_agmm(x, alpha, dy, detach_stat)
    if mode == "grad_only":
        check(name, "Y", y_np, x, exact=True)
    else:
        check(name, "Y", y_np, ny)
    check(name, "dX", dx, ndx)
    check(name, "dalpha", da, nda, tol=1e-4)
    case = {
        "op": "AGMMGate", "domain": LIF_DOMAIN,
        "attributes": {"mode": mode, "detach_stat": detach_stat},
        "inputs": {"X": "x.npy", "alpha": "alpha.npy"},
        "outputs": {"Y": "y.npy"},
        "upstream": {"Y": "dy.npy"},
        "gradients": {"X": "dx.npy", "alpha": "dalpha.npy"},
        "loss": "L = sum(Y * dY) (grad_only: backward of the forward mode's Y)",
        "note": desc,
    }
    write_case(root, name, case, {"x.npy": x, "alpha.npy": alpha, "y.npy": y_np,
                                  "dy.npy": dy, "dx.npy": dx, "dalpha.npy": da})
    return name


# ----------------------------------------------------------------------------- cases

def main(argv=None):
    ap = argparse.ArgumentParser(description="write the custom-op golden vectors")
    ap.add_argument("--out", default=HERE, help="output folder (default: testmodels/golden)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    out = args.out
    names = []

    # BipolarQuant
    x = bq_input(rng, (4, 3, 2, 2))
    names.append(bipolar_case(out, rng, "bipolarquant_scalar_clipped", x, 1.0, "clipped",
                              "Scalar scale 1.0 (the default), clipped STE."))
    x = bq_input(rng, (4, 3, 2, 2))
    names.append(bipolar_case(out, rng, "bipolarquant_scalar_identity", x, 0.5, "identity",
                              "Scalar scale 0.5, identity STE."))
    x = bq_input(rng, (4, 3, 2, 2))
    sc = np.abs(x).mean(axis=(1, 2, 3), keepdims=True)
    names.append(bipolar_case(out, rng, "bipolarquant_perchannel_conv_clipped", x, sc, "clipped",
                              "Conv weight [Cout,Cin,kh,kw], per-output-channel scale "
                              "mean|W| shaped [Cout,1,1,1], clipped STE."))
    x = bq_input(rng, (4, 3, 2, 2))
    sc = np.abs(x).mean(axis=(1, 2, 3), keepdims=True)
    names.append(bipolar_case(out, rng, "bipolarquant_perchannel_conv_identity", x, sc, "identity",
                              "Conv weight, per-output-channel scale [Cout,1,1,1], identity STE."))
    x = bq_input(rng, (6, 4))
    sc = np.abs(x).mean(axis=0)
    names.append(bipolar_case(out, rng, "bipolarquant_perchannel_matmul_clipped", x, sc, "clipped",
                              "MatMul weight [in,out], per-output-channel scale mean|W| shaped "
                              "[out], clipped STE."))

    # LIF
    lif_cases = [
        ("lif_default", {}, "Default attributes."),
        ("lif_soft_reset", {"soft_reset": 1}, "Soft reset."),
        ("lif_decay_input", {"decay_input": 1}, "decay_input=1 (a = 1/tau)."),
        ("lif_vreset_vth", {"v_reset": -0.2, "v_threshold": 0.8}, "v_reset=-0.2, v_threshold=0.8."),
        ("lif_tau4", {"tau": 4.0}, "tau=4 (k = 0.25)."),
    ]
    for sur in ("triangle", "sigmoid", "atan", "rect"):
        for alpha in (1.0, 0.5):
            tag = "a1" if alpha == 1.0 else "a05"
            lif_cases.append((f"lif_surrogate_{sur}_{tag}",
                              {"surrogate": sur, "surrogate_alpha": alpha},
                              f"Surrogate {sur}, surrogate_alpha={alpha}."))
    lif_cases += [
        ("lif_detach_reset_hard", {"detach_reset": 1}, "detach_reset=1, hard reset."),
        ("lif_detach_reset_soft", {"detach_reset": 1, "soft_reset": 1}, "detach_reset=1, soft reset."),
    ]
    for name, attrs, desc in lif_cases:
        names.append(lif_case(out, rng, name, attrs, desc))

    names.append(lifstep_case(out, rng, "lifstep_default", {},
                              "One LIFStep with default attributes and a given membrane V."))

    # AGMMGate
    for mode in ("forward", "grad_only"):
        for ds in (0, 1):
            names.append(agmm_case(out, rng, f"agmmgate_{mode}_detach{ds}", mode, ds,
                                   f"mode={mode}, detach_stat={ds}, alpha=[1, 0.8, 1.25, 0.6]."))

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"generator": "testmodels/golden/make_golden.py", "seed": SEED,
                   "torch": torch.__version__, "cases": names}, f, indent=1)
        f.write("\n")
    print(f"{len(names)} golden cases -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
