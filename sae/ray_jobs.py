"""Activation collection and SAE sweeps on Ray (`--collect.backend ray`, `--sae.backend ray`).

    python -m sae.collect --collect.backend ray --train.ray-actors 4           # a local Ray instance for the run
    python train_sae.py --sae.sweep prior --sae.backend ray --train.ray-address auto --train.ray-actors 5

Where the actors run is set once for every stage, by the self-play backend's settings
`train.ray_*` (address, actors, CPUs and GPUs per actor, restarts); each stage only says which
engine it uses (`collect.backend`, `sae.backend`, `train.backend`). Ray is optional
(requirements-ray.txt) and imported only when a stage's backend is ray.

Collection: the actors (each with the network, built once from the checkpoint sent through the
object store) play the tasks of sae.collect.tasks, each on whichever actor is free, and run the network
on the store's rows in FORWARD_BATCH-row chunks; this process de-duplicates the tasks' positions
in task order, splits them by game, and writes the one store (sae.activations.FORMAT, unchanged)
as the chunks come back. Tasks are seeded by [seed, task], never by which actor plays them, so
the store is the local backend's (bit for bit on the same kind of CPU). Why not shards written by
the actors: the store's invariants are global (a position kept only at its first occurrence over
all games, rows ordered train | val | test by a split drawn over all games), so shards would have
to be merged and reordered anyway, and a format with shards would change every reader; the
driver's share (hashing positions, copying rows into memory maps) is small beside playing and
the forward passes, and the actors need no filesystem shared with the driver.

Sweep: the SAEs (one per config and site, sae.train.sweep_jobs) are split into groups of about equal
cost, one lockstep `Sweep` per actor (a group may mix sites: it reads the same rows at each).
Every SAE sees the same batches as in one sweep (batch t is a function of (seed, t)) and
its init, optimizer and resampling depend only on its own config and the step, so each is the
SAE the local sweep trains; this process gathers them and evaluates, exports and reports them
together (one sweep.json, as local). Actors read the store at its path and checkpoint into
`<sae.out>/ray_group_<k>/`: on a cluster both must be on a filesystem every node sees.
"""
import dataclasses
import os
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from alphazero.config import TrainConfig
from alphazero.ray_backend import RayBackendError, check_config, start_ray

BACKENDS = ("local", "ray")
IN_FLIGHT = 2  # calls queued per actor: one running, the next already shipped


def require_ray(key):
    """Import ray for the stage setting `key` (e.g. 'collect.backend'), or a one-line RayBackendError."""
    try:
        import ray
    except ModuleNotFoundError:
        raise RayBackendError(f"{key} ray needs the ray package: pip install -r requirements-ray.txt "
                              f"(or run with --{key.replace('_', '-')} local)") from None
    return ray


