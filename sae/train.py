"""Lockstep sweep trainer (every SAE of a sweep trains on the SAME batches) and the SAE stage, `train_saes`.

Each batch is read from the activation store once, converted and scaled once, and
fed to every SAE (each with its own Adam and learning-rate schedule). A sweep of
25 SAEs therefore reads the data once instead of 25 times, and all SAEs see the
same data order (differences between them come from their settings alone).

Schedules (April-2024 recipe, settings in sae.config.SAETrainConfig): sparsity coefficient
warm-up over the first `l1_warmup_frac` of steps, learning rate linear decay to 0 over the
last `lr_decay_frac`, Adam (sae.archs.ADAM_BETAS), grad norm clipped at `grad_clip`. Dead
features: resampled at `resample_at` fractions of training for gated / jumprelu (RESAMPLING_ARCHS);
AuxK (inside the SAE loss) for the TopK family. State is checkpointed atomically every
`ckpt_every` steps; `run(resume=True)` continues an interrupted sweep (even after kill -9)
from its checkpoint with the same data stream.

Several sites train in one pass: every batch holds the SAME rows at each site (read once per step,
ActivationStore.batches with a list of sites), each SAE trains on its own site's activations with
that site's input scale, so a multi-site sweep trains exactly the SAEs of one single-site sweep per site
(same seeds). SAE names (and their folders) carry the site when a sweep has more than one: `sae_name`.
"""
import contextlib
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from othello.atomic import atomic_write
from sae.archs import ADAM_BETAS, make_sae
from sae.report import network_for_store, report_sweep
from sae.resample import FiringTracker, resample_dead

STATE_FORMAT = "othello-sae-sweep/2"  # /2: several sites (jobs, per-site input stats)
RESAMPLING_ARCHS = ("gated", "jumprelu")  # relu: the April-2024 recipe does not resample
RESUME_KEYS = ("steps", "batch_size", "stats_rows")  # settings a resumed sweep must share with its checkpoint


class SAETrainingError(RuntimeError):
    """Training diverged (non-finite loss) or a resume checkpoint does not match the sweep."""


@torch.no_grad()
def input_stats(store, site, n_rows, seed=0):
    """(scale, mean of scaled x): scale makes mean ||x|| = sqrt(d_in) on (a sample of) the train split."""
    a, b = store.split_rows("train")
    rows = np.sort(np.random.default_rng(seed).choice(b - a, size=min(n_rows, b - a), replace=False))
    x = torch.from_numpy(np.ascontiguousarray(store.acts(site, "train")[rows])).double()
    scale = math.sqrt(x.shape[1]) / x.norm(dim=1).mean().item()
    return scale, (x * scale).mean(0).float()


def resolve_precision(precision, device):
    """'auto' -> 'bf16' on CUDA and on CPUs with native bf16 matmuls (AVX512-BF16 / AMX), else 'fp32'.

    Without native support a CPU emulates bf16 and autocast is slower than fp32 (measured 1.8x on an
    AVX-512 Xeon without BF16), while on CPUs that have it bf16 doubles the throughput (bench/RESULTS.md).
    """
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


def sae_name(site, cfg, multi_site):
    """An SAE's name (and folder): the config's name, prefixed by its site in a sweep over several sites."""
    return f"{site}_{cfg.name}" if multi_site else cfg.name


def sweep_jobs(sae_cfgs, site):
    """[(site, SAEConfig)]: each config at each site of `site` (a name or a list; site-major order), or
    `sae_cfgs` itself when `site` is None (it is then already a list of (site, SAEConfig) pairs)."""
    if site is None:
        return [(s, c) for s, c in sae_cfgs]
    sites = [site] if isinstance(site, str) else list(site)
    if not sites or len(set(sites)) != len(sites):
        raise ValueError(f"a sweep needs one or more distinct sites, got {sites}")
    return [(s, c) for s in sites for c in sae_cfgs]


