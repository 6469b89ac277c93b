"""PyTorch reference implementation of the bsnnctl custom ops, written from the contract
(../../../shared/spec/bsnn-onnx.md §2). Gradients come from autograd; the two
non-differentiable steps (sign and Heaviside) are torch.autograd.Functions whose backward
is the spec's straight-through estimator / surrogate.

Everything is float32, and the forward formulas are evaluated in exactly the order the
spec writes them (this matters at the spike threshold, where H == v_threshold is a spike):

  BipolarQuant  Y = where(X >= 0, +1, -1) * scale                      (sign(0) = sign(-0) = +1)
                dX = dY * scale * 1[|X| <= 1]   (ste "clipped", default)
                dX = dY * scale                 (ste "identity")
                scale is an ordinary input: dscale = sum of dY * sign(X) over broadcast axes.
  LIF           k = 1/tau, a = k if decay_input else 1, V_0 = v_reset
                H_t = V_{t-1} - (V_{t-1} - v_reset)*k + a*X_t
                S_t = 1[H_t >= v_threshold]
                hard: V_t = H_t - S_t*(H_t - v_reset);  soft: V_t = H_t - S_t*v_threshold
                dS_t/dH_t = surrogate(u = H_t - v_threshold); detach_reset: S_t is detached
                in the reset term only.
  AGMMGate      m[t,n] = mean(X[t,n,...]); g = alpha[t]*sigmoid(m); Y = g*X
                detach_stat: m carries no gradient; grad_only: forward value X, backward as forward.
"""
import math

import torch

F32 = torch.float32


def _f32(v):
    return torch.tensor(v, dtype=F32)


# ----------------------------------------------------------------------------- BipolarQuant

class SignSTE(torch.autograd.Function):
    """where(x >= 0, +1, -1) with a straight-through backward."""

    @staticmethod
    def forward(ctx, x, ste):
        if ste not in ("clipped", "identity"):
            raise ValueError(f"unknown ste {ste!r}")
        ctx.ste = ste
        ctx.save_for_backward(x)
        one = torch.ones_like(x)
        return torch.where(x >= 0, one, -one)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.ste == "clipped":
            return g * (x.abs() <= 1).to(g.dtype), None
        return g, None


def bipolar_quant(x, scale, ste="clipped"):
    return SignSTE.apply(x, ste) * scale


# ----------------------------------------------------------------------------- surrogates

def surrogate_grad(u, name, alpha):
    """dS/dH at u = H - v_threshold (spec §2.2); u float32 tensor, alpha python float."""
    a = _f32(alpha)
    if name == "triangle":
        return (1 / (a * a)) * torch.clamp(a - u.abs(), min=0)
    if name == "sigmoid":
        kappa = 4 / a
        s = torch.sigmoid(kappa * u)
        return kappa * s * (1 - s)
    if name == "atan":
        z = _f32(math.pi) * u / a
        return (1 / a) / (1 + z * z)
    if name == "rect":
        return (1 / a) * (u.abs() < a / 2).to(u.dtype)
    raise ValueError(f"unknown surrogate {name!r}")


class Heaviside(torch.autograd.Function):
    """S = 1[h >= v_threshold]; backward: surrogate at u = h - v_threshold."""

    @staticmethod
    def forward(ctx, h, v_threshold, surrogate, alpha):
        vth = _f32(v_threshold)
        ctx.surrogate, ctx.alpha = surrogate, alpha
        ctx.save_for_backward(h - vth)
        return (h >= vth).to(h.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * surrogate_grad(u, ctx.surrogate, ctx.alpha), None, None, None


# ----------------------------------------------------------------------------- LIF

LIF_DEFAULTS = dict(tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=0, soft_reset=0,
                    surrogate="triangle", surrogate_alpha=1.0, detach_reset=0)


def lif_step(x_t, v, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=0, soft_reset=0,
             surrogate="triangle", surrogate_alpha=1.0, detach_reset=0):
    """One LIF step: returns (S_t, V_next)."""
    k = _f32(1.0) / _f32(tau)
    vr = _f32(v_reset)
    h = v - (v - vr) * k + (k * x_t if decay_input else x_t)
    s = Heaviside.apply(h, v_threshold, surrogate, surrogate_alpha)
    s_r = s.detach() if detach_reset else s
    if soft_reset:
        v_next = h - s_r * _f32(v_threshold)
    else:
        v_next = h - s_r * (h - vr)
    return s, v_next


def lif(x, **attrs):
    """Multi-step LIF on time-major x [T, N, ...]: returns (S [T, N, ...], V_T [N, ...])."""
    a = dict(LIF_DEFAULTS, **attrs)
    v = torch.full_like(x[0], a["v_reset"])
    spikes = []
    for t in range(x.shape[0]):
        s, v = lif_step(x[t], v, **a)
        spikes.append(s)
    return torch.stack(spikes), v


# ----------------------------------------------------------------------------- AGMMGate

class _ValueOf(torch.autograd.Function):
    """Forward value of `value`, gradient routed to `grad_to` only (grad_only mode)."""

    @staticmethod
    def forward(ctx, grad_to, value):
        return value.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def agmm_gate(x, alpha, mode="forward", detach_stat=0):
    """x [T, N, ...], alpha [T]."""
    if mode not in ("forward", "grad_only"):
        raise ValueError(f"unknown mode {mode!r}")
    dims = tuple(range(2, x.dim()))
    m = x.mean(dim=dims, keepdim=True)
    if detach_stat:
        m = m.detach()
    g = alpha.reshape((-1,) + (1,) * (x.dim() - 1)) * torch.sigmoid(m)
    y = g * x
    if mode == "grad_only":
        y = _ValueOf.apply(y, x)
    return y
