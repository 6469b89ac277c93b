#!/usr/bin/python3
"""The PyTorch side of `bsnnctl bench train` (train.BenchTrainStep): the same BSNN as the benched
ONNX file, written as a PyTorch user would write it, with its weights read from that file.

  /usr/bin/python3 testmodels/torch_bench_train.py --arch resnet20 --model BSNN.onnx --threads 2

--arch names the network's shape (resnet20: the CIFAR ResNet-20 of testmodels/fixtures/resnet20_*;
lenet_fmnist: the LeNet of train_lenet_fmnist.py). Everything else comes from the file, so that
the two networks are the same (bench train checks it on a probe batch and refuses otherwise):

  - the layers, in the order of the file's bsnn.layers metadata: every conv / linear, with a bias
    when the file's has one and followed by a BatchNorm when the file's is (a BN-folded source
    gives a first conv with a bias and no BN), with the file's latent weights, scales, BN
    parameters, epsilons and momentums and AGMM alphas;
  - direct encoding: the input [N, C, H, W] is repeated T = bsnn.time_steps times; stateless
    layers run on [T*N, ...] (index t*N + n), LIF and AGMMGate on [T, N, ...];
  - binary layers: latent weight -> sign (sign(0) = +1) times the scale, with the clipped
    straight-through estimator dW = dWb * 1[|W| <= 1], followed by tdBN (BatchNorm over T*N);
  - AGMM gates: g[t,n] = alpha[t] * sigmoid(mean(X[t,n])), Y = g * X;
  - LIF (tau 2, v_threshold 1, v_reset 0, hard reset, H = 0.5 V + X, spike when H >= 1) with the
    triangle surrogate (1 - |H - 1|)+ and full BPTT; a file with other LIF or AGMM attributes
    is refused;
  - TET loss: mean over t of the cross-entropy of the per-step logits; SGD, momentum 0.9, lr 1e-3,
    no weight decay (as BenchTrainStep).

It is a persistent process driven over a pipe (internal/bench.Torch). It prints a ready line
{"arch", "torch", "threads", "time_steps", "params"}, then answers each command line on stdin
with one JSON line ({"error": ...} on failure):

  probe X.npy Y.npy   take the batch (float32 [N, C, H, W], int64 [N]); run forward and backward
                      in training mode without an optimizer step; reply {"loss", "output",
                      "rates"}: the output (the mean over time of the per-step logits)
                      [N, classes] flattened, and the firing rate of every LIF layer (in the
                      order they run) at every step
  step                one timed training step on the batch (forward, backward, optimizer);
                      reply {"s": seconds}

EOF ends it.
"""
import argparse
import json
import sys
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * (w.abs() <= 1).to(g.dtype)


class SpikeTriangle(torch.autograd.Function):
    """S = 1[H >= 1]; dS/dH = max(0, 1 - |H - 1|) (triangle, alpha = 1)."""

    @staticmethod
    def forward(ctx, h):
        ctx.save_for_backward(h)
        return (h >= 1.0).to(h.dtype)

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved_tensors
        return g * torch.clamp(1.0 - (h - 1.0).abs(), min=0.0)


class LIF(nn.Module):
    """Multi-step LIF on [T*N, ...] (viewed as [T, N, ...]), hard reset to 0, full BPTT."""

    def __init__(self, T):
        super().__init__()
        self.T = T
        self.rates = None  # a list: the probe collects the firing rate per step here

    def forward(self, x):
        xs = x.view(self.T, -1, *x.shape[1:])
        v = torch.zeros_like(xs[0])
        out = []
        for t in range(self.T):
            h = 0.5 * v + xs[t]
            s = SpikeTriangle.apply(h)
            v = h * (1.0 - s)
            out.append(s)
        s = torch.stack(out)
        if self.rates is not None:
            self.rates.append(s.detach().view(self.T, -1).double().mean(1).tolist())
        return s.view_as(x)


