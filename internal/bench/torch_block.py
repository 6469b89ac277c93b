# The PyTorch side of `bsnnctl bench conv` (internal/bench): one ResNet basic block, forward +
# backward, the same computation as internal/bench's block model:
#   conv3x3 -> BN (training) -> ReLU -> conv3x3 -> BN -> + x -> ReLU, loss = sum(y * r)
# Usage: python3 torch_block.py BATCH CHANNELS SIZE THREADS
# A persistent process (internal/bench.Torch): prints a ready line {"torch", "threads"}, then
# answers each command line on stdin with one JSON line: "step" runs one timed step and replies
# {"s": seconds}; EOF ends it.
import json, sys, time


def main():
    try:
        import torch
    except Exception as e:
        print(json.dumps({"error": "import torch: %s" % e}), flush=True)
        sys.exit(1)
    batch, ch, size, threads = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(ch, ch, 3, padding=1, bias=False)
    bn1 = torch.nn.BatchNorm2d(ch)
    conv2 = torch.nn.Conv2d(ch, ch, 3, padding=1, bias=False)
    bn2 = torch.nn.BatchNorm2d(ch)
    x = torch.randn(batch, ch, size, size)
    r = torch.randn(batch, ch, size, size)
    params = list(conv1.parameters()) + list(bn1.parameters()) + list(conv2.parameters()) + list(bn2.parameters())

    def step():
        for p in params:
            p.grad = None
        y = torch.relu(bn2(conv2(torch.relu(bn1(conv1(x))))) + x)
        (y * r).sum().backward()

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            t0 = time.perf_counter()
            step()
            print(json.dumps({"s": time.perf_counter() - t0}), flush=True)
        else:
            print(json.dumps({"error": "unknown command %r" % cmd}), flush=True)


main()
