#!/usr/bin/env python3
"""The PermutedMNIST-10 training step of tests/bench/bench.c, written in PyTorch.

Same configuration (hypercl defaults): target MLP 1024-1000-1000-10 (ReLU),
chunked hypernetwork 25-25 (ELU), task embedding 24, chunk embedding 8, chunk
size 78,000, batch 128, Adam. Used by `make bench-compare` only (Debian's
python3-torch, CPU); hnet itself never depends on Python.

Prints one RESULT line with the median step time over repeats.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    shapes = [(1000, 1024), (1000,), (1000, 1000), (1000,), (10, 1000), (10,)]
    n_w = sum(torch.Size(s).numel() for s in shapes)
    chunk, n_emb, n_cemb, hidden = 78000, 24, 8, (25, 25)
    n_chunks = (n_w + chunk - 1) // chunk

    def lin(n_in, n_out):
        w = torch.nn.Parameter(torch.randn(n_out, n_in) / n_in ** 0.5)
        b = torch.nn.Parameter(torch.zeros(n_out))
        return w, b

    layers = [lin(n_emb + n_cemb, hidden[0]), lin(hidden[0], hidden[1]), lin(hidden[1], chunk)]
    with torch.no_grad():
        layers[2][0].mul_(1e-2)
    chunk_emb = torch.nn.Parameter(torch.randn(n_chunks, n_cemb))
    emb = torch.nn.Parameter(torch.randn(n_emb))
    params = [chunk_emb, emb] + [p for wb in layers for p in wb]
    opt = torch.optim.Adam(params, lr=1e-4)

    x = torch.rand(128, 1024)
    y = torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad(set_to_none=False)
        h = torch.cat([emb.expand(n_chunks, n_emb), chunk_emb], dim=1)
        h = F.elu(F.linear(h, *layers[0]))
        h = F.elu(F.linear(h, *layers[1]))
        w_flat = F.linear(h, *layers[2]).reshape(-1)[:n_w]
        ws, off = [], 0
        for s in shapes:
            n = torch.Size(s).numel()
            ws.append(w_flat[off:off + n].view(s))
            off += n
        a = F.relu(F.linear(x, ws[0], ws[1]))
        a = F.relu(F.linear(a, ws[2], ws[3]))
        loss = F.cross_entropy(F.linear(a, ws[4], ws[5]), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"torch {torch.__version__} threads={args.threads}: median step {med * 1e3:.3f} ms "
          f"({1 / med:.2f} steps/s) over {args.repeats} repeats")
    print(f"RESULT tag=torch threads={args.threads} step_ms={med * 1e3:.3f}")


if __name__ == "__main__":
    main()