class Member:
    """One SAE of the sweep (at `site`) with its optimizer, firing tracker and running logs."""

    def __init__(self, cfg, section, scale, mean, device, site, name):
        self.cfg, self.name, self.site = cfg, name, site
        self.sae = make_sae(cfg, scale, mean).to(device)
        self.sae.warmup_frac = section.l1_warmup_frac
        self.lr = cfg.lr
        self.opt = torch.optim.Adam(self.sae.param_groups(self.lr), betas=ADAM_BETAS, fused=True)
        window = max(1, section.dead_tokens // section.batch_size)  # steps a dead feature stays silent
        self.tracker = FiringTracker(cfg.d_sae, window, device)
        self.log_sums, self.log_n, self.resampled, self.last_l0 = {}, 0, 0, float("nan")
        self.tail = {"loss": 0.0, "mse": 0.0, "n": 0}  # averages over the last 10% of steps

    def state_dict(self):
        return {"model": self.sae.state_dict(), "optimizer": self.opt.state_dict(),
                "tracker": self.tracker.state_dict(), "resampled": self.resampled, "tail": self.tail}

    def load_state_dict(self, d):
        self.sae.load_state_dict(d["model"])
        self.opt.load_state_dict(d["optimizer"])
        self.tracker.load_state_dict(d["tracker"])
        self.resampled, self.tail = d["resampled"], d["tail"]


class Sweep:
    """Train SAEs `sae_cfgs` at `site` of `store` in lockstep, checkpointing into `section.out`.

    `site`: a site name, or a list of sites (every config at every site, all in one pass), or None when
    `sae_cfgs` are (site, SAEConfig) pairs (a Ray group); `multi_site`: whether names carry the site
    (default: when the sweep has several sites). `section`: SAETrainConfig; `seed`: data order (SAE init
    seeds live in SAEConfig); `wandb`: log curves to Weights & Biases (`wandb_config`: what the run
    records). `run()` returns the trained members; `stats[site]` is the site's (input scale, mean).
    """

    def __init__(self, store, sae_cfgs, section, site, seed, device, wandb=False, wandb_config=None, multi_site=None):
        self.store, self.section, self.seed = store, section, seed
        self.device, self.wandb, self.wandb_config = torch.device(device), wandb, wandb_config
        self.out = Path(section.out)
        self.jobs = sweep_jobs(sae_cfgs, site)
        self.sites = list(dict.fromkeys(s for s, _ in self.jobs))
        multi = len(self.sites) > 1 if multi_site is None else multi_site
        self.names = [sae_name(s, c, multi) for s, c in self.jobs]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate SAE names in the sweep: {sorted({n for n in self.names if self.names.count(n) > 1})}")
        for s, c in self.jobs:
            store.check(s, c.d_in)
        self.state_path = self.out / "sweep_state.pt"
        self.history, self.step = [], 0

    def _build(self, stats):
        self.stats = stats
        self.members = [Member(c, self.section, *stats[s], self.device, s, n) for (s, c), n in zip(self.jobs, self.names)]

    def _jobs_record(self):
        return [[s, asdict(c)] for s, c in self.jobs]

    def save_state(self):
        data = {"format": STATE_FORMAT, "step": self.step, "section": asdict(self.section), "seed": self.seed,
                "jobs": self._jobs_record(), "names": self.names,
                "stats": {s: [scale, mean.cpu()] for s, (scale, mean) in self.stats.items()},
                "history": self.history, "members": [m.state_dict() for m in self.members]}
        atomic_write(self.state_path, lambda p: torch.save(data, p))

    def load_state(self):
        try:
            data = torch.load(self.state_path, map_location=self.device, weights_only=True)
        except Exception as e:  # torch raises many types for truncated / foreign files
            raise SAETrainingError(f"cannot resume: {self.state_path} is unreadable ({type(e).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise SAETrainingError(f"cannot resume: {self.state_path} is not a sweep checkpoint of format {STATE_FORMAT}")
        if data["jobs"] != self._jobs_record() or data["names"] != self.names:
            raise SAETrainingError(f"cannot resume: the SAEs or sites in {self.state_path} differ from this sweep's "
                                   f"(same --site / --sae.sweep / --sae.arch / --sae.features?)")
        now = {"seed": self.seed, **{k: getattr(self.section, k) for k in RESUME_KEYS}}
        saved = {"seed": data["seed"], **{k: data["section"][k] for k in RESUME_KEYS}}
        for key in now:
            if saved[key] != now[key]:
                raise SAETrainingError(f"cannot resume: {key}={saved[key]} in the checkpoint but {now[key]} now")
        self._build({s: (scale, mean.cpu()) for s, (scale, mean) in data["stats"].items()})
        for m, d in zip(self.members, data["members"]):
            m.load_state_dict(d)
        self.step, self.history = data["step"], data["history"]

    def run(self, resume=False, progress=True):
        t, dev = self.section, self.device
        # --- setup: fresh (input statistics from the train split) or from the checkpoint ---
        if resume and self.state_path.is_file():
            self.load_state()
        else:
            self._build({s: input_stats(self.store, s, t.stats_rows, self.seed) for s in self.sites})
        run = _wandb_run(self.wandb_config, self.jobs) if self.wandb else None
        batches = self.store.batches(self.sites, "train", t.batch_size, seed=self.seed, start_step=self.step, device=dev)
        scales = {s: torch.tensor(scale, device=dev) for s, (scale, _) in self.stats.items()}
        autocast = (torch.autocast(dev.type, dtype=torch.bfloat16) if resolve_precision(t.precision, dev) == "bf16"
                    else contextlib.nullcontext())
        resample_steps = {int(f * t.steps) for f in t.resample_at if 0 < f < 1}
        bar = tqdm(total=t.steps, initial=self.step, desc=f"{len(self.members)} SAE(s)", unit="step",
                   disable=None if progress else True)
        # --- lockstep loop: one batch, every SAE ---
        while self.step < t.steps:
            x = {s: xs * scales[s] for s, xs in next(batches).items()}  # the same rows at every site
            frac = self.step / t.steps
            lr_mult = min(1.0, (1.0 - frac) / t.lr_decay_frac) if t.lr_decay_frac > 0 else 1.0
            for m in self.members:
                x_BD = x[m.site]
                for group in m.opt.param_groups:
                    group["lr"] = group["base_lr"] * lr_mult
                m.sae.dead_F.copy_(m.tracker.dead(self.step))
                with autocast:
                    total, logs, f_BF = m.sae.loss(x_BD, frac)
                if not torch.isfinite(total):
                    raise SAETrainingError(f"SAE '{m.name}' produced a non-finite loss ({total.item()}) at step {self.step}; "
                                           f"try a lower --sae.lr (now {m.lr:g}) or --sae.precision fp32")
                m.opt.zero_grad(set_to_none=True)
                total.backward()
                m.sae.before_step()
                torch.nn.utils.clip_grad_norm_(m.sae.parameters(), t.grad_clip)
                m.opt.step()
                m.sae.after_step()
                # cheap reductions over the [B, F] codes: a bool .sum() would convert to int64 first
                m.tracker.update(f_BF.amax(0) > 0, self.step)
                # --- bookkeeping: running logs, tail averages for the sweep report ---
                logs["loss"] = total.detach()
                if (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps:  # L0 of this batch (counting is not free)
                    m.last_l0 = float(torch.count_nonzero(f_BF)) / f_BF.shape[0]
                for k, v in logs.items():
                    m.log_sums[k] = m.log_sums.get(k, 0.0) + v.float()
                m.log_n += 1
                if self.step >= 0.9 * t.steps:
                    m.tail["loss"] += float(total.detach())
                    m.tail["mse"] += float(logs["mse"])
                    m.tail["n"] += 1
                # --- dead-feature resampling (relu / gated / jumprelu) ---
                if self.step in resample_steps and m.cfg.arch in RESAMPLING_ARCHS:
                    dead = m.tracker.dead(self.step)
                    with torch.no_grad():
                        loss_B = m.sae.sq_err(x_BD, m.sae(x_BD)[0])
                    g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
                    m.resampled += resample_dead(m.sae, m.opt, dead, x_BD, loss_B, g)
                    m.tracker.reset(dead, self.step)
            self.step += 1
            bar.update(1)
            if self.step % t.log_every == 0 or self.step == t.steps:
                self._log(bar, run)
            if t.ckpt_every and self.step % t.ckpt_every == 0 and self.step < t.steps:
                self.save_state()
        bar.close()
        self.save_state()
        if run is not None:
            run.finish()
        return self.members

    def _log(self, bar, run):
        entry = {"step": self.step}
        for m in self.members:
            entry[m.name] = {k: round(float(v) / max(m.log_n, 1), 5) for k, v in m.log_sums.items()}
            entry[m.name]["l0"] = round(m.last_l0, 3)
            entry[m.name]["dead_frac"] = round(float(m.tracker.dead(self.step).float().mean()), 4)
            m.log_sums, m.log_n = {}, 0
        self.history.append(entry)
        first = entry[self.members[0].name]
        bar.set_postfix(mse=first.get("mse"), l0=first.get("l0"), dead=first.get("dead_frac"))
        if run is not None:
            run.log({f"{n}/{k}": v for n, d in entry.items() if n != "step" for k, v in d.items()}, step=self.step)


def _wandb_run(config_dict, jobs):
    try:
        import wandb
    except ModuleNotFoundError:  # CLIs check first (config.require_wandb); this guards library callers
        raise SAETrainingError("wandb logging needs the wandb package: pip install wandb (or run without --wandb)") from None
    return wandb.init(project="othello-sae", config={"config": config_dict,
                                                      "saes": [{"site": s, **asdict(c)} for s, c in jobs]})


def train_saes(store, sae_cfgs, sae_section, site, seed, device, wandb, config_dict, checkpoint):
    """Stage: train `sae_cfgs` in lockstep at `site` of `store` (a site or a list: every config at every
    site, in one pass over the data), evaluate each SAE once on the held-out
    EVAL_SPLIT, export it into `sae_section.out`; returns the sweep report dict (sae/sweep_report.py).

    `checkpoint`: the network the store was collected from (sha256-checked), needed only for the
    splice metrics (`downstream_rows` > 0). `config_dict`: the run's config tree,
    recorded verbatim in every SAE folder and in the report. Resumes from `sae_section.out` when
    `sae_section.resume` is set.
    """
    net = None
    if sae_section.downstream_rows > 0:  # splicing (and its match) is off at 0
        net = network_for_store(store, checkpoint, device)  # before training: a wrong checkpoint fails fast
    if sae_section.backend != "local":  # one lockstep group per Ray actor: the same SAEs (sae/ray_jobs.py)
        from sae.ray_jobs import ray_sweep
        members = ray_sweep(store, sae_cfgs, sae_section, site, seed, device, wandb, config_dict)
    else:
        members = Sweep(store, sae_cfgs, sae_section, site, seed, device, wandb, config_dict).run(resume=sae_section.resume)
    return report_sweep(members, store, sae_section, seed, device, net, config_dict)