class AGMMGate(nn.Module):
    def __init__(self, T):
        super().__init__()
        self.T = T
        self.alpha = nn.Parameter(torch.ones(T))

    def forward(self, x):
        xs = x.view(self.T, -1, *x.shape[1:])
        m = xs.flatten(2).mean(dim=2)  # [T, N]
        g = self.alpha.view(self.T, 1) * torch.sigmoid(m)
        return (xs * g.view(*g.shape, *([1] * (xs.dim() - 2)))).view_as(x)


class BinConv2d(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, SignSTE.apply(self.weight) * self.scale, None, self.stride, self.padding)


class BinLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight) * self.scale)


class Layer(nn.Module):
    """One layer of the file: [AGMM gate ->] conv or linear (float or binary) [-> BatchNorm]."""

    def __init__(self, info, T, cin, cout, kernel=None, stride=1, padding=0):
        super().__init__()
        self.info = info
        binary, bias = info["binary"], info["bias"] is not None
        if kernel is None:
            self.op = (BinLinear if binary else nn.Linear)(cin, cout, bias=bias)
        else:
            self.op = (BinConv2d if binary else nn.Conv2d)(cin, cout, kernel, stride, padding, bias=bias)
        if binary:
            self.op.scale = 1.0
        self.gate = AGMMGate(T) if info["alpha"] is not None else None
        self.bn = None
        if info["bn"] is not None:
            self.bn = (nn.BatchNorm1d if kernel is None else nn.BatchNorm2d)(cout)

    def forward(self, x):
        if self.gate is not None:
            x = self.gate(x)
        x = self.op(x)
        return self.bn(x) if self.bn is not None else x

    def load(self):
        """Copies the file's tensors in, checking every shape."""
        info = self.info

        def put(param, value, what):
            value = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
            if tuple(param.shape) != tuple(value.shape):
                raise ValueError("layer %s: %s has shape %s in the file, %s in the PyTorch network"
                                 % (info["name"], what, tuple(value.shape), tuple(param.shape)))
            with torch.no_grad():
                param.copy_(value)

        put(self.op.weight, info["weight"], "the weight")
        if info["bias"] is not None:
            put(self.op.bias, info["bias"], "the bias")
        if info["binary"]:
            s = np.asarray(info["scale"], dtype=np.float32)
            if s.size != 1:
                raise ValueError("layer %s: per-channel weight scales are not supported by the PyTorch network" % info["name"])
            self.op.scale = float(s.reshape(()))
        if self.gate is not None:
            put(self.gate.alpha, info["alpha"], "the AGMM alpha")
        if self.bn is not None:
            bn = info["bn"]
            put(self.bn.weight, bn["weight"], "the BN scale")
            put(self.bn.bias, bn["bias"], "the BN bias")
            put(self.bn.running_mean, bn["mean"], "the BN running mean")
            put(self.bn.running_var, bn["var"], "the BN running variance")
            self.bn.eps = bn["eps"]
            self.bn.momentum = 1.0 - bn["momentum"]  # ONNX: running = m*running + (1-m)*batch


class Block(nn.Module):
    def __init__(self, layers, cin, cout, stride, T):
        super().__init__()
        self.conv1 = Layer(next(layers), T, cin, cout, 3, stride, 1)
        self.lif1 = LIF(T)
        self.conv2 = Layer(next(layers), T, cout, cout, 3, 1, 1)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = Layer(next(layers), T, cin, cout, 1, stride, 0)
        self.lif2 = LIF(T)

    def forward(self, x):
        out = self.conv2(self.lif1(self.conv1(x)))
        sc = x if self.short is None else self.short(x)
        return self.lif2(out + sc)


