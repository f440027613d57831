"""Benchmark: our SAE trainer side by side with SAELens's (issue 11) on the same activation rows.

    OMP_NUM_THREADS=1 python -m bench.bench_saelens --mode quality [--record]     (TopK + BatchTopK, F 1024, k 16)
    python -m bench.bench_saelens --mode speed [--record]                         (TopK, F 4096, k 32, fp32)
    python -m bench.bench_saelens --mode quality --variants default lr-const b-dec-zero   (ablations of ours)

quality: for each arch, train ours (sae.train.Sweep, exported with sae.export) and SAELens (its own
trainer and save function, bench/saelens_side.py run by --saelens-python, in EXACTLY our row order),
then load BOTH folders with our loader (sae.export.load_sae) and evaluate both with our metric code on
the held-out test split: FVU, L0, dead fraction (sae.metrics.evaluate), spliced policy KL and loss
recovered (sae.downstream.evaluate_downstream; 95% bootstrap intervals over test games).
`--variants` trains ours under recipe ablations (VARIANTS below), one factor at a time, same rows.
speed: one process times our trainer step (the per-SAE body of sae.train.Sweep.run) and a served
SAELens process times SAETrainer.step, alternately, on the same pre-loaded rows, both with --threads
torch threads; prints both samples/s, the ratio, the fp32 matmul peak (a large torch.mm) and the
share of it our encoder matmul reaches. Without a SAELens python, our side runs alone (said so).
"""
import contextlib
import datetime
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import tyro
from tqdm import tqdm

import sae.archs as archs
import sae.train as train
from alphazero.checkpoint import resolve_checkpoint
from bench.common import machine, record
from sae.activations import ActivationStore
from sae.archs_topk import dense_codes, rows_topk, sparse_decode
from sae.config import SAETrainConfig
from sae.downstream import evaluate_downstream
from sae.export import export_sae, load_sae
from sae.metrics import evaluate
from sae.report import network_for_store
from sae.resample import FiringTracker

SIDE = Path(__file__).with_name("saelens_side.py")


@dataclass(frozen=True)
class BenchSAELensArgs:
    mode: str = "quality"        # quality (train + evaluate both) or speed (alternated trainer steps)
    store: str = "runs/acts_1m"  # activation store (train split: training rows; test split: evaluation)
    site: str = "resid.2"        # site of the store
    checkpoint: str = "shipped"  # the store's network (spliced policy KL)
    archs: tuple[str, ...] = ("topk", "batchtopk")  # quality: architectures compared
    features: int = 1024         # quality: dictionary size
    k: int = 16                  # quality: L0 target (k)
    steps: int = 1500            # quality: training steps of both
    batch: int = 4096            # rows per step (both modes)
    precision: str = "fp32"      # our matmul precision (SAELens trains fp32 without autocast by default)
    seed: int = 0                # row-stream seed of both and init seed
    variants: tuple[str, ...] = ("default",)  # quality: our recipe variants (VARIANTS), each trained on the same rows
    saelens: bool = True         # quality: also train SAELens (False: ours only)
    eval_rows: int = 50_000      # test rows for reconstruction metrics
    downstream_rows: int = 20_000  # test positions for splice metrics
    n_boot: int = 200            # bootstrap resamples (over test games) of the 95% intervals
    out: str = "runs/bench_saelens"  # trained SAE folders (reused with --reuse)
    reuse: bool = False          # quality: evaluate folders already in OUT instead of training them again
    saelens_python: str = "/work/venv-saelens/bin/python"  # python of an environment with sae-lens installed
    speed_features: int = 4096   # speed: dictionary size
    speed_k: int = 32            # speed: k
    speed_rounds: int = 5        # speed: alternated rounds (ours then SAELens)
    speed_steps: int = 4         # speed: timed steps per side and round
    threads: int = 2             # speed: torch threads of both sides
    record: bool = False         # append the tables to bench/RESULTS.md


