#!/usr/bin/python3
"""Time one training step of a BSNN in PyTorch, for `bsnnctl bench train` (train.BenchTrainStep).

  /usr/bin/python3 testmodels/torch_bench_train.py --arch resnet20 --batch 32 --timesteps 4 --threads 2

Builds the same BSNN that convert.Convert makes from testmodels/fixtures/resnet20_* (or the LeNet of
train_lenet_fmnist.py with --arch lenet_fmnist), with the semantics of shared/spec/bsnn-onnx.md:

  - direct encoding: the input [N, C, H, W] is repeated T times; stateless layers run on [T*N, ...]
    (index t*N + n), LIF and AGMMGate on [T, N, ...];
  - first and last layers float (stem conv + BN, last Linear); every other conv / linear is binary:
    latent float weight -> sign (sign(0) = +1) with the clipped straight-through estimator
    dW = dWb * 1[|W| <= 1], no bias, followed by tdBN (BatchNorm over T*N);
  - an AGMM gate on the data input of every binary layer: g[t,n] = alpha[t] * sigmoid(mean(X[t,n])),
    Y = g * X (alpha learnable, init 1);
  - LIF (tau 2, v_threshold 1, v_reset 0, hard reset, H = 0.5 V + X, spike when H >= 1) with the
    triangle surrogate (1 - |H - 1|)+ and full BPTT through the membrane;
  - TET loss: mean over t of the cross-entropy of the per-step logits;
  - SGD with momentum 0.9, weight decay 0 (like BenchTrainStep).

One timed step is forward + backward + optimizer.step() on a fixed random batch, after --warmup
untimed steps, with torch.set_num_threads(--threads). Prints one JSON object on stdout:
{"arch", "torch", "threads", "batch", "time_steps", "params", "step_s" (median), "step_min_s", "all_s"}.
"""
import argparse
import json
import statistics
import time

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
    """Multi-step LIF on [T*N, ...] (reshaped to [T, N, ...]), hard reset to 0, full BPTT."""

    def __init__(self, T):
        super().__init__()
        self.T = T

    def forward(self, x):
        xs = x.view(self.T, -1, *x.shape[1:])
        v = torch.zeros_like(xs[0])
        out = []
        for t in range(self.T):
            h = 0.5 * v + xs[t]
            s = SpikeTriangle.apply(h)
            v = h * (1.0 - s)
            out.append(s)
        return torch.stack(out).view_as(x)


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
        return F.conv2d(x, SignSTE.apply(self.weight), None, self.stride, self.padding)


class BinLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, T):
        super().__init__()
        self.g1, self.conv1, self.bn1 = AGMMGate(T), BinConv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.lif1 = LIF(T)
        self.g2, self.conv2, self.bn2 = AGMMGate(T), BinConv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(AGMMGate(T), BinConv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))
        self.lif2 = LIF(T)

    def forward(self, x):
        out = self.lif1(self.bn1(self.conv1(self.g1(x))))
        out = self.bn2(self.conv2(self.g2(out)))
        sc = x if self.short is None else self.short(x)
        return self.lif2(out + sc)


class ResNet20BSNN(nn.Module):
    def __init__(self, T, classes=10):
        super().__init__()
        self.T = T
        self.conv1, self.bn1, self.lif = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), LIF(T)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(Block(cin, cout, stride if i == 0 else 1, T))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = x.repeat(self.T, 1, 1, 1)  # [T*N, ...], index t*N + n
        x = self.lif(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x).view(self.T, -1, self.fc.out_features)  # per-step logits [T, N, C]


class LeNetBSNN(nn.Module):
    """The LeNet of train_lenet_fmnist.py converted: conv1 float, conv2 and fc1 binary, fc2 float."""

    def __init__(self, T, classes=10):
        super().__init__()
        self.T = T
        self.conv1, self.bn1, self.lif1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), LIF(T)
        self.g2, self.conv2, self.bn2, self.lif2 = AGMMGate(T), BinConv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), LIF(T)
        self.g3, self.fc1, self.bn3, self.lif3 = AGMMGate(T), BinLinear(3136, 128, bias=False), nn.BatchNorm1d(128), LIF(T)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = x.repeat(self.T, 1, 1, 1)
        x = F.max_pool2d(self.lif1(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(self.lif2(self.bn2(self.conv2(self.g2(x)))), 2)
        x = x.flatten(1)
        x = self.lif3(self.bn3(self.fc1(self.g3(x))))
        return self.fc2(x).view(self.T, -1, self.fc2.out_features)


ARCHS = {"resnet20": (ResNet20BSNN, (3, 32, 32)), "lenet_fmnist": (LeNetBSNN, (1, 28, 28))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="resnet20", choices=sorted(ARCHS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--timesteps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cls, shape = ARCHS[a.arch]
    model = cls(a.timesteps)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(a.batch, *shape)
    y = torch.randint(0, 10, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        out = model(x)
        loss = F.cross_entropy(out.flatten(0, 1), y.repeat(a.timesteps))  # mean over t and n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps({
        "arch": a.arch, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch,
        "time_steps": a.timesteps, "params": sum(p.numel() for p in model.parameters()),
        "step_s": statistics.median(times), "step_min_s": min(times), "all_s": times,
    }))


if __name__ == "__main__":
    main()
