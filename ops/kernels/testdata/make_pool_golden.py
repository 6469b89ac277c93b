#!/usr/bin/python3
"""Writes pool_golden.json: PyTorch (Debian torch 1.13) max/avg pooling results
that pool_test.go compares the Go kernels with. PyTorch pads symmetrically,
so pads here are (top=bottom, left=right). Run from this folder:

    /usr/bin/python3 make_pool_golden.py
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)

# (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil)
CASES = [
    (1, 1, 4, 4, 3, 3, 2, 2, 0, 0, 1, 1, True),
    (1, 1, 4, 4, 2, 2, 1, 1, 0, 0, 2, 2, False),
    (2, 3, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, True),
    (1, 2, 7, 6, 2, 3, 2, 2, 1, 1, 1, 1, True),
    (1, 2, 6, 7, 3, 2, 3, 2, 1, 0, 1, 1, True),
    (2, 2, 9, 8, 3, 3, 2, 3, 1, 1, 2, 1, True),
    (1, 1, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, True),
    (1, 3, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, False),
    (1, 1, 6, 6, 4, 4, 3, 3, 2, 2, 1, 1, True),
]

out = []
for (n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ceil) in CASES:
    x = torch.randn(n, c, h, w, dtype=torch.float64)
    case = dict(N=n, C=c, H=h, W=w, KH=kh, KW=kw, StrideH=sh, StrideW=sw,
                PadH=ph, PadW=pw, DilH=dh, DilW=dw, CeilMode=ceil,
                x=x.flatten().tolist())
    xm = x.clone().requires_grad_(True)
    y, idx = F.max_pool2d(xm, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode=ceil, return_indices=True)
    dy = torch.randn_like(y)
    y.backward(dy)
    case.update(outH=y.shape[2], outW=y.shape[3], dy=dy.flatten().tolist(),
                max=y.flatten().tolist(), argmax=idx.flatten().tolist(), maxDx=xm.grad.flatten().tolist())
    if dh == 1 and dw == 1:  # avg_pool2d has no dilation
        for include in (True, False):
            xa = x.clone().requires_grad_(True)
            ya = F.avg_pool2d(xa, (kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil, count_include_pad=include)
            ya.backward(dy)
            key = 'avgInclude' if include else 'avgExclude'
            case[key] = ya.flatten().tolist()
            case[key + 'Dx'] = xa.grad.flatten().tolist()
    out.append(case)

with open('pool_golden.json', 'w') as f:
    json.dump(out, f)
