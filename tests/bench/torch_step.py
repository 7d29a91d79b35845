#!/usr/bin/env python3
"""The training steps of tests/bench/bench.c, written in PyTorch (the peer of
`make bench-compare`; Debian's python3-torch, CPU; hnet never depends on
Python).

--config pm10   PermutedMNIST-10 (hypercl defaults): target MLP 1024-1000-1000-10
                (ReLU), chunked hypernetwork 25-25 ELU, task embedding 24, chunk
                embedding 8, chunk 78,000; batch 128, Adam lr 1e-4.
--config pm100  PermutedMNIST-100: the same target, hypernetwork 200-250-350
                ReLU, task embedding 128, chunk embedding 12, chunk 7,500.
--config copy   the Permuted Copy Task (bench_copy.c): vanilla RNN 8-256 tanh
                over T = 11 steps, read-out 256-7 at every step, hypernetwork
                50-50 ReLU, embeddings 32, chunk 2,500; sigmoid cross-entropy
                per scored bit (summed, averaged over the batch of 128); Adam
                lr 5e-4.
--reg R         (pm10, pm100) R earlier tasks regularised the way hypnettorch
                does it (utils/hnet_regularizer.py, utils/optim_step.py): the
                targets of the earlier tasks computed once in one batched
                no-grad pass (the set-up of a new task, timed); each step the
                task loss's backward, the Adam step it would give (detached,
                the look-ahead Δθ), then a Python loop over the earlier task
                embeddings, each generating its weights at θ + Δθ and adding
                ‖W*_t − h(e_t; θ + Δθ)‖² (both flattened by concatenating the
                target network's tensors), the sum times β / R (β = 0.01), its
                backward, and one Adam step on the summed gradients. The
                earlier embeddings are fixed (no gradient), as in bench.c.
--stored S      (> R) targets of S earlier tasks, a random R of them
                regularised each step (hypnettorch's batch_size; the
                learner's reg_tasks = R).

The hypernetwork generates the target network's tensors as hypnettorch's
ChunkedHMLP does: every chunk embedding concatenated with the task
embedding, one batched MLP pass over the chunks, the flat output cut to
|W| and split into the tensors. Its output layer is scaled so that the
generated weights start with the target network's initial variance (what
hyperfan gives hnet), so the first step's loss and regulariser have hnet's
magnitude (bench.c prints the same figures; the data and initial values come
from other generators, so only the magnitude agrees).

Prints one RESULT line: median step time over the repeats, peak resident
memory (ru_maxrss), the set-up time, the number of generated weights and of
hypernetwork parameters, the first step's loss and regulariser.

--check PATH (a file of `bench --dump PATH` with the same --config, --reg and
--stored): instead of timing, run the first two steps from hnet's θ,
embeddings and batch (θ has hnet's layout: chunk embeddings, then each
layer's weight and bias, the order used here; the first step regularises the
earlier tasks hnet's drew) and compare the first step's task loss and
regulariser and the second step's task loss (after one Adam step on θ and the
embedding) with hnet's; exit status 1 when they differ beyond float tolerance.
"""
import argparse
import array
import resource
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

CONFIGS = {
    "pm10": dict(emb=24, cemb=8, hidden=(25, 25), act=F.elu, chunk=78000, lr=1e-4),
    "pm100": dict(emb=128, cemb=12, hidden=(200, 250, 350), act=F.relu, chunk=7500, lr=1e-4),
    "copy": dict(emb=32, cemb=32, hidden=(50, 50), act=F.relu, chunk=2500, lr=5e-4),
}
BETA = 0.01
BATCH = 128
# The Permuted Copy Task (experiments/copy_task.lua): 5 steps of 7 bits.
COPY_LEN, COPY_BITS, COPY_HIDDEN = 5, 7, 256


def target_shapes(config):
    """The target network's tensors and the variance of each one's normal
    init (hnet's: weights 1/fan_in, biases 1/(3 fan_in))."""
    if config == "copy":
        n_in, h, k = COPY_BITS + 1, COPY_HIDDEN, COPY_BITS
        fan = n_in + h
        return [((h, n_in), 1 / fan), ((h, h), 1 / fan), ((h,), 1 / (3 * fan)),
                ((k, h), 1 / h), ((k,), 1 / (3 * h))]
    sizes = [1024, 1000, 1000, 10]
    out = []
    for a, b in zip(sizes, sizes[1:]):
        out += [((b, a), 1 / a), ((b,), 1 / (3 * a))]
    return out


