"""Settings of the AlphaZero stages: network shape, search, self-play and training.

One frozen dataclass per stage, each field defined once (nested under the root in config.py).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class NetConfig:
    d_model: int = 256           # residual stream width
    n_blocks: int = 4            # number of feed-forward residual blocks
    d_hidden: int = 1024         # hidden width of each block's MLP (4 x d_model)
    aux_heads: bool = False      # extra training heads on the final LN: final ownership of each square and final disc difference


@dataclass(frozen=True)
class SearchConfig:
    sims: int = 64               # simulations per move of the players (play, matches, benchmarks); self-play uses selfplay.sims
    c_puct: float = 1.5          # exploration constant in the PUCT score
    fpu_reduction: float = 0.2   # an unvisited child's Q is its parent's value minus this (first-play urgency)
    dirichlet_alpha: float = 0.5  # root noise concentration in self-play (~10 / legal moves on 6x6)
    noise_fraction: float = 0.25  # weight of the root noise in the self-play prior (players search without noise)
    algorithm: str = "gumbel"    # gumbel (Gumbel AlphaZero: sequential halving, completed-Q targets) or puct (AlphaZero)
    gumbel_m: int = 16           # gumbel: root actions sampled (Gumbel-top-m) for sequential halving
    c_visit: float = 50.0        # gumbel: sigma(q) = (c_visit + max child visits) * c_scale * q, q min-max scaled to [0, 1]
    c_scale: float = 0.1         # gumbel: see c_visit


@dataclass(frozen=True)
class SelfPlayConfig:
    games: int = 256             # self-play games per iteration
    sims: int = 16               # simulations of each recorded self-play search (one batched network call each)
    parallel: int = 256          # games played in lockstep (network batch size during search)
    temperature_plies: int = 8   # plies sampled in proportion to visits before playing the most visited move
    temperature: float = 1.0     # visit-count temperature of those sampled plies (visits^(1/T)); puct only (gumbel samples by its noise)
    full_fraction: float = 1.0   # playout-cap randomisation: share of moves searched with selfplay.sims and recorded (1 = all)
    cheap_sims: int = 16         # simulations of the other moves (played, never recorded; puct: no root noise)
    solver_empties: int = 0      # positions with <= this many empties get exact W/D/L and disc-difference targets (0 = off)
    solver_policy: bool = False  # ... and the exact policy target too: uniform over the optimal moves (needs solver_empties)


@dataclass(frozen=True)
class TrainConfig:
    out: str = "runs/alphazero"  # run folder: latest.pt, iter_NNN.pt, buffer.npz, config.json
    iterations: int = 85         # self-play / train / evaluate iterations (the most, with a time budget)
    minutes: float = 0.0         # wall-clock budget: stop after the iteration that reaches it, lr decays over it (0 = off)
    buffer_size: int = 120_000   # replay buffer capacity in positions (before 8x symmetry augmentation)
    batch_size: int = 512        # training batch size
    steps_per_iter: int = 120    # gradient steps per iteration
    lr: float = 2e-3             # peak AdamW learning rate (cosine decay to 10% over the run)
    weight_decay: float = 1e-4   # AdamW weight decay
    ownership_weight: float = 1.0  # weight of the final-ownership loss (mean cross-entropy per square; net.aux_heads only)
    score_weight: float = 1.0    # weight of the final disc-difference loss (squared error in units of 36 discs; net.aux_heads only)
    eval_games: int = 64         # games per evaluation match of the raw policy each iteration; 0 = off
    eval_every: int = 1          # evaluate every this many iterations (and always at the last one)
    eval_opponents: str = "random,greedy,alphabeta:2"  # player specs the raw policy meets each iteration
    resume: bool = False         # continue from OUT/latest.pt and OUT/buffer.npz
    backend: str = "local"       # self-play engine: local (this process) or ray (train.ray_actors actors; pip install -r requirements-ray.txt)
    ray_actors: int = 2          # ray: self-play actors, each playing its block of ~selfplay.games / ray_actors games per iteration
    ray_address: str = ""        # ray: cluster to join ('auto' = the one `ray start` runs on this node, or ray://head:10001); '' = a local instance for this run
    ray_actor_cpus: float = 1.0  # ray: CPUs each actor reserves (its torch threads: at least 1)
    ray_actor_gpus: float = 0.0  # ray: GPUs each actor reserves; > 0 runs its network on cuda
    ray_max_restarts: int = 3    # ray: restarts of a dead actor (its block is replayed) before the run stops with an error
