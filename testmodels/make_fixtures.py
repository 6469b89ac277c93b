#!/usr/bin/python3
"""Generate the float ANN ONNX fixtures used by the importer/converter/executor tests.

Deterministic and seeded: the same command writes byte-identical files.
Needs Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx (1.12).

  /usr/bin/python3 testmodels/make_fixtures.py                       # committed set -> testmodels/fixtures/
  /usr/bin/python3 testmodels/make_fixtures.py --large --out testmodels/generated
  /usr/bin/python3 testmodels/make_fixtures.py --out DIR --only 'lenet_op13_*'

Every fixture is a folder <arch>_op<opset>_<folded|keepbn>_<static|dynamic>/ with
  model.onnx          torch.onnx.export of the eval-mode model (input "input", output "output")
  input.npy           float32 input (batch 2; batch 1 for the 224x224 models), chosen among seeded
                      candidates and refined to keep every ReLU/ReLU6 kink and MaxPool tie far
                      from float32 noise (choose_input; manifest keys kink_margin*, kink_search)
  output.npy          PyTorch eval-mode output for input.npy
  dloss_doutput.npy   fixed random float32 R shaped like the output
  grads.npz           gradients of L = sum(output * R) in eval mode (BN uses running stats):
                      "input" always; for keepbn variants also one key per torch parameter
                      under its exact ONNX initializer name (only names present in the file)
and the output folder gets manifest.json describing every fixture (see README.md).

All variants of one architecture share the same weights, input, output, R and gradients
(weights are seeded per architecture), so a folded and a BN-kept export of one network
compute the same function.
"""
import argparse
import copy
import fnmatch
import io
import json
import os
import sys
import tempfile
import warnings
import zipfile
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from onnx_summary import summarize_model  # noqa: E402

BASE_SEED = 20240917
# keepbn param gradients are skipped for 224x224 networks with more parameters than this
# (resnet18/resnet50: their gradient files would be 47/100 MB); the input gradient is always written.
PARAM_GRAD_LIMIT = 4_000_000
OPSETS = (9, 11, 13, 17)
# kink-margin search (choose_input, refine_input): arch -> (seeded candidates, input scales tried
# for each candidate, refine target (relative margin), refine steps at most, candidates
# refined). Every layer's refine target is also at least NOISE_FACTOR times its float32
# rounding noise (layer_noise).
KINK_SEARCH_DEFAULT = (16, (1.0,), 1.5e-3, 40, 1)
KINK_SEARCH = {
    "resnet18": (2, (1.0, 0.5), 0.0, 12, 1),
    "resnet50": (1, (1.0,), 0.0, 12, 1),
    "mobilenet_v2": (1, (1.0, 0.5, 2.0), 0.0, 16, 3),
}
NOISE_FACTOR = 20


# ----------------------------------------------------------------------------- architectures

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNet(nn.Module):
    """LeNet-5 with BN. flatten="view" exports x.view(x.size(0), -1) (Constant+Reshape when
    static, Shape/Gather/Unsqueeze/Concat/Reshape when dynamic); "flatten" exports Flatten."""

    def __init__(self, flatten="view"):
        super().__init__()
        self.flatten_style = flatten
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        if self.flatten_style == "view":
            x = x.view(x.size(0), -1)
        else:
            x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (He et al. 2016, option B: 1x1 conv + BN projection shortcuts)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class VGG11BN(nn.Module):
    """CIFAR-style VGG-11 with BN: 64C3-MP-128C3-MP-256C3-256C3-MP-512C3-512C3-MP-512C3-512C3-MP."""

    CFG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self, num_classes=10):
        super().__init__()
        layers, cin = [], 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _torchvision(name):
    return lambda variant: getattr(torchvision.models, name)(weights=None, num_classes=1000)


# arch -> (builder(variant) -> nn.Module, input shape without batch, saved batch size)
ARCHS = {
    "mlp": (lambda v: MLP(), (1, 28, 28), 2),
    "lenet": (lambda v: LeNet(flatten=v["flatten"]), (1, 28, 28), 2),
    "resnet20": (lambda v: ResNet20(), (3, 32, 32), 2),
    "vgg11_bn": (lambda v: VGG11BN(), (3, 32, 32), 2),
    "resnet18": (_torchvision("resnet18"), (3, 224, 224), 1),
    "resnet50": (_torchvision("resnet50"), (3, 224, 224), 1),
    "mobilenet_v2": (_torchvision("mobilenet_v2"), (3, 224, 224), 1),
}