class ChunkedHnet:
    """θ = [chunk embeddings, W_0, b_0, ...]; generate() maps task
    embeddings [n, emb] to n lists of target tensors."""

    def __init__(self, cfg, shapes):
        self.shapes = [s for s, _ in shapes]
        self.numels = [torch.Size(s).numel() for s in self.shapes]
        self.n_w = sum(self.numels)
        self.chunk, self.act = cfg["chunk"], cfg["act"]
        self.n_chunks = (self.n_w + self.chunk - 1) // self.chunk
        sizes = [cfg["emb"] + cfg["cemb"], *cfg["hidden"], self.chunk]
        # As hnet's hyperfan: chunk embeddings N(0, 1), hidden layers with
        # He's variance 2 / fan_in (ReLU and ELU), biases 0.
        theta = [torch.randn(self.n_chunks, cfg["cemb"])]
        for a, b in zip(sizes, sizes[1:]):
            theta += [torch.randn(b, a) * (2 / a) ** 0.5, torch.zeros(b)]
        self.theta = [torch.nn.Parameter(p) for p in theta]
        # Generated weights with the target's mean init variance: scale the
        # output layer by the ratio of that variance to the current one.
        var = sum(v * n for (_, v), n in zip(shapes, self.numels)) / self.n_w
        with torch.no_grad():
            w = self.flat(torch.randn(1, cfg["emb"]), self.theta)
            self.theta[-2].mul_((var / w.var()).sqrt())

    def n_theta(self):
        return sum(p.numel() for p in self.theta)

    def flat(self, e, theta):
        cemb, *layers = theta
        n = e.shape[0]
        h = torch.cat([e.repeat_interleave(self.n_chunks, 0), cemb.repeat(n, 1)], dim=1)
        for i in range(0, len(layers) - 2, 2):
            h = self.act(F.linear(h, layers[i], layers[i + 1]))
        return F.linear(h, layers[-2], layers[-1]).reshape(n, -1)[:, :self.n_w]

    def generate(self, e, theta):
        out = []
        for row in self.flat(e, theta):
            ws, off = [], 0
            for s, k in zip(self.shapes, self.numels):
                ws.append(row[off:off + k].view(s))
                off += k
            out.append(ws)
        return out


def adam_delta(opt, params):
    """The change Adam's next step would make to params (detached), from its
    state and the current gradients: hypnettorch's calc_delta_theta."""
    g = opt.param_groups[0]
    lr, (b1, b2), eps = g["lr"], g["betas"], g["eps"]
    out = []
    for p in params:
        st = opt.state.get(p, {})
        step = float(st["step"]) + 1 if "step" in st else 1.0
        m = st["exp_avg"] * b1 + p.grad * (1 - b1) if st else p.grad * (1 - b1)
        v = st["exp_avg_sq"] * b2 + p.grad * p.grad * (1 - b2) if st else p.grad * p.grad * (1 - b2)
        denom = (v / (1 - b2 ** step)).sqrt_().add_(eps)
        out.append(-(lr / (1 - b1 ** step)) * m / denom)
    return out


def mlp_task(x, y):
    def loss(ws):
        a = F.relu(F.linear(x, ws[0], ws[1]))
        a = F.relu(F.linear(a, ws[2], ws[3]))
        return F.cross_entropy(F.linear(a, ws[4], ws[5]), y)
    return loss


def copy_batch(gen):
    """x [B, 11, 8], targets [B, 11, 7] and their mask, as lua/hnet/seq/copy.lua
    lays them out (bench_copy.c draws the same kind of batch)."""
    L, K, T = COPY_LEN, COPY_BITS, 2 * COPY_LEN + 1
    order = torch.randperm(L, generator=gen)
    pat = torch.randint(0, 2, (BATCH, L, K), generator=gen).float()
    x = torch.zeros(BATCH, T, K + 1)
    x[:, :L, :K] = pat
    x[:, L, K] = 1
    t = torch.zeros(BATCH, T, K)
    t[:, L + 1:] = pat[:, order]
    mask = torch.zeros(BATCH, T, K)
    mask[:, L + 1:] = 1
    return x, t, mask


