"""Self-play on Ray (`--train.backend ray`): N self-play actors, one learner (the driver).

    python train_alphazero.py --train.backend ray --train.ray-actors 2   # a local instance for the run
    ray start --head --num-cpus 16         # or join a running cluster (every node: this repo + requirements-ray.txt)
    python train_alphazero.py --train.backend ray --train.ray-address auto --train.ray-actors 16

Each iteration the learner puts its weights (a CPU state dict) into the object store once;
actor k loads them into the network it built once and plays its block of the iteration's
games (`selfplay.games` split as evenly as possible, larger blocks first; `selfplay.parallel`
bounds each actor's lockstep batch) with the batched search, with its own generator
`default_rng([seed, iteration, k])`. The games come back as numpy arrays and are concatenated
in actor order, so the replay buffer, checkpoints, resume and evaluation are the local
backend's. Nothing depends on scheduling: a fixed seed, actor count and `ray_actor_cpus` give
the same run every time (on the same kind of CPU: float kernels differ between instruction
sets). A dead actor (crash, OOM kill, lost node) is restarted up
to `train.ray_max_restarts` times and its block replayed from the same weights and seed, so
the run's result does not change; past that the run stops with an error, and `--train.resume`
continues from the last checkpoint (latest.pt is written every iteration, as with `local`).

Actor 0's generator is the local backend's (`[seed, it, 0]` seeds numpy exactly as `[seed, it]`),
and the learner's generator continues where actor 0's stopped, as the local one continues after
its own self-play: with 1 actor and one torch thread in the driver and the actor alike
(OMP_NUM_THREADS=1) a ray run reproduces the local run bit for bit. With N > 1 actors the
games are split into N independently seeded blocks, so the run differs from local (same
distribution), but is the same for every run with that N.

Ray is optional (requirements-ray.txt) and imported only here, only when the backend is ray.
"""
import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import torch

from alphazero.inference import NetEvaluator
from alphazero.network import AlphaZeroNet
from alphazero.selfplay import self_play

BACKENDS = ("local", "ray")
OBJECT_STORE_BYTES = 512 * 2**20  # a local instance's store: weights and one iteration's games fit many times over


class RayBackendError(ValueError):
    """A Ray setting or failure the run cannot go on with (one line: the CLI prints it)."""


def require_ray():
    """Import ray, or raise a one-line RayBackendError saying how to install it."""
    try:
        import ray
    except ModuleNotFoundError:
        raise RayBackendError("train.backend ray needs the ray package: pip install -r requirements-ray.txt "
                              "(or run with --train.backend local)") from None
    return ray


def check_config(train_cfg):
    """Raise RayBackendError naming the first backend setting of a TrainConfig that cannot be honoured."""
    if train_cfg.backend not in BACKENDS:
        raise RayBackendError(f"train.backend must be one of {', '.join(BACKENDS)}, got '{train_cfg.backend}'")
    if train_cfg.backend != "ray":
        return
    if train_cfg.ray_actors < 1:
        raise RayBackendError(f"train.ray_actors must be >= 1, got {train_cfg.ray_actors}")
    if train_cfg.ray_actor_cpus <= 0 or train_cfg.ray_actor_gpus < 0:
        raise RayBackendError("train.ray_actor_cpus must be > 0 and train.ray_actor_gpus >= 0, got "
                              f"{train_cfg.ray_actor_cpus} and {train_cfg.ray_actor_gpus}")
    if train_cfg.ray_max_restarts < 0:
        raise RayBackendError(f"train.ray_max_restarts must be >= 0, got {train_cfg.ray_max_restarts}")
    require_ray()


