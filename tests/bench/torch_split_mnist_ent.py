#!/usr/bin/env python3
"""HNET+ENT on Split MNIST, written independently in PyTorch: a check of
hnet's Split MNIST figures (accuracy, not speed) by a second implementation.

The same method and configuration as `./hnet experiments/split_mnist.lua
--learners hypernet --scenarios class` (the published one): target MLP
784-400-400-2 (ReLU), chunked hypernetwork 10-10 (ReLU), task and chunk
embeddings 96, chunk size 42,000, Xavier-uniform weights and zero biases,
N(0, 1) embeddings; per task a new embedding and fresh Adam (lr 1e-3) for θ
and for the embedding; batch 128, 2000 iterations; the output regulariser
β/(T−1) Σ_{t<T} ‖h(e_t; θ + Δθ) − W*_t‖², β = 0.01, Δθ the Adam step the task
loss alone would take (look-ahead, held constant). Test: each image goes to
the task whose network has the lowest predictive entropy (CL3).

    python3 tests/bench/torch_split_mnist_ent.py --seed 1 --data data/mnist_full

Debian's python3-torch on the CPU, one thread (--threads); about 8 minutes per seed on
the 2-core machine. hnet itself never depends on Python. The random streams
differ from hnet's, so seeds agree only in distribution.
"""
import argparse
import gzip
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

SHAPES = [(400, 784), (400,), (400, 400), (400,), (2, 400), (2,)]
CHUNK, N_EMB, N_CEMB, HIDDEN = 42000, 96, 96, 10


def load(data, images, labels):
    x = np.frombuffer(gzip.open(f"{data}/{images}").read()[16:], np.uint8).reshape(-1, 784)
    y = np.frombuffer(gzip.open(f"{data}/{labels}").read()[8:], np.uint8)
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def split(x, y, n_tasks):
    """Task t: digits 2t and 2t+1, labels 0/1."""
    out = []
    for t in range(n_tasks):
        m = (y == 2 * t) | (y == 2 * t + 1)
        out.append((x[m], y[m] - 2 * t))
    return out


def xavier(n_out, n_in):
    a = math.sqrt(6 / (n_in + n_out))
    return (torch.rand(n_out, n_in) * 2 - 1) * a


class Hypernet:
    """Chunked: rows [e, c_i] -> HIDDEN -> HIDDEN -> CHUNK, one row per chunk."""

    def __init__(self, n_w):
        self.n_w = n_w
        self.n_chunks = math.ceil(n_w / CHUNK)
        self.theta = [torch.randn(self.n_chunks, N_CEMB),
                      xavier(HIDDEN, N_EMB + N_CEMB), torch.zeros(HIDDEN),
                      xavier(HIDDEN, HIDDEN), torch.zeros(HIDDEN),
                      xavier(CHUNK, HIDDEN), torch.zeros(CHUNK)]
        for p in self.theta:
            p.requires_grad_(True)

    def __call__(self, e, theta=None):
        th = self.theta if theta is None else theta
        h = torch.cat([e.expand(self.n_chunks, N_EMB), th[0]], 1)
        h = F.relu(F.linear(h, th[1], th[2]))
        h = F.relu(F.linear(h, th[3], th[4]))
        return F.linear(h, th[5], th[6]).reshape(-1)[:self.n_w]


def target_net(x, w):
    ws, o = [], 0
    for s in SHAPES:
        n = math.prod(s)
        ws.append(w[o:o + n].view(*s))
        o += n
    h = F.relu(F.linear(x, ws[0], ws[1]))
    h = F.relu(F.linear(h, ws[2], ws[3]))
    return F.linear(h, ws[4], ws[5])


