# summary.awk — the summary at the end of run-bench.sh, from the RESULT lines
# of bench (hnet) and torch_step.py (PyTorch): each hnet run, then the goal
# tables of issues 15 and 18 with PyTorch's faster thread setting (when
# --compare ran it), and the check that both sides of each compared workload
# compute the same thing: the same number of generated weights, hypernetwork
# parameters and regularised tasks (a mismatch fails the run), and the first
# step's loss and regulariser side by side (same magnitude expected; the data
# and initial values come from different generators).
/^RESULT/ {
  for (i = 2; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == "tag") tag = kv[2]
    if (kv[1] == "threads") th = kv[2]
  }
  key = tag " " th
  for (i = 2; i <= NF; i++) {
    split($i, kv, "=")
    r[key, kv[1]] = kv[2]
  }
  if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}

function has(k) { return (k in seen) }

# The key of PyTorch's fastest run among the tags (a space-separated list)
# at 1 and 2 threads ("" if none ran).
function best(tags,   tl, nt, i, t, k, b) {
  b = ""
  nt = split(tags, tl, " ")
  for (i = 1; i <= nt; i++)
    for (t = 1; t <= 2; t++) {
      k = tl[i] " " t
      if (has(k) && (b == "" || r[k, "step_ms"] + 0 < r[b, "step_ms"] + 0)) b = k
    }
  return b
}

# The smaller of a field over PyTorch's 1- and 2-thread runs; its thread
# count in bt.
function best_of(tag, field,   k, t, x) {
  x = ""; bt = ""
  for (t = 1; t <= 2; t++) {
    k = tag " " t
    if (has(k) && (x == "" || r[k, field] + 0 < x + 0)) { x = r[k, field]; bt = t }
  }
  return x
}

function row(name, hv, unit, tv, tth, goal,   hs, ts, ratio) {
  hs = hv == "" ? "-" : sprintf("%.2f %s", hv, unit)
  ts = tv == "" ? "-" : sprintf("%.2f %s (%s)", tv, unit, tth)
  ratio = (hv == "" || tv == "" || hv + 0 == 0) ? "-" : sprintf("%.2fx", tv / hv)
  printf "| %-46s | %14s | %24s | %7s | %-22s |\n", name, hs, ts, ratio, goal
}

# tk's thread count, and its variant when the tag names one ("torch+copy+loop").
function how(tk,   a) {
  split(tk, a, " ")
  return r[tk, "threads"] " thr" (a[1] == "torch+copy+loop" ? ", loop" : a[1] == "torch+copy" ? ", _VF" : "")
}

function step_row(name, hk, tags, goal,   tk) {
  tk = best(tags)
  row(name, has(hk) ? r[hk, "step_ms"] : "", "ms", tk == "" ? "" : r[tk, "step_ms"],
      tk == "" ? "" : how(tk), goal)
}

function check(name, hk, tag,   t, k, f, bad, i) {
  if (!has(hk)) return
  for (t = 1; t <= 2; t++) {
    k = tag " " t
    if (!has(k)) continue
    bad = ""
    split("n_w n_theta reg stored", f, " ")
    for (i = 1; i <= 4; i++)
      if (r[hk, f[i]] != r[k, f[i]]) bad = bad sprintf(" %s %s vs %s", f[i], r[hk, f[i]], r[k, f[i]])
    printf "%-46s %s thr: |W| %s, |theta| %s, reg %s of %s; loss0 %s / %s, reg0 %s / %s%s\n",
           name, t, r[k, "n_w"], r[k, "n_theta"], r[k, "reg"], r[k, "stored"], r[hk, "loss0"], r[k, "loss0"],
           r[hk, "reg0"], r[k, "reg0"], bad == "" ? "" : "  MISMATCH:" bad
    if (bad != "") failed = 1
  }
}