class ResNet20BSNN(nn.Module):
    def __init__(self, T, infos):
        super().__init__()
        self.T = T
        layers = iter(infos)
        self.conv1, self.lif = Layer(next(layers), T, 3, 16, 3, 1, 1), LIF(T)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(Block(layers, cin, cout, stride if i == 0 else 1, T))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = Layer(next(layers), T, 64, 10)
        rest = list(layers)
        if rest:
            raise ValueError("the file has %d layers more than ResNet-20 (%s ...)" % (len(rest), rest[0]["name"]))

    def forward(self, x):
        x = x.repeat(self.T, 1, 1, 1)  # [T*N, ...], index t*N + n
        x = self.lif(self.conv1(x))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x).view(self.T, -1, 10)  # per-step logits [T, N, C]


class LeNetBSNN(nn.Module):
    """The LeNet of train_lenet_fmnist.py converted: conv1 float, conv2 and fc1 binary, fc2 float."""

    def __init__(self, T, infos):
        super().__init__()
        self.T = T
        layers = iter(infos)
        self.conv1, self.lif1 = Layer(next(layers), T, 1, 32, 3, 1, 1), LIF(T)
        self.conv2, self.lif2 = Layer(next(layers), T, 32, 64, 3, 1, 1), LIF(T)
        self.fc1, self.lif3 = Layer(next(layers), T, 3136, 128), LIF(T)
        self.fc2 = Layer(next(layers), T, 128, 10)
        rest = list(layers)
        if rest:
            raise ValueError("the file has %d layers more than the LeNet (%s ...)" % (len(rest), rest[0]["name"]))

    def forward(self, x):
        x = x.repeat(self.T, 1, 1, 1)
        x = F.max_pool2d(self.lif1(self.conv1(x)), 2)
        x = F.max_pool2d(self.lif2(self.conv2(x)), 2)
        x = self.lif3(self.fc1(x.flatten(1)))
        return self.fc2(x).view(self.T, -1, 10)


ARCHS = {"resnet20": ResNet20BSNN, "lenet_fmnist": LeNetBSNN}

# The LIF and AGMMGate attributes the PyTorch network implements.
LIF_ATTRS = {"tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0, "decay_input": 0, "soft_reset": 0,
             "surrogate": "triangle", "surrogate_alpha": 1.0, "detach_reset": 0}
AGMM_ATTRS = {"mode": "forward", "detach_stat": 0}