def blocks(games, actors):
    """Games per actor: `games` split as evenly as possible, larger blocks first (zeros are not played)."""
    return [games // actors + (k < games % actors) for k in range(actors)]


def merge(parts):
    """Concatenate the self-play dicts of the blocks, in actor order, into one dict as `self_play` returns:
    every array concatenated (per position, then per game), game indices offset by the games of the
    blocks before, `searches` summed; "rng_state" dropped."""
    offset, shifted = 0, []
    for p in parts:
        shifted.append({**p, "game": p["game"] + offset})
        offset += len(p["lengths"])
    out = {k: np.concatenate([p[k] for p in shifted]) for k in parts[0] if k not in ("searches", "rng_state")}
    out["searches"] = np.sum([p["searches"] for p in parts], axis=0)
    return out


class SelfPlayWorker:
    """A self-play actor's state: the network, built once, and the settings of its blocks.

    `crash_once` (tests only): a path; the first call that finds no file there creates it and
    kills this process, as an OOM kill or a lost node would, to exercise restarts.
    """

    def __init__(self, net_cfg, selfplay_cfg, search_cfg, seed, index, device, threads, crash_once=""):
        torch.set_num_threads(threads)  # the actor's CPU share: N actors x 1 thread, not N x all cores
        self.net = AlphaZeroNet(net_cfg).to(device).eval()
        self.selfplay_cfg, self.search_cfg, self.seed, self.index, self.device = (selfplay_cfg, search_cfg, seed,
                                                                                  index, device)
        self.crash_once = crash_once

    def pid(self):
        return os.getpid()

    def play(self, weights, it, games):
        """Load `weights` (state dict) and play `games` games of iteration `it` -> self_play's dict
        plus "rng_state" (the generator's state at the end)."""
        if self.crash_once and not Path(self.crash_once).exists():
            Path(self.crash_once).touch()
            os._exit(1)
        self.net.load_state_dict(weights)
        rng = np.random.default_rng([self.seed, it, self.index])
        cfg = dataclasses.replace(self.selfplay_cfg, games=games)
        data = self_play(NetEvaluator(self.net, self.device), cfg, self.search_cfg, rng, progress=False)
        return {**data, "rng_state": rng.bit_generator.state}


def start_ray(ray, ray_cfg, n_actors):
    """Start (or join, with `ray_cfg.ray_address`) the Ray instance `n_actors` actors of `ray_cfg`'s
    size will run on; return True if this call started it (its owner shuts it down), False when an
    in-process caller's own instance is already running and is used as it is."""
    if ray.is_initialized():
        return False
    gpus = ray_cfg.ray_actor_gpus
    if gpus > 0 and not ray_cfg.ray_address and not torch.cuda.is_available():
        raise RayBackendError(f"train.ray_actor_gpus {gpus} but this machine has no CUDA GPU for the "
                              "local Ray instance (join a cluster with --train.ray-address)")
    local = {"num_cpus": max(1, math.ceil(n_actors * ray_cfg.ray_actor_cpus)), "include_dashboard": False,
             "object_store_memory": OBJECT_STORE_BYTES} if not ray_cfg.ray_address else {}
    try:  # address "local" always starts a new instance (a bare init() would join one `ray start` runs)
        ray.init(address=ray_cfg.ray_address or "local", logging_level="warning", **local)
    except (ConnectionError, RuntimeError) as e:  # a wrong address, or a cluster's token not given
        raise RayBackendError(f"cannot reach Ray at '{ray_cfg.ray_address or 'local'}': "
                              f"{str(e).strip().splitlines()[0]} (an explicit address of a cluster with token "
                              "auth needs RAY_AUTH_MODE=token and its token)") from None
    return True


class RaySelfPlay:
    """N self-play actors on Ray (a local instance, or the cluster at `train_cfg.ray_address`).

    `self_play(net, it, rng)` returns what `selfplay.self_play` returns for the iteration's games;
    `close()` stops the actors (and the local instance, when this object started it).
    """

    def __init__(self, net_cfg, selfplay_cfg, search_cfg, train_cfg, seed, crash_once=""):
        check_config(train_cfg)
        ray = self.ray = require_ray()
        n, gpus = train_cfg.ray_actors, train_cfg.ray_actor_gpus
        self.started = start_ray(ray, train_cfg, n)
        threads = max(1, int(train_cfg.ray_actor_cpus))
        actor = ray.remote(SelfPlayWorker).options(
            num_cpus=train_cfg.ray_actor_cpus, num_gpus=gpus, max_restarts=train_cfg.ray_max_restarts,
            max_task_retries=train_cfg.ray_max_restarts,  # a task on a dead actor is replayed on its restart
            runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})
        self.games = [g for g in blocks(selfplay_cfg.games, n) if g]
        self.max_restarts = train_cfg.ray_max_restarts
        device = "cuda" if gpus > 0 else "cpu"
        self.actors = [actor.remote(net_cfg, selfplay_cfg, search_cfg, seed, k, device, threads,
                                    f"{crash_once}.{k}" if crash_once else "") for k in range(len(self.games))]
        try:  # wait for them (startup is not iteration 0's time); a cluster short of CPUs/GPUs waits here for nodes
            self.pids = ray.get([a.pid.remote() for a in self.actors])
        except BaseException:
            self.close()  # the caller never gets this object to close: stop what was started
            raise
        where = f"the Ray cluster at {train_cfg.ray_address}" if train_cfg.ray_address else "a local Ray instance"
        print(f"self-play on {where}: {len(self.actors)} actors x {self.games[0]} games or fewer per iteration")

    def self_play(self, net, it, rng):
        """Self-play of iteration `it` with `net`'s weights; sets `rng` to actor 0's final state."""
        weights = self.ray.put({k: v.detach().cpu() for k, v in net.state_dict().items()})  # once, for all actors
        refs = [a.play.remote(weights, it, g) for a, g in zip(self.actors, self.games)]
        try:
            parts = self.ray.get(refs)
        except self.ray.exceptions.RayActorError as e:
            raise RayBackendError(f"a self-play actor died more than train.ray_max_restarts={self.max_restarts} times "
                                  f"at iteration {it} ({type(e).__name__}); continue with --train.resume") from None
        rng.bit_generator.state = parts[0]["rng_state"]
        return merge(parts)

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
