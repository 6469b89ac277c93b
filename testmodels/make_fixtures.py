#!/usr/bin/python3
"""Generate the float ANN ONNX fixtures used by the importer/converter/executor tests.

Deterministic and seeded: the same command writes byte-identical files.
Needs Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx (1.12).

  /usr/bin/python3 testmodels/make_fixtures.py                       # committed set -> testmodels/fixtures/
  /usr/bin/python3 testmodels/make_fixtures.py --large --out testmodels/generated
  /usr/bin/python3 testmodels/make_fixtures.py --out DIR --only 'lenet_op13_*'

Every fixture is a folder <arch>_op<opset>_<folded|keepbn>_<static|dynamic>/ with
  model.onnx          torch.onnx.export of the eval-mode model (input "input", output "output")
  input.npy           float32 input (batch 2; batch 1 for the 224x224 models)
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


def reference_tensors(arch, model):
    """input, output, R and gradients (input + every named parameter), all float32 numpy."""
    _, input_shape, batch = ARCHS[arch]
    seed = arch_seed(arch)
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn((batch,) + tuple(input_shape), generator=g)
    model.eval()
    model.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    r = torch.randn(out.shape, generator=g)
    (out * r).sum().backward()
    grads = {"input": xg.grad.detach().numpy().astype(np.float32)}
    params = {n: p.grad.detach().numpy().astype(np.float32)
              for n, p in model.named_parameters() if p.grad is not None}
    return (x.numpy().astype(np.float32), out.detach().numpy().astype(np.float32),
            r.numpy().astype(np.float32), grads, params)


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
    model, (x, y, r, grads, params) = cache[key]

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
