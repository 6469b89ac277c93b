#!/usr/bin/python3
"""Train the embedded default model: a LeNet-style float CNN on Fashion-MNIST, exported to ONNX.

  /usr/bin/python3 testmodels/train_lenet_fmnist.py
  /usr/bin/python3 testmodels/train_lenet_fmnist.py --slice-only     # only rewrite fmnist_slice/

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, IDX, gzipped).
Model: Conv 1->32 3x3 pad1 + BN + ReLU + MaxPool2, Conv 32->64 3x3 pad1 + BN + ReLU + MaxPool2,
Flatten, Linear 3136->128 + ReLU, Linear 128->10; inputs (x/255 - 0.2860)/0.3530.
Adam (lr 1e-3), batch 128, 3 epochs, seed 0, torch.set_num_threads(2).

Writes (next to this script unless --out says otherwise):
  lenet_fmnist.onnx   opset 13, BN kept (TrainingMode.PRESERVE, model.eval()), dynamic batch "N",
                      input "input" [N,1,28,28] (normalized), output "output" [N,10] (logits)
  lenet_fmnist.json   test accuracy (full 10k test set and the 1000-image slice), settings, versions
  fmnist_slice/       first 4000 training and 1000 test images/labels, original IDX format,
                      gzipped, original file names, with LICENSE and README.md
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = 0.2860, 0.3530
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SLICE = {"train": 4000, "test": 1000}

MIT_LICENSE = """The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


class LeNetFMNIST(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(3136, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


# ----------------------------------------------------------------------------- IDX

def read_idx(path):
    """(raw header bytes, uint8 array) of a gzipped IDX file with unsigned-byte data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def idx_bytes(arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return header + arr.tobytes()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(data)
    return buf.getvalue()


def atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(data_dir):
    return {k: read_idx(os.path.join(data_dir, f)) for k, f in FILES.items()}


def write_slice(data, out_dir, data_dir):
    os.makedirs(out_dir, exist_ok=True)
    for split, n in SLICE.items():
        for kind in ("images", "labels"):
            key = f"{split}_{kind}"
            atomic_write(os.path.join(out_dir, FILES[key]), gzip_bytes(idx_bytes(data[key][:n])))
    atomic_write(os.path.join(out_dir, "LICENSE"), MIT_LICENSE.encode())
    readme = (
        "# Fashion-MNIST slice\n\n"
        f"The first {SLICE['train']} training and first {SLICE['test']} test images and labels of "
        "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist; "
        "MIT license, Copyright (c) 2017 Zalando SE, see LICENSE), cut from Debian's "
        f"dataset-fashion-mnist files ({data_dir}) by testmodels/train_lenet_fmnist.py, "
        "in the original gzipped IDX format under the original file names.\n")
    atomic_write(os.path.join(out_dir, "README.md"), readme.encode())


# ----------------------------------------------------------------------------- training

def to_tensor(images):
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return ((x - MEAN) / STD).unsqueeze(1)


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def train(data, epochs, batch, lr, seed):
    torch.manual_seed(seed)
    xtr, ytr = to_tensor(data["train_images"]), torch.from_numpy(data["train_labels"].astype(np.int64))
    model = LeNetFMNIST()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0], generator=g)
        total, n = 0.0, 0
        t0 = time.time()
        for i in range(0, xtr.shape[0], batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
            n += idx.numel()
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / n:.4f} ({time.time() - t0:.0f}s)",
              file=sys.stderr)
    return model.eval()


def export(model, path):
    buf = io.BytesIO()
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), buf, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    atomic_write(path, data)
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description="train and export the Fashion-MNIST LeNet")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=HERE, help="folder for lenet_fmnist.{onnx,json} and fmnist_slice/")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slice-only", action="store_true", help="only write fmnist_slice/")
    args = ap.parse_args(argv)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    data = load(args.data)
    write_slice(data, os.path.join(args.out, "fmnist_slice"), args.data)
    print("wrote fmnist_slice/", file=sys.stderr)
    if args.slice_only:
        return 0

    t0 = time.time()
    model = train(data, args.epochs, args.batch, args.lr, args.seed)
    train_seconds = time.time() - t0
    xte = to_tensor(data["test_images"])
    yte = torch.from_numpy(data["test_labels"].astype(np.int64))
    acc = accuracy(model, xte, yte)
    acc_slice = accuracy(model, xte[:SLICE["test"]], yte[:SLICE["test"]])
    print(f"test accuracy {acc:.4f} (slice of {SLICE['test']}: {acc_slice:.4f})", file=sys.stderr)

    onnx_path = os.path.join(args.out, "lenet_fmnist.onnx")
    blob = export(model, onnx_path)
    info = {
        "test_accuracy": acc,
        "test_accuracy_slice": acc_slice,
        "test_slice_size": SLICE["test"],
        "epochs": args.epochs,
        "batch_size": args.batch,
        "optimizer": "Adam",
        "lr": args.lr,
        "seed": args.seed,
        "mean": MEAN,
        "std": STD,
        "normalization": "x = (pixel/255 - mean)/std, done outside the model",
        "input": {"name": "input", "shape": ["N", 1, 28, 28]},
        "output": {"name": "output", "shape": ["N", 10], "meaning": "logits"},
        "opset": 13,
        "bn": "keepbn",
        "onnx_sha256": hashlib.sha256(blob).hexdigest(),
        "train_seconds": round(train_seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "data": args.data,
        "command": "/usr/bin/python3 testmodels/train_lenet_fmnist.py" + "".join(
            f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
    }
    atomic_write(os.path.join(args.out, "lenet_fmnist.json"), (json.dumps(info, indent=1) + "\n").encode())
    print(f"wrote {onnx_path} and lenet_fmnist.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
