#!/usr/bin/python3
"""Write testmodels/events/dvsnet.onnx: a small float CNN for one DVS frame, the ANN the
event-input tests convert with `bsnnctl import --input events`.

  /usr/bin/python3 testmodels/make_event_ann.py [--out testmodels/events/dvsnet.onnx]

Deterministic and seeded (Debian's python3-torch 1.13, python3-onnx 1.12): the same command
writes byte-identical files.

The network reads one N-MNIST frame, input "input" [N, 2, 34, 34] (channel 0 OFF, channel 1
ON events), and returns "output" [N, 10]:

  conv1 2->8 3x3 pad 1, BN, ReLU, MaxPool 2     (34 -> 17)   first layer: stays float
  conv2 8->16 3x3 pad 1, BN, ReLU, MaxPool 2    (17 -> 8)    binary
  conv3 16->16 3x3 pad 1, BN, ReLU, MaxPool 2   (8 -> 4)     binary
  flatten, fc1 256->32, ReLU                                 binary
  fc2 32->10                                                 last layer: stays float

The weights are PyTorch's seeded default initialisation: the network is not trained (the
tests fine-tune the converted BSNN from it). Only the BatchNorm statistics are calibrated,
in training mode on seeded frames that look like the synthetic N-MNIST of package
train/data/eventtest (ClassEvents: 80% of a sample's events in a class-dependent patch, ON
in the first half of the recording and OFF in the second, 20% uniform noise; about 100
events per frame), so that the converted BSNN's neurons fire at sensible rates from the
start. The export folds the BatchNorms into the convolutions (torch.onnx.export of the
eval-mode model, opset 17, dynamic batch N), as a user's export would.
"""
import argparse
import io
import os

import numpy as np
import onnx
import torch
import torch.nn as nn

SEED = 20250315
# BatchNorm shift: the binary layers of the converted BSNN read sparse spikes where the ANN
# read dense ReLU outputs, so their calibrated statistics overestimate the input; a positive
# shift keeps the neurons of every layer firing before fine-tuning adapts the statistics.
SHIFT = 0.5
SENSOR = 34
CLASSES = 10


class DVSNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(256, 32)
        self.bn4 = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, CLASSES)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        x = self.pool(self.relu(self.bn3(self.conv3(x))))
        x = torch.flatten(x, 1)
        return self.fc2(self.relu(self.bn4(self.fc1(x))))


def class_frames(rng, n, frames=4, events=400):
    """n samples of `frames` count frames [2, 34, 34] each, as eventtest.ClassEvents bins."""
    cols = 4
    cell = SENSOR // cols
    patch = SENSOR // 5
    out = np.zeros((n * frames, 2, SENSOR, SENSOR), np.float32)
    for s in range(n):
        c = rng.integers(CLASSES)
        x0 = (c % cols) * cell + max(cell - patch, 0) // 2
        y0 = (c // cols) * (SENSOR // 3) + max(SENSOR // 3 - patch, 0) // 2
        t = np.sort(rng.integers(0, 300_000, events))
        noise = rng.integers(0, 5, events) == 0
        x = np.where(noise, rng.integers(0, SENSOR, events), np.minimum(x0 + rng.integers(0, patch, events), SENSOR - 1))
        y = np.where(noise, rng.integers(0, SENSOR, events), np.minimum(y0 + rng.integers(0, patch, events), SENSOR - 1))
        p = np.where(noise, rng.integers(0, 2, events), (t < 150_000).astype(np.int64))
        f = np.minimum(np.arange(events) // (events // frames), frames - 1)
        np.add.at(out, (s * frames + f, p, y, x), 1)
    return out


def build():
    torch.manual_seed(SEED)
    model = DVSNet()
    rng = np.random.default_rng(SEED)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(8):
            model(torch.from_numpy(class_frames(rng, 32)))
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.bias.fill_(SHIFT)
    return model.eval()


def export(model):
    buf = io.BytesIO()
    x = torch.zeros(2, 2, SENSOR, SENSOR)
    torch.onnx.export(model, x, buf, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, do_constant_folding=True)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "events", "dvsnet.onnx"))
    args = ap.parse_args()
    data = export(build())
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