def check_backend(backend, key):
    """Raise RayBackendError unless `backend` is local or ray (and ray is installed)."""
    if backend not in BACKENDS:
        raise RayBackendError(f"{key} must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend == "ray":
        require_ray(key)


def ray_settings(config_dict):
    """The run's Ray settings: the train.ray_* fields of its config tree (config.to_dict), defaults where absent."""
    train = (config_dict or {}).get("train", {})
    keys = [f.name for f in dataclasses.fields(TrainConfig) if f.name.startswith("ray_")]
    return dataclasses.replace(TrainConfig(), **{k: train[k] for k in keys if k in train})


class RayPool:
    """`n` actors of `cls` (`cls(refs, device, threads)`, with a `ready()` method; `refs`: `args` in the
    object store, put once, which it gets with ray.get) on a local Ray
    instance, or on the cluster at `ray_cfg.ray_address`; `close()` kills them and stops the
    instance if this pool started it (an in-process caller's own instance is used and left running)."""

    def __init__(self, cls, n, ray_cfg, key, args=()):
        ray = self.ray = require_ray(key)
        check_config(dataclasses.replace(ray_cfg, backend="ray"))  # the self-play backend's checks of train.ray_*
        self.key, self.max_restarts, self.actors = key, ray_cfg.ray_max_restarts, []
        self.started = start_ray(ray, ray_cfg, n)
        threads = max(1, int(ray_cfg.ray_actor_cpus))
        self.device = "cuda" if ray_cfg.ray_actor_gpus > 0 else "cpu"  # Ray sets CUDA_VISIBLE_DEVICES per actor
        actor = ray.remote(cls).options(
            num_cpus=ray_cfg.ray_actor_cpus, num_gpus=ray_cfg.ray_actor_gpus, max_restarts=self.max_restarts,
            max_task_retries=self.max_restarts,  # calls are pure: a call on a dead actor is replayed on its restart
            runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})  # N actors x `threads`, not N x all cores
        try:  # args go in the object store once; the pool holds them so that a restarted actor finds them
            self.refs = [ray.put(a) for a in args]  # nested in a list: passed as refs, not copied per actor
            self.actors = [actor.remote(self.refs, self.device, threads) for _ in range(n)]
            self.pids = self._get([a.ready.remote() for a in self.actors])  # start-up is not the first call's time
        except BaseException:
            self.close()  # the caller never gets this object to close: stop what was started
            raise

    def _get(self, refs):
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayActorError as e:
            raise RayBackendError(f"a {self.key} ray actor died more than train.ray_max_restarts={self.max_restarts} "
                                  f"times ({type(e).__name__})") from None
        except self.ray.exceptions.RayTaskError as e:  # an error inside the call: its last line, as a local run says it
            raise RayBackendError(f"{self.key} ray actor failed: {str(e).strip().splitlines()[-1]}") from None

    def imap(self, method, items):
        """Yield `actor.method(*item)` for each item of the (possibly endless) iterable, in item order.

        Each item goes to the least busy actor (at most IN_FLIGHT calls queued each) as soon as one
        is free, so unequal items (a source's games, alpha-beta's) do not leave actors idle; results
        wait here until the ones before them are in (at most 2 x IN_FLIGHT x n). Stop iterating to stop.
        """
        items, pending, done, busy = iter(items), {}, {}, [0] * len(self.actors)
        sent, given, exhausted = 0, 0, False
        try:
            while True:
                while not exhausted and min(busy) < IN_FLIGHT and sent - given < 2 * IN_FLIGHT * len(self.actors):
                    item = next(items, None)
                    if item is None:
                        exhausted = True
                        break
                    k = busy.index(min(busy))
                    pending[getattr(self.actors[k], method).remote(*item)] = (sent, k)
                    busy[k] += 1
                    sent += 1
                if given in done:
                    yield done.pop(given)
                    given += 1
                    continue
                if not pending:
                    return
                ready, _ = self.ray.wait(list(pending), num_returns=1)
                i, k = pending.pop(ready[0])
                busy[k] -= 1
                done[i] = self._get(ready[0])
        finally:  # iteration abandoned (collect has its positions): drop the calls still queued
            for ref in pending:
                self.ray.cancel(ref)

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors, self.refs = [], []
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- collection ---

class CollectWorker:
    """A collection actor: the network (built once) and the task player of sae.collect."""

    def __init__(self, refs, device, threads):
        import ray
        from alphazero.checkpoint import network_from_checkpoint
        from sae.collect import TaskPlayer
        ck, collect_cfg, mix, seed = ray.get(refs)
        torch.set_num_threads(threads)
        self.device = device
        self.net = network_from_checkpoint(ck, device)
        self.player = TaskPlayer(self.net, collect_cfg, mix, seed, device)

    def ready(self):
        return os.getpid()

    def play(self, *task):
        return self.player.play(*task)

    def record(self, me, opp, sites, act_dtype):
        from sae.collect import record
        return record(self.net, me, opp, sites, self.device, act_dtype)


