# Times one ResNet basic block in PyTorch, forward + backward, the same
# computation as bsnnctl's internal/bench ResBlock:
#   conv3x3 -> BN (training) -> ReLU -> conv3x3 -> BN -> + x -> ReLU, loss = sum(y * r)
# Usage: python3 torch_block.py BATCH CHANNELS SIZE THREADS ITERS
# Prints one JSON line: {"median_s": ..., "times_s": [...], "threads": N, "torch": version}
import json, statistics, sys, time
import torch

batch, ch, size, threads, iters = (int(a) for a in sys.argv[1:6])
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

for _ in range(2):
    step()
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
print(json.dumps({"median_s": statistics.median(times), "times_s": times, "threads": threads, "torch": torch.__version__}))