END {
  print "== summary (median step time; ratio = PyTorch / hnet, faster is larger)"
  for (i = 1; i <= n; i++) {
    k = order[i]
    if (k ~ /^torch/ || ((k, "run_s") in r)) continue
    split(k, a, " ")
    if (r[k, "config"] == "copy") {
      line = sprintf("%-28s threads=%s  %9.2f ms  %6.1f GFLOP/s  time loop at %s%% (forward; its products alone %s%%) and %s%% (backward alone) of sgemm 128x256x256, peak %6.0f MiB",
                     a[1], a[2], r[k, "step_ms"], r[k, "gflops"], r[k, "loop_fwd_pct"],
                     r[k, "loop_fwd_gemm_pct"], r[k, "loop_bwd_pct"], r[k, "peak_mib"])
    } else {
      line = sprintf("%-28s threads=%s  %9.2f ms  %6.1f GFLOP/s  %3.0f%% of sgemm 128x1000x784, %3.0f%% of 2048^3, peak %6.0f MiB",
                     a[1], a[2], r[k, "step_ms"], r[k, "gflops"],
                     100 * r[k, "gflops"] / r[k, "ceil_small"], 100 * r[k, "gflops"] / r[k, "ceil_big"],
                     r[k, "peak_mib"])
      t = "torch " a[2]
      if (has(t) && a[1] !~ /\+/)
        line = line sprintf("  | %.2fx faster than PyTorch at %s threads (%.2f ms)", r[t, "step_ms"] / r[k, "step_ms"], a[2], r[t, "step_ms"])
    }
    print line
  }
  for (i = 1; i <= n; i++) {
    k = order[i]
    if (k !~ /^torch/ || ((k, "run_s") in r)) continue
    split(k, a, " ")
    printf "%-28s threads=%s  %9.2f ms  peak %6.0f MiB%s\n", a[1], a[2], r[k, "step_ms"],
           r[k, "peak_mib"], r[k, "reg"] + 0 ? sprintf("  set-up %.3f s", r[k, "setup_s"]) : ""
  }

  print ""
  print "== issue 15's goals: hnet (OpenMP build, ./hnet's wait policy, 2 threads) against PyTorch at"
  print "   its faster thread setting of 1 and 2 (the count in brackets; chosen per figure)"
  print "   (hnet's targets recomputed from θ*, its default, unless the row says stored; PyTorch's"
  print "   stored, as hypnettorch's; OpenBLAS kernels: " (has("openmp/spin 2") ? r["openmp/spin 2", "blas_core"] : "?") ")"
  printf "| %-46s | %14s | %24s | %7s | %-22s |\n", "workload", "hnet", "PyTorch", "ratio", "goal (hnet)"
  print "|------------------------------------------------|----------------|--------------------------|---------|------------------------|"
  step_row("PermutedMNIST-10 task 1", "openmp/spin 2", "torch", "<= 13 ms")
  step_row("PermutedMNIST-10 task 10 (9 earlier tasks)", "openmp/spin+reg9 2", "torch+reg9", "<= 35 ms")
  step_row("  the same, hnet's targets stored", "openmp/spin+reg9+stored 2", "torch+reg9", "-")
  step_row("PermutedMNIST-100 task 100, all 99 earlier", "openmp/spin+pm100+reg99 2", "torch+pm100+reg99", "<= 2000 ms")
  step_row("  the same, hnet's targets stored", "openmp/spin+pm100+reg99+stored 2", "torch+pm100+reg99", "-")
  step_row("PermutedMNIST-100 task 100, reg_tasks 10", "openmp/spin+pm100+reg10 2", "torch+pm100+reg10", "-")
  step_row("  the same, hnet's targets stored", "openmp/spin+pm100+reg10+stored 2", "torch+pm100+reg10", "-")
  tv = best_of("torch+pm100+reg99", "setup_s")
  hk = "openmp/spin+pm100+reg99 2"
  row("PermutedMNIST-100 set-up of task 100 (targets)", has(hk) ? r[hk, "setup_s"] : "", "s", tv, bt " thr", "<= 2 s")
  hk = "openmp/spin+pm100+reg99+stored 2"
  row("  the same, hnet's targets stored", has(hk) ? r[hk, "setup_s"] : "", "s", tv, bt " thr", "<= 2 s")
  tv = best_of("torch+pm100+reg99", "peak_mib")
  hk = "openmp/spin+pm100+reg99+stored 2"
  row("peak memory, PM-100 task 100, all 99, stored", has(hk) ? r[hk, "peak_mib"] : "", "MiB", tv, bt " thr", "<= 1.3 GB (1240 MiB)")
  hk = "openmp/spin+pm100+reg99 2"
  row("  the same, hnet's targets recomputed", has(hk) ? r[hk, "peak_mib"] : "", "MiB", tv, bt " thr", "-")
  tv = best_of("torch+pm100+reg10", "peak_mib")
  hk = "openmp/spin+pm100+reg10+stored 2"
  row("peak memory, PM-100, reg_tasks 10, stored", has(hk) ? r[hk, "peak_mib"] : "", "MiB", tv, bt " thr", "<= 1.0 GB (954 MiB)")
  hk = "openmp/spin+pm100+reg10 2"
  row("  the same, hnet's targets recomputed", has(hk) ? r[hk, "peak_mib"] : "", "MiB", tv, bt " thr", "-")
  hk = "openmp/spin+split 2"
  tv = best_of("torch+split", "run_s")
  row("Split MNIST whole run (full MNIST, CL1)", has(hk) ? r[hk, "run_s"] : "", "s", tv, bt " thr", "<= 40 s")
  if (has(hk))
    printf "   (hnet: the median of %s runs, %s s; CL1 accuracy hnet %s%s; subnormals %s on both sides)\n",
           split(r[hk, "runs_s"], rs, ","), r[hk, "runs_s"], r[hk, "acc"],
           bt == "" ? "" : sprintf(", PyTorch %s at %s thr", r["torch+split " bt, "acc"], bt),
           r[hk, "subnormals"] == "keep" ? "kept" : "flushed"

  print ""
  print "== issue 18's goal: the Permuted Copy Task step (hypernetwork + RNN 256, T = 11)"
  printf "| %-46s | %14s | %24s | %7s | %-22s |\n", "workload", "hnet", "PyTorch", "ratio", "goal"
  print "|------------------------------------------------|----------------|--------------------------|---------|------------------------|"
  print "   (PyTorch: the fastest of its tanh-RNN kernel _VF.rnn_tanh, what nn.RNN runs, and a"
  print "   Python loop over the steps, each at 1 and 2 threads)"
  step_row("Copy Task step, hnet at 1 thread", "openmp/spin+copy 1", "torch+copy torch+copy+loop", ">= 3x PyTorch's best")
  step_row("Copy Task step, hnet at 2 threads", "openmp/spin+copy 2", "torch+copy torch+copy+loop", ">= 3x PyTorch's best")

  if (has("torch 1") || has("torch 2")) {
    print ""
    print "== both sides' shapes (|W|, |theta|, earlier tasks regularised of stored must match) and the timed runs' first-step"
    print "   loss and regulariser, hnet / PyTorch (each from its own data and init: the same magnitude;"
    print "   the exact check is the CHECK lines of torch_step.py --check above)"
    check("PermutedMNIST-10 task 1", "openmp/spin 2", "torch")
    check("PermutedMNIST-10 task 10", "openmp/spin+reg9 2", "torch+reg9")
    check("PermutedMNIST-10 task 10, stored", "openmp/spin+reg9+stored 2", "torch+reg9")
    check("PermutedMNIST-100 task 100, all 99", "openmp/spin+pm100+reg99 2", "torch+pm100+reg99")
    check("PermutedMNIST-100 task 100, reg_tasks 10", "openmp/spin+pm100+reg10 2", "torch+pm100+reg10")
    check("Copy Task", "openmp/spin+copy 2", "torch+copy")
    check("Copy Task (Python loop)", "openmp/spin+copy 2", "torch+copy+loop")
  }
  exit failed
}