def read_layers(path):
    """Returns T and, per layer of the file's bsnn.layers metadata, its tensors and attributes."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(path)
    g = m.graph
    meta = {p.key: p.value for p in m.metadata_props}
    for key in ("bsnn.layers", "bsnn.time_steps"):
        if key not in meta:
            raise ValueError("%s: no %s metadata (not a BSNN made by bsnnctl import)" % (path, key))
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = {n.name: n for n in g.node}
    producer = {o: n for n in g.node for o in n.output}
    consumers = defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    gates = {gt["layer"]: gt["alpha"] for gt in json.loads(meta.get("bsnn.agmm", "{}")).get("gates", [])}

    def attrs(n):
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    def norm(v):
        return v.decode() if isinstance(v, bytes) else v

    for n in g.node:
        want = {"LIF": LIF_ATTRS, "AGMMGate": AGMM_ATTRS}.get(n.op_type)
        if want is None:
            continue
        got = attrs(n)
        for k, v in want.items():
            if k in got and norm(got[k]) != v:
                raise ValueError("node %s: %s = %r; the PyTorch network implements only %s" % (n.name, k, norm(got[k]), want))

    def tensor(name, what):
        if name not in inits:
            raise ValueError("%s %r is not an initializer" % (what, name))
        return inits[name]

    infos = []
    for l in json.loads(meta["bsnn.layers"]):
        n = nodes.get(l["node"])
        if n is None:
            raise ValueError("layer %s: node %s is not in the graph" % (l["name"], l["node"]))
        info = {"name": l["name"], "binary": bool(l["binary"]), "bias": None, "bn": None, "alpha": None, "scale": None}
        w = n.input[1]
        if info["binary"]:
            bq = producer.get(w)
            if bq is None or bq.op_type != "BipolarQuant":
                raise ValueError("layer %s: binary, but its weight %s is not made by BipolarQuant" % (l["name"], w))
            info["weight"], info["scale"] = tensor(bq.input[0], "latent weight"), tensor(bq.input[1], "weight scale")
        else:
            info["weight"] = tensor(w, "weight")
        if len(n.input) > 2 and n.input[2]:
            info["bias"] = tensor(n.input[2], "bias")
        a = attrs(n)
        if n.op_type == "MatMul" or (n.op_type == "Gemm" and not a.get("transB", 0)):
            info["weight"] = info["weight"].T  # [in, out] -> torch's [out, in]
        if n.op_type == "Gemm" and (a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0):
            raise ValueError("layer %s: Gemm with transA, alpha or beta is not supported by the PyTorch network" % l["name"])
        if n.op_type == "Conv" and (a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1]))):
            raise ValueError("layer %s: grouped or dilated Conv is not supported by the PyTorch network" % l["name"])
        cons = consumers[n.output[0]]
        if len(cons) == 1 and cons[0].op_type == "BatchNormalization":
            bn, ba = cons[0], attrs(cons[0])
            info["bn"] = {"weight": tensor(bn.input[1], "BN scale"), "bias": tensor(bn.input[2], "BN bias"),
                          "mean": tensor(bn.input[3], "BN mean"), "var": tensor(bn.input[4], "BN variance"),
                          "eps": float(ba.get("epsilon", 1e-5)), "momentum": float(ba.get("momentum", 0.9))}
        if l["name"] in gates:
            info["alpha"] = tensor(gates[l["name"]], "AGMM alpha")
        infos.append(info)
    return int(meta["bsnn.time_steps"]), infos


def reply(obj):
    print(json.dumps(obj), flush=True)


def serve(model, T, opt):
    x = y = None

    def forward_backward():
        out = model(x)
        loss = F.cross_entropy(out.flatten(0, 1), y.repeat(T))  # TET: mean over t and n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        return out, loss

    for line in sys.stdin:
        cmd = line.split()
        try:
            if cmd[:1] == ["probe"] and len(cmd) == 3:
                x = torch.from_numpy(np.load(cmd[1]).astype(np.float32))
                y = torch.from_numpy(np.load(cmd[2]).astype(np.int64))
                rates = []
                for mod in model.modules():
                    if isinstance(mod, LIF):
                        mod.rates = rates
                out, loss = forward_backward()
                for mod in model.modules():
                    if isinstance(mod, LIF):
                        mod.rates = None
                opt.zero_grad(set_to_none=True)
                reply({"loss": loss.item(), "output": out.detach().mean(0).flatten().tolist(), "rates": rates})
            elif cmd == ["step"]:
                if x is None:
                    raise ValueError("step before probe: no batch")
                t0 = time.perf_counter()
                forward_backward()
                opt.step()
                reply({"s": time.perf_counter() - t0})
            else:
                raise ValueError("unknown command %r" % line.strip())
        except Exception as e:
            reply({"error": "%s: %s" % (type(e).__name__, e)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="resnet20", choices=sorted(ARCHS))
    ap.add_argument("--model", required=True, help="the benched BSNN (ONNX)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        T, infos = read_layers(a.model)
        try:
            model = ARCHS[a.arch](T, infos)
        except (StopIteration, RuntimeError, ValueError, KeyError, IndexError) as e:
            raise ValueError("the model's %d compute layers are not those of --arch %s (%s: %s); "
                             "choose the --arch of its shape, or --arch none to time bsnnctl alone"
                             % (len(infos), a.arch, type(e).__name__, e)) from e
        for mod in model.modules():
            if isinstance(mod, Layer):
                mod.load()
    except Exception as e:
        reply({"error": "%s: %s" % (type(e).__name__, e)})
        sys.exit(1)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    reply({"arch": a.arch, "torch": torch.__version__, "threads": torch.get_num_threads(), "time_steps": T,
           "params": sum(p.numel() for p in model.parameters())})
    serve(model, T, opt)


if __name__ == "__main__":
    main()
