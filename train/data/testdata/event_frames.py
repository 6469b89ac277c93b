"""Reference event decoding and binning in numpy, for the cross-check in
train/data/numpy_test.go (TestEventFramesMatchNumpy).

Written from the dataset formats and the readers the community uses (tonic's
read_mnist_file, SpikingJelly's load_aedat_v3 and CIFAR10-DVS loader), vectorised
with numpy, independently of the Go code.

Usage: python3 event_frames.py JOBS.json
JOBS.json is a list of {"format", "path", "T", "bin", "H", "W", "start", "end",
"out"}; for each job the file is decoded, the events with start <= t < end are
kept (DVS128 Gesture: one label row; -1, -1 for the whole file), binned into
[T, 2, H, W] counts and saved as float32 to "out" (.npy).
"""
import json
import sys

import numpy as np


def nmnist(raw):
    a = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    x, y = a[0::5], a[1::5]
    p = (a[2::5] & 128) >> 7
    t = ((a[2::5] & 127) << 16) | (a[3::5] << 8) | a[4::5]
    overflow = y == 240  # each marker adds 2^13 us to itself and every later record
    t = t + np.cumsum(overflow) * 8192
    keep = ~overflow
    return (34, 34), x[keep], y[keep], p[keep], t[keep]


def cifar10dvs(raw):
    off = 0
    while raw[off:off + 1] == b"#":
        off = raw.index(b"\n", off) + 1
    d = np.frombuffer(raw[off:], dtype=">u4").astype(np.int64)
    addr, t = d[0::2], d[1::2]
    wrapped = np.concatenate([[0], (np.diff(t) < -(1 << 31)).astype(np.int64)])
    t = t + np.cumsum(wrapped) * (1 << 32)
    x = 127 - ((addr & 0x7F00) >> 8)
    y = 127 - ((addr & 0xFE) >> 1)
    p = 1 - (addr & 1)
    return (128, 128), x, y, p, t


def aedat3(raw):
    off = raw.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    xs, ys, ps, ts = [], [], [], []
    while off < len(raw):
        etype = int.from_bytes(raw[off:off + 2], "little")
        size, _, overflow, capacity, number = np.frombuffer(raw[off + 4:off + 24], dtype="<i4")
        body = off + 28
        if etype == 1:
            ev = np.frombuffer(raw[body:body + number * 8], dtype="<u4").astype(np.int64)
            data, t = ev[0::2], ev[1::2]
            valid = (data & 1) == 1
            xs.append(((data >> 17) & 0x7FFF)[valid])
            ys.append(((data >> 2) & 0x7FFF)[valid])
            ps.append(((data >> 1) & 1)[valid])
            ts.append((t | (int(overflow) << 31))[valid])
        off = body + int(capacity) * int(size)
    cat = lambda v: np.concatenate(v) if v else np.zeros(0, np.int64)
    return (128, 128), cat(xs), cat(ys), cat(ps), cat(ts)


def frames(sensor, x, y, p, t, T, mode, H, W):
    out = np.zeros((T, 2, H, W), dtype=np.int64)
    n = len(t)
    if n:
        if mode == "count":
            k = max(n // T, 1)
            f = np.minimum(np.arange(n) // k, T - 1)
        else:
            dt = max((t[-1] - t[0]) // T, 1)
            f = np.clip((t - t[0]) // dt, 0, T - 1)
        np.add.at(out, (f, p, y * H // sensor[0], x * W // sensor[1]), 1)
    return np.minimum(out, 65535)


def main():
    readers = {"nmnist": nmnist, "cifar10dvs": cifar10dvs, "dvsgesture": aedat3}
    for job in json.load(open(sys.argv[1])):
        sensor, x, y, p, t = readers[job["format"]](open(job["path"], "rb").read())
        if job["start"] >= 0:
            keep = (t >= job["start"]) & (t < job["end"])
            x, y, p, t = x[keep], y[keep], p[keep], t[keep]
        f = frames(sensor, x, y, p, t, job["T"], job["bin"], job["H"], job["W"])
        np.save(job["out"], f.astype(np.float32))


main()