# lenet: x.view(...) at opsets 9 and 13, torch.flatten at 11 and 17 (same weights either way)
LENET_FLATTEN = {9: "view", 11: "flatten", 13: "view", 17: "flatten"}


def _all_variants(arch):
    return [(arch, o, b, d) for o in OPSETS for b in ("folded", "keepbn") for d in ("static", "dynamic")]


RESNET20_SMALL = [("resnet20", 9, "folded", "static"), ("resnet20", 11, "keepbn", "dynamic"),
                  ("resnet20", 13, "folded", "dynamic"), ("resnet20", 17, "keepbn", "static")]

SMALL = _all_variants("mlp") + _all_variants("lenet") + RESNET20_SMALL

LARGE = [v for v in _all_variants("resnet20") if v not in RESNET20_SMALL] + [
    ("resnet18", 13, "folded", "static"), ("resnet18", 17, "keepbn", "dynamic"),
    ("resnet18", 9, "folded", "dynamic"), ("resnet18", 11, "keepbn", "static"),
    ("resnet50", 13, "folded", "static"), ("resnet50", 17, "keepbn", "dynamic"),
    ("vgg11_bn", 13, "keepbn", "static"), ("vgg11_bn", 11, "folded", "dynamic"),
    ("vgg11_bn", 17, "folded", "static"), ("vgg11_bn", 9, "keepbn", "dynamic"),
    ("mobilenet_v2", 13, "folded", "static"), ("mobilenet_v2", 17, "keepbn", "dynamic"),
    ("mobilenet_v2", 11, "folded", "static"), ("mobilenet_v2", 9, "keepbn", "static"),
]


def fixture_name(arch, opset, bn, batch):
    return f"{arch}_op{opset}_{bn}_{batch}"


def arch_seed(arch):
    return BASE_SEED + zlib.crc32(arch.encode()) % 100_000


# ----------------------------------------------------------------------------- model state

