#!/usr/bin/python3
"""PyTorch CPU reference timings for the Go kernels' benchmarks
(BenchmarkSgemm, BenchmarkConvResBlock in bench_test.go).

    /usr/bin/python3 torch_conv_bench.py --threads 1
    /usr/bin/python3 torch_conv_bench.py --threads 2

Times, on the same shapes as the Go benchmarks: plain matmuls, and the two
3x3 convolutions of a ResNet basic block (batch 32, 64 channels, 32x32) run
forward and backward (the gradients of both inputs and both weights, as in
training), plus each of the three conv passes alone and the whole block
(conv-BN-ReLU-conv-BN-add-ReLU) for context. Every figure is the fastest of
--reps runs after warm-up: on a shared machine the minimum is the most
repeatable statistic. With --threads 1 the thread CPU time is reported too
(it leaves out time the process spent preempted).
"""
import argparse
import time

import torch
import torch.nn.functional as F


def best(fn, reps, cpu):
    fn()
    fn()
    clock = time.thread_time if cpu else time.perf_counter
    t = float("inf")
    for _ in range(reps):
        t0 = clock()
        fn()
        t = min(t, clock() - t0)
    return t


def report(name, flops, fn, reps, threads):
    wall = best(fn, reps, False)
    line = f"{name:32s} wall {wall * 1e3:9.3f} ms {flops / wall / 1e9:7.1f} GFLOP/s"
    if threads == 1:
        cpu = best(fn, reps, True)
        line += f"   cpu {cpu * 1e3:9.3f} ms {flops / cpu / 1e9:7.1f} GFLOP/s"
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, mkldnn {torch.backends.mkldnn.is_available()}")

    reps, th = args.reps, args.threads
    for name, m, n, k, ta, tb in [
        ("matmul 256", 256, 256, 256, False, False),
        ("matmul 512", 512, 512, 512, False, False),
        ("matmul 1024", 1024, 1024, 1024, False, False),
        ("matmul 1024 tB", 1024, 1024, 1024, False, True),
        ("matmul conv_fwd 64x1024x576", 64, 1024, 576, False, False),
        ("matmul conv_bwd_data 576x1024x64", 576, 1024, 64, True, False),
        ("matmul conv_bwd_filter 64x576x1024", 64, 576, 1024, False, True),
    ]:
        a = torch.randn(k, m).t() if ta else torch.randn(m, k)
        b = torch.randn(n, k).t() if tb else torch.randn(k, n)
        c = torch.empty(m, n)
        report(name, 2 * m * n * k, lambda: torch.mm(a, b, out=c), reps, th)

    n, ch, hw = 32, 64, 32
    x = torch.randn(n, ch, hw, hw)
    w1 = torch.randn(ch, ch, 3, 3) * 0.05
    w2 = torch.randn(ch, ch, 3, 3) * 0.05
    dy = torch.randn(n, ch, hw, hw)
    conv_flops = 2 * n * ch * ch * 9 * hw * hw

    def fwd():
        F.conv2d(x, w1, padding=1)

    def bwd(mask):
        torch.ops.aten.convolution_backward(dy, x, w1, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

    with torch.no_grad():
        report("conv forward", conv_flops, fwd, reps, th)
        report("conv backward data", conv_flops, lambda: bwd([True, False, False]), reps, th)
        report("conv backward filter", conv_flops, lambda: bwd([False, True, False]), reps, th)

    xg = x.clone().requires_grad_(True)
    w1g, w2g = w1.clone().requires_grad_(True), w2.clone().requires_grad_(True)

    def two_convs():
        h = F.conv2d(xg, w1g, padding=1)
        y = F.conv2d(h, w2g, padding=1)
        y.backward(dy)

    report("two convs fwd+bwd", 6 * conv_flops, two_convs, reps, th)

    bn1, bn2 = torch.nn.BatchNorm2d(ch), torch.nn.BatchNorm2d(ch)

    def block():
        h = F.relu(bn1(F.conv2d(xg, w1g, padding=1)))
        y = F.relu(bn2(F.conv2d(h, w2g, padding=1)) + xg)
        y.backward(dy)

    report("resnet block fwd+bwd", 6 * conv_flops, block, reps, th)


if __name__ == "__main__":
    main()
