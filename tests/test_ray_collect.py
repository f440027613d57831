"""Collection and SAE sweeps on Ray (`--collect.backend ray`, `--sae.backend ray`): the local results, exactly.

Ray tests run a real local instance (2 CPUs, 2 actors, a tiny network, a few hundred positions).
Under CI (CI=true) a missing ray FAILS them, never skips (.ci/run installs requirements-ray.txt);
elsewhere they skip without ray. conftest sets OMP_NUM_THREADS=1, and the actors get it too, so
the float kernels of both backends are the same and the results are compared bit for bit.
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import config
from alphazero.checkpoint import load_checkpoint, network_from_checkpoint
from alphazero.ray_backend import RayBackendError
from sae import collect as collect_mod
from sae import ray_jobs
from sae.activations import ActivationStore
from sae.archs import SAEConfig
from sae.config import CollectConfig
from sae.train import train_saes
from tests.conftest import tiny_checkpoint
from tests.test_ray_backend import need_ray, ray_instance  # noqa: F401 (a fixture: one small local instance)

ROOT = Path(__file__).resolve().parents[1]
COLLECT = ["--collect.positions", "400", "--collect.batch-games", "16", "--collect.val-frac", "0.2",
           "--collect.test-frac", "0.2", "--site", "0,1", "--seed", "5", "--train.ray-actors", "2"]
SAES = [SAEConfig(arch="relu", d_in=16, d_sae=64, l1=2.0), SAEConfig(arch="topk", d_in=16, d_sae=32, k=4),
        SAEConfig(arch="relu", d_in=16, d_sae=32, l1=1.0)]
SWEEP = ["--sae.steps", "30", "--sae.batch-size", "32", "--sae.stats-rows", "200", "--sae.log-every", "10",
         "--sae.eval-rows", "100", "--sae.downstream-rows", "0", "--sae.no-concepts", "--sae.dead-tokens", "320"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", d_model=16, n_blocks=2, d_hidden=32)


def collect(ckpt, out, *flags):
    cfg = config.parse(config.Config, COLLECT + ["--checkpoint", str(ckpt), "--collect.out", str(out), *flags])
    return collect_mod.collect(ckpt, cfg.site, cfg.collect, cfg.seed, "cpu", config.to_dict(cfg))


@pytest.fixture(scope="module")
def local_store(ckpt, tmp_path_factory):
    return collect(ckpt, tmp_path_factory.mktemp("local") / "acts")


def same_store(a, b):
    """Every array equal, bit for bit, and the same splits, sources and games."""
    assert a.count == b.count and a.sites == b.sites
    for name in a.arrays:
        np.testing.assert_array_equal(a.array(name), b.array(name), err_msg=name)
    for site in a.sites:
        np.testing.assert_array_equal(a.acts(site), b.acts(site), err_msg=site)
    for key in ("splits", "sources", "n_games", "checkpoint_sha256"):
        assert a.manifest[key] == b.manifest[key], key


# --- without ray ---

def test_tasks_and_groups():
    mix = collect_mod.parse_mix("self=0.5,random=0.5")
    it = collect_mod.tasks(mix, 10)
    assert [next(it) for _ in range(3)] == [(0, 0, "self", 5, 0), (1, 1, "random", 5, 5), (2, 0, "self", 5, 10)]
    cfgs = [SAEConfig(arch="relu", d_in=4, d_sae=f) for f in (256, 64, 64, 128, 32)]
    assert ray_jobs.groups(cfgs, 2) == [[0, 4], [1, 2, 3]]  # largest first to the lighter group: 288 vs 256
    assert ray_jobs.groups(cfgs[:1], 3) == [[0]]            # never an empty group
    assert ray_jobs.groups([("embed", c) for c in cfgs], 2) == [[0, 4], [1, 2, 3]]  # (site, config) jobs: the same


def test_bad_backends_are_one_line_errors(ckpt, tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit, match=r"^error: collect.backend must be one of local, ray, got 'spark'$"):
        collect_mod.main(["--checkpoint", str(ckpt), "--collect.out", str(tmp_path / "a"),
                          "--collect.backend", "spark"])
    with pytest.raises(RayBackendError, match="sae.backend must be one of local, ray, got 'dask'"):
        train_saes(None, SAES, dataclasses.replace(config.Config().sae, backend="dask", downstream_rows=0), "resid.1",
                   0, "cpu", False, {}, "")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(RayBackendError, match=r"^collect.backend ray needs the ray package: pip install -r "
                                              r"requirements-ray.txt \(or run with --collect.backend local\)$"):
        ray_jobs.check_backend("ray", "collect.backend")
    assert not (tmp_path / "a").exists()


def test_ray_settings_come_from_train_section():
    cfg = config.parse(config.Config, ["--train.ray-actors", "5", "--train.ray-address", "auto"])
    got = ray_jobs.ray_settings(config.to_dict(cfg))
    assert (got.ray_actors, got.ray_address, got.ray_actor_cpus) == (5, "auto", 1.0)
    assert ray_jobs.ray_settings({}).ray_actors == config.Config().train.ray_actors


# --- a run that starts and stops its own local instance (before the shared one starts) ---

def test_cli_collects_on_its_own_ray_instance(ckpt, local_store, tmp_path):
    need_ray()
    out = tmp_path / "acts"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    r = subprocess.run([sys.executable, "-m", "sae.collect", *COLLECT, "--checkpoint", str(ckpt), "--collect.out",
                        str(out), "--collect.backend", "ray"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "collecting on a local Ray instance: 2 actors" in r.stdout and "wrote 400 positions" in r.stdout
    same_store(ActivationStore(out), local_store)
    assert json.loads((out / "manifest.json").read_text())["config"]["collect"]["backend"] == "ray"


# --- on a shared local instance ---

def test_ray_collection_writes_the_local_store(ray_instance, ckpt, local_store, tmp_path, monkeypatch):
    monkeypatch.setattr(collect_mod, "FORWARD_BATCH", 64)  # 7 forward chunks over the 2 actors
    store = collect(ckpt, tmp_path / "acts", "--collect.backend", "ray")
    assert ray_instance.is_initialized()  # the caller's instance was used, and left running
    same_store(store, local_store)


def test_ray_sweep_trains_the_local_saes(ray_instance, local_store, tmp_path):
    reports = {}
    for backend in ("local", "ray"):
        cfg = config.parse(config.Config, SWEEP + ["--sae.out", str(tmp_path / backend), "--sae.backend", backend,
                                                   "--train.ray-actors", "2"])
        reports[backend] = train_saes(local_store, SAES, cfg.sae, "resid.1", 0, "cpu", False, config.to_dict(cfg), "")
    a, b = reports["local"], reports["ray"]
    assert [r["name"] for r in b["runs"]] == [c.name for c in SAES]  # the sweep's order, not the groups'
    assert a["runs"] == b["runs"] and a["store"] == b["store"]       # the same metrics, exactly
    assert sorted(p.name for p in (tmp_path / "ray").glob("ray_group_*")) == ["ray_group_0", "ray_group_1"]
    for c in SAES:
        wa, wb = (load_file(tmp_path / d / c.name / "sae_weights.safetensors") for d in ("local", "ray"))
        assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_ray_multi_site_sweep_trains_the_local_saes(ray_instance, local_store, tmp_path):
    """Several sites: each actor's lockstep group may mix sites; the report is the local one, bit for bit."""
    reports = {}
    for backend in ("local", "ray"):
        cfg = config.parse(config.Config, SWEEP + ["--sae.out", str(tmp_path / backend), "--sae.backend", backend,
                                                   "--train.ray-actors", "2", "--sae.bootstrap", "50"])
        reports[backend] = train_saes(local_store, SAES[:2], cfg.sae, ["resid.0", "resid.1"], 0, "cpu", False,
                                      config.to_dict(cfg), "")
    a, b = reports["local"], reports["ray"]
    assert [r["name"] for r in b["runs"]] == [f"{s}_{c.name}" for s in ("resid.0", "resid.1") for c in SAES[:2]]
    assert a["runs"] == b["runs"]
    for r in a["runs"]:
        wa, wb = (load_file(tmp_path / d / r["folder"] / "sae_weights.safetensors") for d in ("local", "ray"))
        assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_a_killed_collection_actor_is_restarted(ray_instance, ckpt):
    """An actor killed from outside (OOM kill, lost node) comes back with the network (its arguments stay in
    the object store) and plays its tasks again: the tasks' games do not change."""
    ck, c = load_checkpoint(ckpt), CollectConfig(batch_games=8)
    mix = collect_mod.parse_mix(c.mix)
    player = collect_mod.TaskPlayer(network_from_checkpoint(ck), c, mix, 0, "cpu")
    want = [player.play(*t) for t in islice(collect_mod.tasks(mix, 8), 8)]
    pool = ray_jobs.collect_pool(ck, c, mix, 0, {"train": {"ray_actors": 2}})
    try:
        got = list(pool.imap("play", islice(collect_mod.tasks(mix, 8), 4)))
        os.kill(pool.pids[1], signal.SIGKILL)
        got += list(pool.imap("play", islice(collect_mod.tasks(mix, 8), 4, 8)))
        assert len(set(ray_instance.get([a.ready.remote() for a in pool.actors])) & set(pool.pids)) == 1
    finally:
        pool.close()
    assert len(got) == 8 and all(g.keys() == w.keys() and all(np.array_equal(g[k], w[k]) for k in g)
                                 for g, w in zip(got, want))