def randomize_bn(model, seed, input_shape, batch):
    """Give every BatchNorm non-trivial, well-scaled statistics and affine parameters.

    1. Calibrate running_mean/var on seeded random inputs (train-mode forward, cumulative
       average), so activations stay O(1) through deep networks.
    2. Perturb: gamma ~ U(0.5, 1.5), beta ~ N(0, 0.2), running_mean += N(0, 0.2)*std,
       running_var *= U(0.5, 1.5).
    No two BN tensors end up equal, so the exporter cannot merge initializers."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    g = torch.Generator().manual_seed(seed)
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn((batch,) + tuple(input_shape), generator=g))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
        c = m.num_features
        with torch.no_grad():
            m.weight.copy_(0.5 + torch.rand(c, generator=g))
            m.bias.copy_(0.2 * torch.randn(c, generator=g))
            std = m.running_var.sqrt()
            m.running_mean.add_(0.2 * torch.randn(c, generator=g) * std)
            m.running_var.mul_(0.5 + torch.rand(c, generator=g))
        m.num_batches_tracked.zero_()
    model.eval()


def build_model(arch, variant):
    builder, input_shape, _ = ARCHS[arch]
    seed = arch_seed(arch)
    torch.manual_seed(seed)
    model = builder(variant)
    calib_batch = 4 if input_shape[-1] >= 224 else 16
    randomize_bn(model, seed + 1, input_shape, calib_batch)
    return model.eval()


# ----------------------------------------------------------------------------- kink margin
#
# A ReLU / ReLU6 mask element whose pre-activation lies within float32 rounding noise of the
# kink (0, or 0 and 6), or a MaxPool window whose two largest elements lie that close, can be
# decided differently by another engine (different summation order in the convolutions). One
# flipped element changes its backward signal, and with it every gradient upstream of it, by
# about 1/sqrt(elements of that layer) in L2 (~1% in ResNet-20). So each fixture's input is
# chosen to keep every kink far away: seeded candidates, the best one(s) refined by small
# gradient steps (refine_input). The recorded margin (kink_margin) is the distance RELATIVE to
# the layer's scale: distance / std(that layer's input tensor, whole batch). See README.md.

class KinkRecorder:
    """Context manager that wraps torch.nn.functional.relu / relu6 / hardtanh / max_pool2d
    (nn.ReLU, nn.ReLU6 = hardtanh(0, 6), nn.MaxPool2d and the F. calls of the architectures
    here all go through them) and records, for every call, the distance of each element of its
    input to the nearest kink, divided by the std of that input tensor (whole batch):
      relu        |x|
      relu6       min(|x|, |x - 6|)
      hardtanh    min(|x - min_val|, |x - max_val|)  (ReLU6 / ONNX Clip)
      max_pool2d  top1 - top2 of every pooling window (-inf padding), skipping windows whose
                  two largest elements are both exactly 0 (distance inf: ReLU zeros, their
                  gradient is masked by that ReLU, whose own margin is recorded)
    The wrapped ops run out of place (same values; the recorded tensors stay valid).
    With grad=True the relative distances stay differentiable (std detached) for refine_input."""

    FUNCS = ("relu", "relu6", "hardtanh", "max_pool2d")

    def __init__(self, grad=False):
        self.grad = grad
        self.layers = []  # (kind, min absolute distance, std of the layer input)
        self.rel = []     # relative distances per layer (tensors)

    def _add(self, kind, x, dist_fn):
        x = x if self.grad else x.detach()
        dist = dist_fn(x)
        sd = x.detach().std()
        self.layers.append((kind, float(dist.detach().min()), float(sd)))
        self.rel.append(dist / sd.clamp(min=1e-30))

    def __enter__(self):
        self._orig = {n: getattr(F, n) for n in self.FUNCS}
        orig = self._orig

        def relu(x, inplace=False):
            self._add("Relu", x, torch.abs)
            return orig["relu"](x)

        def relu6(x, inplace=False):
            self._add("Relu6", x, lambda t: torch.minimum(t.abs(), (t - 6).abs()))
            return orig["relu6"](x)

        def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
            self._add("Clip", x, lambda t: torch.minimum((t - min_val).abs(), (t - max_val).abs()))
            return orig["hardtanh"](x, min_val, max_val)

        def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
            self._add("MaxPool", x, lambda t: _pool_gaps(t, kernel_size, stride, padding,
                                                          dilation, ceil_mode))
            return orig["max_pool2d"](x, kernel_size, stride, padding, dilation,
                                      ceil_mode=ceil_mode, return_indices=return_indices)

        for n, f in (("relu", relu), ("relu6", relu6), ("hardtanh", hardtanh),
                     ("max_pool2d", max_pool2d)):
            setattr(F, n, f)
        return self

    def __exit__(self, *exc):
        for n, f in self._orig.items():
            setattr(F, n, f)
        return False

    def margin(self):
        """(relative margin, absolute margin, index of the layer with the relative minimum).
        relative = min over layers of (min distance / std of the layer input);
        absolute = min over layers of the min distance (in the layers' own units)."""
        rel = [d / max(s, 1e-30) for _, d, s in self.layers]
        i = int(np.argmin(rel))
        return rel[i], min(d for _, d, _ in self.layers), i


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pool_gaps(x, kernel_size, stride, padding, dilation, ceil_mode):
    """top1 - top2 of every max-pooling window of x (N, C, H, W)."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride not in (None, []) else kernel_size)
    ph, pw = _pair(padding)
    assert _pair(dilation) == (1, 1) and not ceil_mode, "only dilation 1, floor mode"
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph), value=float("-inf"))
    win = x.unfold(2, kh, sh).unfold(3, kw, sw).reshape(x.shape[0], x.shape[1], -1, kh * kw)
    top = win.topk(2, dim=-1).values
    gap = top[..., 0] - top[..., 1]
    both_zero = (top[..., 0] == 0) & (top[..., 1] == 0)
    return torch.where(both_zero, torch.full_like(gap, float("inf")), gap)


def kink_margin(model, x):
    """Eval-mode forward of x under a KinkRecorder: (relative margin, absolute margin,
    "<kind>#<layer index>" of the relative minimum, number of kink layers)."""
    with torch.no_grad(), KinkRecorder() as rec:
        model(x)
    rel, ab, i = rec.margin()
    return rel, ab, f"{rec.layers[i][0]}#{i}", len(rec.layers)


def layer_noise(model, x):
    """Per kink layer, the float32 rounding noise of its input: rms(x32 - x64) / std(x64), where
    x32 is the layer input of the float32 eval forward and x64 that of a float64 copy of the
    model. (Measured against our engine: the engine-vs-PyTorch deviation of the pre-activations
    has the same size, see README.md.)"""
    class Capture(KinkRecorder):
        def _add(self, kind, x, dist_fn):
            self.layers.append(x.detach().clone())

    m64 = copy.deepcopy(model).double()
    with torch.no_grad(), Capture() as r32:
        model(x)
    with torch.no_grad(), Capture() as r64:
        m64(x.double())
    assert len(r32.layers) == len(r64.layers)
    return [float((a.double() - b).pow(2).mean().sqrt() / b.std().clamp(min=1e-300))
            for a, b in zip(r32.layers, r64.layers)]


def movable_masks(model, x, seed):
    """Per kink layer, the elements whose kink distance depends on the input near x: those that
    change when x is perturbed by 1e-3 N(0, 1) (seeded). The others are input-independent
    (e.g. a depthwise window entirely saturated by ReLU6 gives the same BN value at every such
    position of its channel; such a value is computed from exact constants, so engines agree
    on it to an ulp) and refine_input cannot move them."""
    g = torch.Generator().manual_seed(seed)
    xp = x + 1e-5 * torch.randn(x.shape, generator=g)
    with torch.no_grad(), KinkRecorder() as r0:
        model(x)
    with torch.no_grad(), KinkRecorder() as r1:
        model(xp)
    return [a != b for a, b in zip(r0.rel, r1.rel)]


def _hinge(model, x, targets, masks, grad):
    """sum over the movable kink elements of max(0, 1 - (distance/std) / target of its
    layer), and the margin in units of the targets: min over all elements of
    (distance/std) / target of its layer."""
    with torch.set_grad_enabled(grad), KinkRecorder(grad=grad) as rec:
        model(x)
    assert len(rec.rel) == len(targets) == len(masks)
    loss = sum(((1 - u / t).clamp(min=0) * m).sum() for u, t, m in zip(rec.rel, targets, masks))
    return loss, min(float(u.detach().min()) / t for u, t in zip(rec.rel, targets))


def refine_input(model, x, targets, masks, max_steps):
    """Push every kink element of x to at least its layer's target relative distance by small
    input changes. Deterministic descent on the hinge H(x) = sum over all ReLU/ReLU6/MaxPool
    elements of max(0, 1 - (distance/std)/target) (movable_masks elements only): gradient step with the Polyak step size
    2 H / |grad H|^2, capped at a relative input change of 3e-4, halved (at most 6 times,
    one forward each) until H decreases. Stops when H = 0 (no element left inside its band),
    after max_steps steps, or when no step decreases H.
    Returns the iterate with the largest margin in units of the targets (x itself if none is
    larger) and the number of steps taken. Typical total input change: |dx|/|x| ~ 1e-4..1e-3."""
    params = [p for p in model.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        loss, margin = _hinge(model, x, targets, masks, False)
        best_x, best_m = x, margin
        steps = 0
        while steps < max_steps and float(loss) > 0:
            xv = x.clone().requires_grad_(True)
            loss_v, _ = _hinge(model, xv, targets, masks, True)
            (g,) = torch.autograd.grad(loss_v, xv)
            g2 = float((g * g).sum())
            if g2 == 0.0:
                break
            rho = min(2 * float(loss) / g2, 3e-4 * float(x.norm()) / g2 ** 0.5)
            for _ in range(7):
                xn = (x - rho * g).detach()
                ln, mn = _hinge(model, xn, targets, masks, False)
                if float(ln) < float(loss):
                    break
                rho /= 2
            else:
                break
            x, loss, steps = xn, ln, steps + 1
            if mn > best_m:
                best_x, best_m = x, mn
        if float(loss) == 0.0:  # the last iterate clears every band: prefer it
            best_x = x
        return best_x, steps
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


def choose_input(arch, model):
    """The fixture input of arch. Candidate k draws N(0, 1) from
    torch.Generator(arch_seed + 2 + 1000*k) (candidate 0 is the input that earlier versions of
    this script saved), times each input scale of the arch. The `refined` candidates with the
    largest relative kink margin (first ones on ties) go through refine_input towards per-layer
    targets max(target, NOISE_FACTOR * float32 noise of the layer) (layer_noise, at that
    candidate); the result with the largest margin in units of the targets (first on ties) is
    the input. Returns the input and the manifest's kink keys."""
    _, input_shape, batch = ARCHS[arch]
    seed = arch_seed(arch)
    count, scales, target, max_steps, refined = KINK_SEARCH.get(arch, KINK_SEARCH_DEFAULT)
    cands = []
    for k in range(count):
        cseed = seed + 2 + 1000 * k
        base = torch.randn((batch,) + tuple(input_shape),
                           generator=torch.Generator().manual_seed(cseed))
        for sc in scales:
            x = base * sc if sc != 1.0 else base
            cands.append((kink_margin(model, x)[0], cseed, sc, x))
    order = sorted(range(len(cands)), key=lambda i: (-cands[i][0], i))
    best = None
    for i in order[:refined]:
        cand_margin, cseed, sc, x0 = cands[i]
        noise = layer_noise(model, x0)
        targets = [max(target, NOISE_FACTOR * n) for n in noise]
        masks = movable_masks(model, x0, cseed + 1)
        x, steps = refine_input(model, x0, targets, masks, max_steps)
        with torch.no_grad(), KinkRecorder() as rec:
            model(x)
        in_targets = min(float(u.min()) / t for u, t in zip(rec.rel, targets))
        if best is None or in_targets > best[0]:
            best = (in_targets, cand_margin, cseed, sc, x0, x, steps, noise, rec)
    _, cand_margin, cseed, sc, x0, x, steps, noise, rec = best
    rel, ab, i = rec.margin()
    in_noise = [float(u.min()) / max(n, 1e-30) for u, n in zip(rec.rel, noise)]
    j = int(np.argmin(in_noise))
    info = {
        "kink_margin": rel,
        "kink_margin_abs": ab,
        "kink_margin_layer": f"{rec.layers[i][0]}#{i}",
        "kink_margin_noise": in_noise[j],
        "kink_margin_noise_layer": f"{rec.layers[j][0]}#{j}",
        "kink_layers": len(rec.layers),
        "kink_scale": "std of the layer input (whole batch)",
        "kink_search": {
            "candidates": count * len(scales),
            "refined": min(refined, len(cands)),
            "input_seed": cseed,
            "input_scale": sc,
            "candidate_margin": cand_margin,
            "refine_target": target,
            "refine_noise_factor": NOISE_FACTOR,
            "refine_steps": steps,
            "refine_rel_change": float((x - x0).norm() / x0.norm()),
            "layer_noise_max": max(noise),
        },
    }
    return x, info


def reference_tensors(arch, model):
    """input (the candidate with the largest kink margin), output, R and gradients (input +
    every named parameter), all float32 numpy; and the kink-margin info for the manifest."""
    seed = arch_seed(arch)
    x, info = choose_input(arch, model)
    model.eval()
    model.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 3))
    (out * r).sum().backward()
    grads = {"input": xg.grad.detach().numpy().astype(np.float32)}
    params = {n: p.grad.detach().numpy().astype(np.float32)
              for n, p in model.named_parameters() if p.grad is not None}
    return (x.numpy().astype(np.float32), out.detach().numpy().astype(np.float32),
            r.numpy().astype(np.float32), grads, params, info)