def collect_pool(ck, collect_cfg, mix, seed, config_dict):
    """train.ray_actors collection actors, each with the checkpoint `ck` (a dict, sent once)."""
    ray_cfg, t = ray_settings(config_dict), time.perf_counter()
    pool = RayPool(CollectWorker, ray_cfg.ray_actors, ray_cfg, "collect.backend", (ck, collect_cfg, mix, seed))
    where = f"the Ray cluster at {ray_cfg.ray_address}" if ray_cfg.ray_address else "a local Ray instance"
    print(f"collecting on {where}: {len(pool.actors)} actors (started in {time.perf_counter() - t:.1f} s)", flush=True)
    return pool


# --- SAE sweeps ---

def groups(sae_cfgs, n):
    """Indices of `sae_cfgs` (SAEConfigs, or (site, SAEConfig) jobs) in at most `n` non-empty groups of about
    equal cost (d_in x d_sae per step): largest first, each to the least loaded group; indices ascending within a group."""
    sae_cfgs = [c[1] if isinstance(c, tuple) else c for c in sae_cfgs]
    loads, out = [0] * n, [[] for _ in range(n)]
    for i in sorted(range(len(sae_cfgs)), key=lambda i: (-sae_cfgs[i].d_in * sae_cfgs[i].d_sae, i)):
        k = loads.index(min(loads))
        out[k].append(i)
        loads[k] += sae_cfgs[i].d_in * sae_cfgs[i].d_sae
    return [sorted(g) for g in out if g]


class SweepWorker:
    """A sweep actor: trains one lockstep group and returns the trained SAEs' state."""

    def __init__(self, refs, device, threads):
        torch.set_num_threads(threads)
        self.device = device

    def ready(self):
        return os.getpid()

    def train(self, store_path, jobs, section, seed, out):
        from sae.activations import ActivationStore
        from sae.train import Sweep
        sweep = Sweep(ActivationStore(store_path), jobs, dataclasses.replace(section, out=out), None, seed,
                      self.device)
        members = sweep.run(resume=section.resume, progress=False)
        return {"stats": {s: (scale, mean.cpu()) for s, (scale, mean) in sweep.stats.items()},
                "members": [{"model": {k: v.cpu() for k, v in m.sae.state_dict().items()}, "tail": m.tail,
                             "resampled": m.resampled} for m in members]}


def ray_sweep(store, sae_cfgs, section, site, seed, device, wandb, config_dict):
    """Train `sae_cfgs` at `site` (a site or a list, as sae.train.Sweep) in lockstep groups on Ray actors
    -> the trained members, in the local sweep's order (what Sweep.run returns, as far as
    sae.report.report_sweep reads them: cfg, name, site, sae, tail, resampled)."""
    from sae.archs import make_sae
    from sae.train import sae_name, sweep_jobs
    jobs = sweep_jobs(sae_cfgs, site)
    multi = len({s for s, _ in jobs}) > 1
    check_backend(section.backend, "sae.backend")
    if wandb:
        raise RayBackendError("sae.backend ray does not log to wandb (its groups train in other processes); "
                              "run without --wandb or with --sae.backend local")
    ray_cfg = ray_settings(config_dict)
    parts = groups(jobs, ray_cfg.ray_actors)
    out = Path(section.out).resolve()
    with RayPool(SweepWorker, len(parts), ray_cfg, "sae.backend") as pool:
        print(f"SAE sweep on {len(parts)} Ray actors: groups of {', '.join(str(len(g)) for g in parts)} SAE(s)",
              flush=True)
        items = [(str(Path(store.path).resolve()), [jobs[i] for i in g], section, seed,
                  str(out / f"ray_group_{k}")) for k, g in enumerate(parts)]
        results = list(pool.imap("train", items))
    members = [None] * len(jobs)
    for part, res in zip(parts, results):
        for i, m in zip(part, res["members"]):
            s, cfg = jobs[i]
            sae = make_sae(cfg, *res["stats"][s])
            sae.load_state_dict(m["model"])
            sae.warmup_frac = section.l1_warmup_frac
            members[i] = SimpleNamespace(cfg=cfg, name=sae_name(s, cfg, multi), site=s, sae=sae.to(device),
                                         tail=m["tail"], resampled=m["resampled"])
    return members