def adam_lookahead(opt):
    """The step torch.optim.Adam (default options) would take with the current
    gradients, leaving the optimiser's state alone."""
    g0 = opt.param_groups[0]
    lr, (b1, b2), eps = g0["lr"], g0["betas"], g0["eps"]
    steps = []
    for p in g0["params"]:
        st = opt.state[p]
        if st:
            m, v, k = st["exp_avg"], st["exp_avg_sq"], int(st["step"]) + 1
        else:
            m, v, k = torch.zeros_like(p), torch.zeros_like(p), 1
        g = p.grad.detach()
        m = m.mul(b1).add(g, alpha=1 - b1)
        v = v.mul(b2).addcmul(g, g, value=1 - b2)
        denom = (v.sqrt() / math.sqrt(1 - b2 ** k)).add(eps)
        steps.append(-(lr / (1 - b1 ** k)) * m / denom)
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="data/mnist_full", help="folder with the four MNIST .gz files")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1, help="PyTorch's intra-op threads")
    ap.add_argument("--flush_denormal", action="store_true",
                    help="flush subnormal floats to zero (torch.set_flush_denormal), as hnet does by default")
    ap.add_argument("--hypercl_entropy", action="store_true",
                    help="also compute the entropy as hypercl's test does and count disagreements")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        raise SystemExit("--flush_denormal: this CPU has no flush-to-zero mode for PyTorch")
    torch.manual_seed(args.seed)

    n_tasks, batch = 5, 128
    train = split(*load(args.data, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), n_tasks)
    test = split(*load(args.data, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), n_tasks)
    h = Hypernet(sum(math.prod(s) for s in SHAPES))
    embs = []
    t0 = time.time()
    for t in range(n_tasks):
        e = torch.randn(N_EMB, requires_grad=True)
        embs.append(e)
        opt = torch.optim.Adam(h.theta, lr=1e-3)
        opt_e = torch.optim.Adam([e], lr=1e-3)
        with torch.no_grad():
            targets = [h(embs[i]).clone() for i in range(t)]
        x, y = train[t]
        order, pos = torch.randperm(len(y)), 0
        for _ in range(args.iterations):
            if pos + batch > len(y):
                order, pos = torch.randperm(len(y)), 0
            idx = order[pos:pos + batch]
            pos += batch
            opt.zero_grad()
            opt_e.zero_grad()
            loss = F.cross_entropy(target_net(x[idx], h(e)), y[idx])
            loss.backward()
            if t > 0:
                # θ + Δθ, Δθ a constant: the gradient flows to θ only.
                ahead = [p + d for p, d in zip(h.theta, adam_lookahead(opt))]
                reg = sum(((h(embs[i].detach(), ahead) - targets[i]) ** 2).sum() for i in range(t)) / t
                (args.beta * reg).backward()
            opt.step()
            opt_e.step()
        print(f"task {t + 1}: last loss {loss.item():.4f}, {time.time() - t0:.0f} s", flush=True)

    with torch.no_grad():
        W = [h(embs[i]) for i in range(n_tasks)]
        cl3, ti, cl1 = [], [], []
        for j in range(n_tasks):
            x, y = test[j]
            ents, preds = [], []
            for i in range(n_tasks):
                logp = F.log_softmax(target_net(x, W[i]), 1)
                ents.append(-(logp.exp() * logp).sum(1))
                preds.append(logp.argmax(1))
            inferred = torch.stack(ents, 1).argmin(1)
            if args.hypercl_entropy:
                # hypercl's test: softmax, -sum p log p in float32 (NaN where a
                # probability underflows to 0), torch.argmin (a NaN wins)
                naive = []
                for i in range(n_tasks):
                    p = F.softmax(target_net(x, W[i]), 1)
                    naive.append(-(p * torch.log(p)).sum(1))
                naive = torch.stack(naive, 1)
                print(f"task {j + 1}: {int(torch.isnan(naive).any(1).sum())} of {len(y)} images with a NaN "
                      f"entropy; hypercl's entropy picks another task than ours for "
                      f"{int((naive.argmin(1) != inferred).sum())}", flush=True)
            preds = torch.stack(preds, 1)
            right_task = inferred == j
            right = right_task & (preds[torch.arange(len(y)), inferred] == y)
            cl3.append(100 * right.float().mean().item())
            ti.append(100 * right_task.float().mean().item())
            cl1.append(100 * (preds[:, j] == y).float().mean().item())
    print(f"RESULT seed {args.seed}: CL3 {np.mean(cl3):.2f} (ti {np.mean(ti):.2f}), CL1 {np.mean(cl1):.2f}; "
          f"CL3 per task {' '.join(f'{a:.2f}' for a in cl3)}", flush=True)


if __name__ == "__main__":
    main()