# ----------------------------------------------------------------------------- writing

def _atomic_write(path, data):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def npy_bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays):
    """An .npz (what np.savez writes: stored zip of <key>.npy) with fixed timestamps,
    so that reruns are byte-identical (np.savez stamps the current time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for k in sorted(arrays):
            info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, npy_bytes(arrays[k]))
    return buf.getvalue()


def export_onnx(model, x, opset, bn, batch):
    kwargs = dict(opset_version=opset, input_names=["input"], output_names=["output"],
                  do_constant_folding=True,
                  training=torch.onnx.TrainingMode.PRESERVE if bn == "keepbn"
                  else torch.onnx.TrainingMode.EVAL)
    if batch == "dynamic":
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.from_numpy(x), buf, **kwargs)
    model.eval()  # PRESERVE restores the mode, but be explicit
    return buf.getvalue()


def write_fixture(out_dir, arch, opset, bn, batch, cache):
    name = fixture_name(arch, opset, bn, batch)
    variant = {"flatten": LENET_FLATTEN[opset]} if arch == "lenet" else {}
    key = (arch, tuple(sorted(variant.items())))
    if key not in cache:
        model = build_model(arch, variant)
        cache[key] = (model, reference_tensors(arch, model))
    model, (x, y, r, grads, params, kink) = cache[key]

    data = export_onnx(model, x, opset, bn, batch)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)

    init_names = {t.name for t in proto.graph.initializer}
    grad_arrays = dict(grads)
    skipped, missing = [], []
    n_params = sum(p.numel() for p in model.parameters())
    if bn == "keepbn":
        if x.shape[-1] >= 224 and n_params > PARAM_GRAD_LIMIT:
            skipped = sorted(params)
        else:
            for pname, gval in params.items():
                if pname in init_names:
                    grad_arrays[pname] = gval
                else:
                    missing.append(pname)

    # sanity: the export reproduces the torch shapes
    summary = summarize_model(proto)
    in_shape = summary["inputs"][0]["shape"]
    assert len(in_shape) == x.ndim and in_shape[1:] == list(x.shape[1:]), (name, in_shape)
    assert in_shape[0] == ("N" if batch == "dynamic" else x.shape[0]), (name, in_shape)
    # the kink margin saw every kink of the exported graph
    n_kinks = sum(summary["op_counts"].get(op, 0) for op in ("Relu", "Clip", "MaxPool"))
    assert n_kinks == kink["kink_layers"], (name, n_kinks, kink["kink_layers"])

    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    files = {"model": "model.onnx", "input": "input.npy", "output": "output.npy",
             "dloss_doutput": "dloss_doutput.npy", "grads": "grads.npz"}
    _atomic_write(os.path.join(d, files["model"]), data)
    _atomic_write(os.path.join(d, files["input"]), npy_bytes(x))
    _atomic_write(os.path.join(d, files["output"]), npy_bytes(y))
    _atomic_write(os.path.join(d, files["dloss_doutput"]), npy_bytes(r))
    _atomic_write(os.path.join(d, files["grads"]), npz_bytes(grad_arrays))

    entry = {
        "name": name,
        "arch": arch,
        "opset": opset,
        "bn": bn,
        "batch": batch,
        "batch_size": int(x.shape[0]),
        "seed": arch_seed(arch),
        "variant": variant,
        "files": files,
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "output_absmax": float(np.abs(y).max()),  # for choosing test tolerances
        "grad_keys": sorted(grad_arrays),
        "param_grads_skipped": skipped,
        "param_grads_missing_in_onnx": sorted(missing),
        "torch_params": int(n_params),
        "checker": "onnx.checker.check_model(full_check=True) passed",
    }
    # kink margin of the saved input (choose_input): kink_margin, kink_margin_abs, ...
    entry.update(kink)
    # the summary keys (ir_version, producer, opsets, inputs, outputs, nodes, op_counts, params, ...)
    entry.update(summary)
    return entry


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures"),
                    help="output folder (default: testmodels/fixtures)")
    ap.add_argument("--large", action="store_true",
                    help="also write the large set (resnet20 other variants, resnet18, resnet50, "
                         "vgg11_bn, mobilenet_v2); use with --out testmodels/generated")
    ap.add_argument("--only", default=None, metavar="GLOB",
                    help="write only fixtures whose folder name matches GLOB (manifest lists those)")
    args = ap.parse_args(argv)

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)
    plan = SMALL + (LARGE if args.large else [])
    if args.only:
        plan = [p for p in plan if fnmatch.fnmatch(fixture_name(*p), args.only)]
        if not plan:
            ap.error(f"--only {args.only!r} matches no fixture")
    os.makedirs(args.out, exist_ok=True)

    cache, entries, failures = {}, [], []
    for arch, opset, bn, batch in plan:
        name = fixture_name(arch, opset, bn, batch)
        try:
            entries.append(write_fixture(args.out, arch, opset, bn, batch, cache))
            print(f"wrote {name}", file=sys.stderr)
        except Exception as e:
            failures.append({"name": name, "error": f"{type(e).__name__}: {e}"})
            print(f"FAILED {name}: {type(e).__name__}: {e}", file=sys.stderr)
        # free big models once their variants are done
        if arch in ("resnet18", "resnet50", "mobilenet_v2", "vgg11_bn"):
            rest = [p for p in plan[plan.index((arch, opset, bn, batch)) + 1:] if p[0] == arch]
            if not rest:
                cache = {k: v for k, v in cache.items() if k[0] != arch}

    manifest = {
        "generator": "testmodels/make_fixtures.py" + (" --large" if args.large else ""),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "onnx": onnx.__version__,
        "base_seed": BASE_SEED,
        "loss": "L = sum(output * dloss_doutput), eval mode",
        "fixtures": entries,
        "failures": failures,
    }
    _atomic_write(os.path.join(args.out, "manifest.json"),
                  (json.dumps(manifest, indent=1) + "\n").encode())
    print(f"{len(entries)} fixtures, {len(failures)} failures -> {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
