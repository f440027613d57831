"""Settings of the SAE stages: activation collection and SAE training / evaluation.

One frozen dataclass per stage, each field defined once (nested under the root in config.py).
Per-SAE hyperparameters (architecture, width, sparsity) are `sae.archs.SAEConfig`, built from
these settings or from a named sweep (`sae.sweeps`).
"""
from dataclasses import dataclass

EVAL_SPLIT = "test"   # every reported metric is computed on held-out games of this split, once


@dataclass(frozen=True)
class CollectConfig:
    out: str = "runs/acts"       # activation store folder (written by collect, read by every later stage)
    positions: int = 400_000     # unique positions to collect (test_frac of the games: >= 100k held-out positions)
    dtype: str = "float16"       # activation dtype in the store: float16 or float32
    mix: str = "self=0.7,random=0.1,greedy=0.12,alphabeta:2=0.08"  # share of games per opponent of the model ('self': itself)
    temperature: float = 1.0     # policy temperature of the model for the first plies
    temperature_plies: int = 10  # plies played at `temperature`
    late_temperature: float = 0.3  # policy temperature after that
    val_frac: float = 0.05       # fraction of games in the validation split
    test_frac: float = 0.3       # fraction of games in the test split (every reported metric and its interval)
    batch_games: int = 1024      # games played in lockstep
    backend: str = "local"       # engine: local (this process) or ray (train.ray_actors actors; cluster settings train.ray_*)


@dataclass(frozen=True)
class SAETrainConfig:
    out: str = "runs/sae"        # sweep folder: one SAELens folder per SAE, sweep.json, plots
    sweep: str = ""              # named grid (prior, topk, archs, small) instead of one SAE; '' = one SAE
    arch: str = "relu"           # architecture of a single SAE: relu, topk, batchtopk, matryoshka, jumprelu, gated
    features: tuple[int, ...] = ()  # dictionary size(s); () = one SAE of sae.sweeps.SINGLE_FEATURES, or the grid's sizes
    l1: float = 0.0              # sparsity coefficient (L1; L0 for jumprelu); 0 = the architecture's default
    k: int = 32                  # active features per input (topk; on average: batchtopk, matryoshka); jumprelu: target L0 (0: plain L0 penalty)
    steps: int = 3000            # optimizer steps, the same batches for every SAE of the sweep
    batch_size: int = 4096       # activations per step
    lr: float = 0.0              # Adam learning rate; 0 = the architecture's default (sae.archs.default_lr)
    precision: str = "auto"      # matmul precision: bf16, fp32, or auto (bf16 where the device has it natively)
    l1_warmup_frac: float = 0.05  # sparsity coefficient ramps up linearly over this fraction of steps
    lr_decay_frac: float = 0.2   # learning rate decays linearly to 0 over this final fraction of steps
    grad_clip: float = 1.0       # max gradient norm per SAE
    dead_tokens: int = 1_000_000  # a feature silent for this many activations counts as dead
    resample_at: tuple[float, ...] = (0.2, 0.4, 0.6)  # training fractions where gated/jumprelu resample dead features
    stats_rows: int = 100_000    # training rows used to estimate the input scale and mean
    ckpt_every: int = 500        # steps between resumable checkpoints (0: only at the end)
    log_every: int = 50          # steps between history entries / progress updates
    resume: bool = False         # continue the sweep checkpointed in OUT
    eval_rows: int = 200_000     # max held-out rows for reconstruction metrics (>= 100k: stable intervals)
    downstream_rows: int = 50_000  # max held-out positions for splice metrics (0: no splicing)
    bootstrap: int = 1000        # resamples of the held-out GAMES for the 95% intervals of FVU, L0, KL, FLR (0: none)
    match_games: int = 100       # games of each spliced network vs the clean one (0: none)
    concepts: bool = True        # evaluate board concepts (coverage, board reconstruction)
    backend: str = "local"       # engine: local (one lockstep sweep) or ray (one lockstep group per actor; settings train.ray_*)