# --- recipe ablations of OUR trainer: name -> (what it changes, context manager patching it) ---
@contextlib.contextmanager
def patched(obj, **attrs):
    old = {k: getattr(obj, k) for k in attrs}
    for k, v in attrs.items():
        setattr(obj, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


def _zero_mean_stats(fn):
    def stats(*a, **kw):
        scale, mean = fn(*a, **kw)
        return scale, torch.zeros_like(mean)
    return stats


def _saelens_auxk(self, x_BD, x_hat_BD, parts):
    """SAELens's AuxK: coefficient 1 x min(n_dead / k_aux, 1) x sum_D ||e - e_hat||^2 (no normalisation)."""
    n_dead = int(self.dead_F.sum())
    if n_dead == 0:
        return {}
    k_aux = self.cfg.d_in // 2
    scale = min(n_dead / k_aux, 1.0)
    dead_F = self.dead_F.nonzero().squeeze(1)  # as TopKSAE.aux_losses selects (gradients through parts["grad"])
    vals, pos = parts["pre"].index_select(1, dead_F).topk(min(k_aux, n_dead), dim=-1)
    code = parts.get("grad", dict)(rows_topk(vals, dead_F[pos]))
    rescaled = type(self).parts is _rescaled_parts  # with SAELens's decoder handling it decodes by the unit rows
    W_dec = self.W_dec / self.W_dec.norm(dim=1, keepdim=True) if rescaled else self.W_dec
    e_hat = sparse_decode(code, W_dec, torch.zeros_like(self.b_dec), len(x_BD))
    e = (x_BD.float() - x_hat_BD.float()).detach()
    return {"auxk": scale * self.sq_err(e, e_hat).mean()}


def _geomedian_stats(fn, iters=50):
    """b_dec at the geometric median of the stats sample (Weiszfeld), OpenAI's TopK init, instead of the mean."""
    def stats(store, site, n_rows, seed=0):
        scale, mean = fn(store, site, n_rows, seed)
        a, b = store.split_rows("train")
        rows = np.sort(np.random.default_rng(seed).choice(b - a, size=min(n_rows, b - a), replace=False))
        x = torch.from_numpy(np.ascontiguousarray(store.acts(site, "train")[rows])).double() * scale
        m = x.mean(0)
        for _ in range(iters):
            w = 1.0 / (x - m).norm(dim=1).clamp_min(1e-8)
            m = (w[:, None] * x).sum(0) / w.sum()
        return scale, m.float()
    return stats


def _rescaled_parts(self, x_BD):
    """SAELens's decoder handling (TopK): free decoder norms, selection on pre * ||W_dec_i||, decode by the
    unit rows (f / ||W_dec_i||) @ W_dec. Export folds it exactly (sae.base.SAE.raw_tensors)."""
    n_F = self.W_dec.norm(dim=1)
    pre_BF = self.pre_acts(x_BD) * n_F
    vals_BK, idx_BK = pre_BF.topk(self.cfg.k, dim=-1)
    code = rows_topk(vals_BK, idx_BK)
    return {"pre": pre_BF, "code": code, "f": dense_codes(code, len(x_BD), self.cfg.d_sae)}


def _rescaled_decode_parts(self, parts):
    W_unit = self.W_dec / self.W_dec.norm(dim=1, keepdim=True)
    if "code" not in parts:
        return parts["f"] @ W_unit + self.b_dec
    return sparse_decode(parts["code"], W_unit, self.b_dec, len(parts["f"]))


def _saelens_decoder(a):
    """TopK only: decoder rows start 0.1 long (W_enc = W_dec^T), no norm constraint, rescaled selection/decoding."""
    return _stack(patched(archs.TopKSAE, parts=_rescaled_parts, decode_parts=_rescaled_decode_parts,
                before_step=lambda self: None, after_step=lambda self: None, dec_init_norm=0.1))


def _stack(*cms):
    stack = contextlib.ExitStack()
    for cm in cms:
        stack.enter_context(cm)
    return stack


VARIANTS = {
    "default": ("our recipe as it is", lambda a: contextlib.nullcontext(), {}),
    "lr-3e-4-const": ("SAELens's lr 3e-4, constant (no decay)", lambda a: contextlib.nullcontext(),
                      {"lr": 3e-4, "lr_decay_frac": 0.0}),
    "lr-3e-4": ("lr 3e-4, our decay over the last 20%", lambda a: contextlib.nullcontext(), {"lr": 3e-4}),
    "lr-const": ("our lr, constant (no decay)", lambda a: contextlib.nullcontext(), {"lr_decay_frac": 0.0}),
    "b-dec-zero": ("b_dec initialised at 0 (SAELens) instead of the data mean",
                   lambda a: patched(train, input_stats=_zero_mean_stats(train.input_stats)), {}),
    "auxk-saelens": ("SAELens's AuxK (coef 1 x min(dead/k_aux,1), unnormalised)",
                     lambda a: patched(archs.TopKSAE, aux_losses=_saelens_auxk), {}),
    "auxk-off": ("no AuxK", lambda a: patched(archs.TopKSAE, aux_losses=lambda self, x, xh, p: {}), {}),
    "b-dec-geomedian": ("b_dec initialised at the geometric median (OpenAI)",
                        lambda a: patched(train, input_stats=_geomedian_stats(train.input_stats)), {}),
    "dec-saelens": ("SAELens's decoder handling: init norm 0.1, free norms, rescaled selection (TopK only)",
                    _saelens_decoder, {}),
    "saelens-recipe": ("SAELens's whole recipe in our trainer: lr 3e-4 const, b_dec 0, its decoder and AuxK (TopK only)",
                       lambda a: _stack(patched(train, input_stats=_zero_mean_stats(train.input_stats)),
                                        _saelens_decoder(a), patched(archs.TopKSAE, aux_losses=_saelens_auxk)),
                       {"lr": 3e-4, "lr_decay_frac": 0.0, "dead_tokens": 1000 * 4096}),
    "dead-window-4m": ("dead after 4.1M silent rows (SAELens: 1000 steps x 4096)",
                       lambda a: contextlib.nullcontext(), {"dead_tokens": 1000 * 4096}),
}


def our_section(args, folder, overrides):
    sec = SAETrainConfig(out=str(folder), steps=args.steps, batch_size=args.batch, precision=args.precision,
                         ckpt_every=0, log_every=max(1, args.steps // 20), downstream_rows=0, match_games=0)
    return replace(sec, **{k: v for k, v in overrides.items() if k != "lr"})


def variant_parts(variant):
    """'a+b+c' composes variants (contexts stacked, overrides merged): leave-one-out ablations."""
    return [VARIANTS[v] for v in variant.split("+")]


def train_ours(args, store, arch, variant, folder):
    parts = variant_parts(variant)
    overrides = {k: v for _, _, o in parts for k, v in o.items()}

    def ctx(a):
        return _stack(*(c(a) for _, c, _ in parts))
    cfg = archs.SAEConfig(arch, store.d_model, args.features, k=args.k, lr=overrides.get("lr", 0.0), seed=args.seed)
    t0 = time.perf_counter()
    with ctx(args):
        members = train.Sweep(store, [cfg], our_section(args, folder.parent / f".{folder.name}.ckpt", overrides),
                              args.site, args.seed, "cpu").run()
    wall = time.perf_counter() - t0
    export_sae(members[0].sae.eval(), folder, args.site)
    info = {"train_s": wall, "samples_per_s": args.steps * args.batch / wall, "variant": variant}
    (folder / "bench_train.json").write_text(json.dumps(info))
    return info


def train_saelens(args, arch, folder):
    cmd = [args.saelens_python, str(SIDE), "train", "--store", args.store, "--site", args.site, "--arch", arch,
           "--d-sae", str(args.features), "--k", str(args.k), "--steps", str(args.steps), "--batch", str(args.batch),
           "--seed", str(args.seed), "--out", str(folder)]
    subprocess.run(cmd, check=True)
    return json.loads((folder / "side.json").read_text())


def eval_folder(args, store, net, folder):
    """Our metrics of the SAE in `folder` (cached in bench_eval.json with the evaluation settings, for --reuse)."""
    key = {"store": args.store, "site": args.site, "eval_rows": args.eval_rows,
           "downstream_rows": args.downstream_rows, "n_boot": args.n_boot, "seed": args.seed}
    cache = folder / "bench_eval.json"
    if args.reuse and cache.is_file() and json.loads(cache.read_text())["key"] == key:
        return json.loads(cache.read_text())["metrics"]
    out = _eval_folder(args, store, net, folder)
    cache.write_text(json.dumps({"key": key, "metrics": out}))
    return out


def _eval_folder(args, store, net, folder):
    sae = load_sae(folder)  # OUR loader for both sides
    m = evaluate(sae, store.acts(args.site, "test")[:args.eval_rows])
    ds = evaluate_downstream(net, sae, store, args.site, "test", args.downstream_rows, 0, "cpu", args.seed,
                             n_boot=args.n_boot)
    return {"fvu": m["fvu"], "l0": m["l0"], "dead": m["dead_frac"], "kl": ds["kl"], "flr": ds["flr"],
            "kl_ci": ds.get("ci95", {}).get("kl"), "top1": ds["top1_agree"]}


def quality(args):
    store = ActivationStore(args.store)
    net = network_for_store(store, resolve_checkpoint(args.checkpoint), "cpu")
    have_sl = args.saelens and Path(args.saelens_python).is_file()
    if args.saelens and not have_sl:
        print(f"SAELens python {args.saelens_python} not found: running our side only")
    out, rows = Path(args.out), []
    jobs = [(a, "ours", v) for a in args.archs for v in args.variants
            if a == "topk" or all("(TopK only)" not in d for d, _, _ in variant_parts(v))] + \
           ([(a, "saelens", "saelens") for a in args.archs] if have_sl else [])
    for arch, side, variant in tqdm(jobs, desc="SAEs", unit="sae"):
        folder = out / f"{arch}_f{args.features}_k{args.k}_s{args.steps}_{variant}"
        info = {}
        if not (args.reuse and (folder / "cfg.json").is_file()):
            info = train_ours(args, store, arch, variant, folder) if side == "ours" else train_saelens(args, arch, folder)
        else:  # --reuse: what training recorded
            done = [folder / n for n in ("side.json", "bench_train.json") if (folder / n).is_file()]
            info = json.loads(done[0].read_text()) if done else {}
        r = {"arch": arch, "side": side, "variant": variant, "samples_per_s": info.get("samples_per_s"),
             **eval_folder(args, store, net, folder)}
        rows.append(r)
        print(json.dumps(r))
    (out / "quality.json").write_text(json.dumps(rows, indent=1))
    return quality_table(args, rows)


def fmt_ci(ci):
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def quality_table(args, rows):
    lines = [f"| arch | trainer | variant | FVU | L0 | dead | policy KL [95% CI] | loss recovered | top-1 agree | train samples/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sps = f"{r['samples_per_s']:,.0f}" if r["samples_per_s"] else "-"
        lines.append(f"| {r['arch']} | {r['side']} | {r['variant']} | {r['fvu']:.4f} | {r['l0']:.2f} | {r['dead']:.1%} | "
                     f"{r['kl']:.4f}{fmt_ci(r['kl_ci'])} | {r['flr']:.4f} | {r['top1']:.3f} | {sps} |")
    return "\n".join(lines)


# --- speed ---
def our_step(sae, opt, tracker, x_raw_BD, scale, step, frac, section, autocast):
    """One SAE's step exactly as the body of sae.train.Sweep.run (without logging)."""
    x_BD = x_raw_BD * scale
    lr_mult = min(1.0, (1.0 - frac) / section.lr_decay_frac) if section.lr_decay_frac > 0 else 1.0
    for group in opt.param_groups:
        group["lr"] = group["base_lr"] * lr_mult
    sae.dead_F.copy_(tracker.dead(step))
    with autocast:
        total, logs, f_BF = sae.loss(x_BD, frac)
    if not torch.isfinite(total):
        raise RuntimeError("non-finite loss")
    opt.zero_grad(set_to_none=True)
    total.backward()
    sae.before_step()
    torch.nn.utils.clip_grad_norm_(sae.parameters(), section.grad_clip)
    opt.step()
    sae.after_step()
    tracker.update(f_BF.amax(0) > 0, step)


def best_gflops(fn, flops, reps=5):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return flops / best / 1e9


def speed(args):
    torch.set_num_threads(args.threads)
    store = ActivationStore(args.store)
    F_, K, B, D = args.speed_features, args.speed_k, args.batch, store.d_model
    section = SAETrainConfig(steps=10 ** 6, batch_size=B, precision="fp32")
    scale, mean = train.input_stats(store, args.site, section.stats_rows, args.seed)
    sae = archs.make_sae(archs.SAEConfig("topk", D, F_, k=K, seed=args.seed), scale, mean).train()
    opt = torch.optim.Adam(sae.param_groups(sae.cfg.lr), betas=archs.ADAM_BETAS, fused=True)
    tracker = FiringTracker(F_, max(1, section.dead_tokens // B), "cpu")
    scale_t = torch.tensor(scale)
    n_batches = (args.speed_rounds + 1) * args.speed_steps
    it = store.batches(args.site, "train", B, seed=args.seed)
    xs = [next(it) for _ in range(n_batches)]  # the stream's first batches; SAELens reads the same ones
    side = None
    if Path(args.saelens_python).is_file():
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        side = subprocess.Popen([args.saelens_python, str(SIDE), "serve", "--store", args.store, "--site", args.site,
                                 "--d-sae", str(F_), "--k", str(K), "--batch", str(B), "--seed", str(args.seed),
                                 "--threads", str(args.threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env)
        hello = json.loads(side.stdout.readline())
        print(f"SAELens {hello['sae_lens_version']} served, {hello['threads']} threads")
    else:
        print(f"SAELens python {args.saelens_python} not found: timing our trainer only")

    def ask(start, n):
        side.stdin.write(f"{start} {n}\n")
        side.stdin.flush()
        return json.loads(side.stdout.readline())["samples_per_s"]

    ours, theirs, step = [], [], 0
    for x in xs[:args.speed_steps]:  # warm-up of both on the first batches (allocator, Adam state)
        our_step(sae, opt, tracker, x, scale_t, step, 0.5, section, contextlib.nullcontext())
        step += 1
    if side:
        ask(0, args.speed_steps)
    for r in tqdm(range(1, args.speed_rounds + 1), desc="rounds", disable=None):
        batch = xs[r * args.speed_steps:(r + 1) * args.speed_steps]
        t0 = time.perf_counter()
        for x in batch:
            our_step(sae, opt, tracker, x, scale_t, step, 0.5, section, contextlib.nullcontext())
            step += 1
        ours.append(len(batch) * B / (time.perf_counter() - t0))
        if side:
            theirs.append(ask(r * args.speed_steps, args.speed_steps))
    if side:
        side.stdin.close()
        side.wait()
    peak = 0.0
    for n in (2048, 4096):  # best of two sizes, several repetitions each (a shared machine's load only lowers it)
        a, b = torch.randn(n, n), torch.randn(n, n)
        peak = max(peak, best_gflops(lambda: torch.mm(a, b), 2 * n ** 3, reps=5))
    x_in, W, b_enc = torch.randn(B, D), sae.W_enc.detach().clone(), sae.b_enc.detach().clone()
    enc = best_gflops(lambda: torch.addmm(b_enc, x_in, W), 2 * B * D * F_)
    o_med = float(np.median(ours))
    lines = [f"| trainer | samples/s (median of {args.speed_rounds} rounds x {args.speed_steps} steps) | all rounds |",
             "|---|---|---|",
             f"| ours (sae.train step, fp32) | {o_med:,.0f} | {', '.join(f'{v:,.0f}' for v in ours)} |"]
    if side:
        t_med = float(np.median(theirs))
        lines.append(f"| SAELens {hello['sae_lens_version']} (SAETrainer.step, fp32) | {t_med:,.0f} | "
                     f"{', '.join(f'{v:,.0f}' for v in theirs)} |")
        lines.append(f"| ratio ours / SAELens | {o_med / t_med:.2f}x | |")
    enc_step = 3 * 2 * B * D * F_ * o_med / B / 1e9  # dense-equivalent encoder FLOPs (fwd + 2 bwd) per second
    lines += ["", f"fp32 matmul peak (best 2048^3 / 4096^3 torch.mm, {args.threads} threads): {peak:,.0f} GFLOP/s; our encoder "
              f"matmul alone ([{B}, {D}] x [{D}, {F_}] addmm): {enc:,.0f} GFLOP/s = {enc / peak:.0%} of it; "
              f"the whole step at dense-equivalent encoder FLOPs (3 matmuls): {enc_step:,.0f} GFLOP/s = {enc_step / peak:.0%}."]
    return "\n".join(lines)


def main(argv=None):
    args = tyro.cli(BenchSAELensArgs, args=argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "sae"], capture_output=True, text=True).stdout.strip())
    table = quality(args) if args.mode == "quality" else speed(args)
    print(table)
    if args.record:
        what = (f"quality, F {args.features}, k {args.k}, {args.steps} steps x {args.batch}" if args.mode == "quality"
                else f"speed, TopK F {args.speed_features}, k {args.speed_k}, batch {args.batch}, fp32")
        record(f"### Ours vs SAELens: {what} ({started})\n\nMachine: {machine()}. Tree: {rev}"
               f"{' + uncommitted sae/ changes' if dirty else ''}. Store: `{args.store}` ({args.site}).\n"
               f"Command: `python -m bench.bench_saelens {' '.join(sys.argv[1:] if argv is None else argv)}`\n\n{table}")


if __name__ == "__main__":
    main()