def rnn_task(x, t, mask, rnn):
    """The RNN through torch's own tanh-RNN kernel (_VF.rnn_tanh, what
    nn.RNN calls; one bias, so its second bias is a constant zero) or a
    Python loop over the steps; then the per-step read-out and the loss."""
    zero_b = torch.zeros(COPY_HIDDEN)
    h0 = torch.zeros(1, BATCH, COPY_HIDDEN)

    def loss(ws):
        w_ih, w_hh, b, w_o, b_o = ws
        if rnn == "vf":
            hs, _ = torch._VF.rnn_tanh(x, h0, [w_ih, w_hh, b, zero_b], True, 1, 0.0, True, False, True)
        else:
            z = F.linear(x, w_ih, b)
            h, out = None, []
            for s in range(x.shape[1]):
                h = torch.tanh(z[:, s] if h is None else torch.addmm(z[:, s], h, w_hh.t()))
                out.append(h)
            hs = torch.stack(out, 1)
        logits = F.linear(hs, w_o, b_o)
        return F.binary_cross_entropy_with_logits(logits, t, weight=mask, reduction="sum") / BATCH
    return loss


DUMP_MAGIC = 0x3150534e5448424e  # bench.h's BENCH_DUMP_MAGIC


def read_dump(path):
    """bench --dump's file: θ, embeddings, x, y and hnet's first-step loss
    and regulariser (bench.h)."""
    with open(path, "rb") as f:
        head = struct.unpack("=7q", f.read(56))
        if head[0] != DUMP_MAGIC:
            sys.exit(f"torch_step.py: --check {path}: not a file of bench --dump")
        _, n_theta, n_rows, n_emb, n_x, n_y, n_reg = head
        vals = array.array("f")
        vals.frombytes(f.read())
    want = n_theta + n_rows * n_emb + n_x + n_y + 3 + n_reg
    if len(vals) != want:
        sys.exit(f"torch_step.py: --check {path}: {len(vals)} floats after the header, "
                 f"expected {want} (an unfinished dump?)")
    t = torch.tensor(vals)
    parts = torch.split(t, [n_theta, n_rows * n_emb, n_x, n_y, 3, n_reg])
    return dict(theta=parts[0], E=parts[1].view(n_rows, n_emb), x=parts[2], y=parts[3],
                n_reg=n_reg, loss0=float(parts[4][0]), reg0=float(parts[4][1]),
                loss1=float(parts[4][2]), rows0=[int(i) for i in parts[5]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="pm10")
    ap.add_argument("--reg", type=int, default=0, help="earlier tasks regularised (pm10, pm100)")
    ap.add_argument("--stored", type=int, help="earlier tasks whose targets are stored (default --reg)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 3, 1 for pm100)")
    ap.add_argument("--rnn", choices=("vf", "loop"), default="vf",
                    help="copy: torch's tanh-RNN kernel or a Python loop over the steps")
    ap.add_argument("--targets", choices=("recomputed", "stored"), default="stored",
                    help="accepted for bench's options: PyTorch stores the targets, as hypnettorch "
                         "does (bench's recomputed targets have the same values)")
    ap.add_argument("--tag", default="torch")
    ap.add_argument("--check", metavar="PATH", help="compare the first step with bench --dump PATH")
    args = ap.parse_args()
    if args.config == "copy" and args.reg:
        ap.error("--reg applies to pm10 and pm100; the copy step is task 1's")
    if args.repeats < 1 or args.reg < 0:
        ap.error("--repeats must be >= 1 and --reg >= 0")
    n_stored = args.reg if args.stored is None else args.stored
    if n_stored < args.reg or (n_stored > 0 and args.reg == 0):
        ap.error("--stored must be >= --reg, and --reg >= 1 with --stored")

    warmup = args.warmup if args.warmup is not None else (1 if args.config == "pm100" else 3)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    cfg = CONFIGS[args.config]
    hn = ChunkedHnet(cfg, target_shapes(args.config))
    emb = torch.nn.Parameter(torch.randn(1, cfg["emb"]))
    opt = torch.optim.Adam([emb] + hn.theta, lr=cfg["lr"])
    if args.config == "copy":
        batch = copy_batch(gen)
    else:
        batch = torch.rand(BATCH, 1024), torch.randint(0, 10, (BATCH,))
    n_reg, setup = args.reg, 0.0
    prev_emb = torch.randn(n_stored, cfg["emb"])  # fixed: no gradient
    if args.check:
        d = read_dump(args.check)
        if (d["n_reg"] != n_reg or d["E"].shape[0] != 1 + n_stored
                or d["theta"].numel() != hn.n_theta() or d["E"].shape[1] != cfg["emb"]):
            sys.exit(f"torch_step.py: --check {args.check}: the dump has {d['n_reg']} earlier tasks, "
                     f"|theta| {d['theta'].numel()}, embeddings of {d['E'].shape[1]}; this run "
                     f"--config {args.config} --reg {n_reg} has {hn.n_theta()} and {cfg['emb']}")
        with torch.no_grad():
            off = 0
            for p in hn.theta:
                p.copy_(d["theta"][off:off + p.numel()].view_as(p))
                off += p.numel()
            emb.copy_(d["E"][:1])
        prev_emb = d["E"][1:].clone()
        if args.config == "copy":
            x = d["x"].view(batch[0].shape)
            y = d["y"].view(batch[1].shape)
            batch = x, y.clamp(min=0), (y >= 0).float()
        else:
            batch = d["x"].view(BATCH, 1024), d["y"].long()
    if args.config == "copy":
        task_loss = rnn_task(*batch, args.rnn)
    else:
        task_loss = mlp_task(*batch)

    first_ids = [d["rows0"]] if args.check else []
    if n_reg:
        t0 = time.perf_counter()
        with torch.no_grad():  # hypnettorch's get_current_targets
            targets = hn.generate(prev_emb, hn.theta)
        setup = time.perf_counter() - t0
        with torch.no_grad():  # as bench.c: the targets a little off the current outputs
            for ws in targets:
                for w in ws:
                    w.add_(1e-3)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = task_loss(hn.generate(emb, hn.theta)[0])
        loss.backward()
        reg = torch.zeros(())
        if n_reg:
            d_theta = adam_delta(opt, hn.theta)
            theta_la = [p + d for p, d in zip(hn.theta, d_theta)]
            reg = 0
            if first_ids:  # --check: the earlier tasks hnet's first step drew
                ids = first_ids.pop()
            elif n_stored > n_reg:
                ids = torch.randperm(n_stored)[:n_reg].tolist()
            else:
                ids = range(n_reg)
            for i in ids:
                pred = hn.generate(prev_emb[i:i + 1], theta_la)[0]
                w_target = torch.cat([w.view(-1) for w in targets[i]])
                w_pred = torch.cat([w.view(-1) for w in pred])
                reg = reg + (w_target - w_pred).pow(2).sum()
            reg = reg / n_reg * BETA
            reg.backward()
        opt.step()
        return float(loss), float(reg)

    loss0, reg0 = step()
    if args.check:
        loss1 = step()[0]
        # Tolerances: both sides compute in float32 with other summation
        # orders (BLAS kernels, hnet's double sums): the loss agrees to a few
        # ulps of its terms. The regulariser at the look-ahead θ + Δθ is a
        # sum of squared differences of nearby generated weights, and Adam's
        # first step Δθ = -lr g / (|g| + eps) is ±lr except where |g| is near
        # eps, where rounding moves it: 1e-3 relative covers both, and the
        # second step's loss (after that Adam step on the summed gradients).
        def same(a, b, rel, floor):
            return abs(a - b) <= rel * max(floor, abs(b))
        ok = [same(loss0, d["loss0"], 1e-4, 1.0), same(reg0, d["reg0"], 1e-3, 1e-6),
              same(loss1, d["loss1"], 1e-3, 1.0)]
        word = ["same" if o else "DIFFERENT" for o in ok]
        print(f"CHECK config={args.config} reg={n_reg} threads={args.threads}: loss at step 1 "
              f"hnet {d['loss0']:.6f} torch {loss0:.6f} ({word[0]}); regulariser hnet "
              f"{d['reg0']:.6g} torch {reg0:.6g} ({word[1]}); loss at step 2 hnet "
              f"{d['loss1']:.6f} torch {loss1:.6f} ({word[2]})")
        sys.exit(0 if all(ok) else 1)
    for _ in range(warmup - 1):
        step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    what = f" ({args.rnn})" if args.config == "copy" else ""
    print(f"torch {torch.__version__} config={args.config}{what} threads={args.threads} "
          f"earlier-tasks-regularised={n_reg} (of {n_stored} stored): median step {med * 1e3:.3f} ms "
          f"({1 / med:.2f} steps/s) over {args.repeats} repeats; peak resident {peak:.1f} MiB; "
          f"|W| = {hn.n_w}, |theta| = {hn.n_theta()}, {hn.n_chunks} chunks; loss at step 1 "
          f"{loss0:.4f}, regulariser {reg0:.4g}"
          + (f"; targets of {n_stored} earlier tasks in {setup:.3f} s" if n_reg else ""))
    print(f"RESULT tag={args.tag} config={args.config} threads={args.threads} reg={n_reg} "
          f"stored={n_stored} "
          f"step_ms={med * 1e3:.3f} peak_mib={peak:.1f} setup_s={setup:.3f} n_w={hn.n_w} "
          f"n_theta={hn.n_theta()} loss0={loss0:.4f} reg0={reg0:.4g}")


if __name__ == "__main__":
    main()
