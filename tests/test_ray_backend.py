"""Self-play on Ray (`--train.backend ray`): blocks, determinism, restarts, kill -9 and resume.

Ray tests run a real local instance (2 CPUs, 2 actors, a tiny network). Under CI (CI=true) a
missing ray FAILS them, never skips (.ci/run installs requirements-ray.txt); elsewhere they
skip without ray. Run with OMP_NUM_THREADS=1 (conftest sets it for the tests and the CLI runs).
"""
import dataclasses
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import config
from alphazero import ray_backend, selfplay
from alphazero.checkpoint import load_checkpoint
from alphazero.config import NetConfig, SearchConfig, SelfPlayConfig, TrainConfig
from alphazero.inference import NetEvaluator
from alphazero.network import AlphaZeroNet
from alphazero.ray_backend import RayBackendError, RaySelfPlay, SelfPlayWorker, blocks, merge
from alphazero.training import train_agent

ROOT = Path(__file__).resolve().parents[1]
NET = NetConfig(d_model=16, n_blocks=1, d_hidden=32)
SEARCH = SearchConfig(sims=4)
PLAY = SelfPlayConfig(games=6, parallel=6, sims=4)
RAY = TrainConfig(backend="ray", ray_actors=2)
TINY = ["--selfplay.games", "4", "--selfplay.parallel", "4", "--selfplay.sims", "4", "--search.sims", "4",
        "--train.steps-per-iter", "2", "--train.batch-size", "16", "--net.d-model", "16", "--net.n-blocks", "1",
        "--net.d-hidden", "32", "--train.eval-games", "2", "--train.eval-opponents", "random"]


def need_ray():
    """The real component must be here: under CI its absence fails the test; elsewhere it skips."""
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ray is not installed (pip install -r requirements-ray.txt)", pytrace=False)
        pytest.skip("the Ray backend tests need ray: pip install -r requirements-ray.txt")


@pytest.fixture(scope="module")
def ray_instance():
    """One small local instance for the pool tests (pools reuse it and leave it running)."""
    need_ray()
    import ray
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=ray_backend.OBJECT_STORE_BYTES,
             logging_level="warning")
    yield ray
    ray.shutdown()


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return AlphaZeroNet(NET).eval()


def expected(net, it, seed=0, games=(3, 3)):
    """The games the actors should play: each block in this process, merged in actor order."""
    return merge([SelfPlayWorker(NET, PLAY, SEARCH, seed, k, "cpu", 1).play(net.state_dict(), it, g)
                  for k, g in enumerate(games)])


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def train(*args):
    env = {**os.environ, "WANDB_MODE": "disabled", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "train_alphazero.py", *TINY, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# --- without ray ---

def test_blocks_split_the_games_in_actor_order():
    assert blocks(256, 2) == [128, 128] and blocks(7, 3) == [3, 2, 2] and blocks(2, 4) == [1, 1, 0, 0]
    parts = [{"z": np.arange(n), "game": np.arange(n), "lengths": np.arange(n), "searches": np.array([n, 1]),
              "rng_state": {}} for n in (2, 3)]
    m = merge(parts)
    assert list(m["game"]) == [0, 1, 2, 3, 4] and list(m["lengths"]) == [0, 1, 0, 1, 2]  # games offset by block
    assert list(m["searches"]) == [5, 2] and set(m) == {"z", "game", "lengths", "searches"}


def test_bad_backend_settings_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(RayBackendError, match="train.backend must be one of local, ray, got 'spark'"):
        ray_backend.check_config(TrainConfig(backend="spark"))
    with pytest.raises(RayBackendError, match="ray_actors must be >= 1"):
        ray_backend.check_config(dataclasses.replace(RAY, ray_actors=0))
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(RayBackendError, match=r"needs the ray package: pip install -r requirements-ray.txt"):
        ray_backend.check_config(RAY)
    ray_backend.check_config(TrainConfig())  # the local backend never imports ray
    p = train("--train.backend", "spark", "--train.iterations", "1", "--train.out", str(tmp_path / "run"))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert err.strip().splitlines() == ["error: train.backend must be one of local, ray, got 'spark'"]


def test_actor_0_plays_the_local_backends_games():
    """Actor 0's generator [seed, it, 0] is the local backend's [seed, it]: same games, same final state."""
    net, cfg = tiny_net(), dataclasses.replace(PLAY, games=4)
    rng = np.random.default_rng([0, 5])
    local = selfplay.self_play(NetEvaluator(net), cfg, SEARCH, rng, progress=False)
    block = SelfPlayWorker(NET, PLAY, SEARCH, 0, 0, "cpu", 1).play(net.state_dict(), 5, 4)
    assert block.pop("rng_state") == rng.bit_generator.state and same(block, local)


# --- a driver killed with kill -9, then resumed (its own local instance, before the shared one starts) ---

def test_driver_kill_9_then_resume(tmp_path):
    need_ray()
    out = tmp_path / "run"
    p = train("--train.iterations", "20", "--train.out", str(out), "--train.backend", "ray")
    deadline = time.time() + 240
    while not (out / "iter_000.pt").exists():
        assert p.poll() is None and time.time() < deadline, p.communicate()[1][-2000:]
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)  # the driver only; its Ray instance goes down with it
    p.communicate()
    done = len(load_checkpoint(out / "latest.pt")["history"])
    r = train("--train.iterations", str(done + 1), "--train.out", str(out), "--train.backend", "ray", "--train.resume")
    stdout, stderr = r.communicate(timeout=300)
    assert r.returncode == 0, stderr[-2000:]
    assert f"resuming at iteration {done}" in stdout and "2 actors x 2 games" in stdout
    ck = load_checkpoint(out / "latest.pt")
    assert [h["iteration"] for h in ck["history"]] == list(range(done + 1))
    assert ck["history"][-1]["games"] == 4 and ck["history"][-1]["buffer"] == sum(h["positions"] for h in ck["history"])


# --- on a shared local instance ---

def test_actors_play_their_blocks_deterministically(ray_instance):
    net = tiny_net()
    pool = RaySelfPlay(NET, PLAY, SEARCH, RAY, seed=0)
    try:
        assert pool.games == [3, 3] and len(set(pool.pids)) == 2
        rng = np.random.default_rng([0, 1])
        a = pool.self_play(net, 1, rng)
        b = pool.self_play(net, 1, np.random.default_rng(9))  # same weights, seed, iteration: same games
        want = expected(net, 1)
        assert same(a, want) and same(b, want) and list(np.unique(a["game"])) == list(range(6))
        assert len(a["lengths"]) == 6 and a["searches"][0] == len(a["z"])
        assert rng.bit_generator.state == SelfPlayWorker(NET, PLAY, SEARCH, 0, 0, "cpu", 1).play(
            net.state_dict(), 1, 3)["rng_state"]  # the learner continues from actor 0's generator
        assert not same(pool.self_play(net, 2, rng), a)  # another iteration, other games
    finally:
        pool.close()


def test_killed_actors_are_restarted_and_replay_their_block(ray_instance, tmp_path):
    net = tiny_net(1)
    pool = RaySelfPlay(NET, PLAY, SEARCH, RAY, seed=0, crash_once=str(tmp_path / "crash"))
    try:
        first = pool.self_play(net, 0, np.random.default_rng(0))  # each actor dies mid-call once, is restarted
        assert (tmp_path / "crash.0").exists() and (tmp_path / "crash.1").exists()
        assert same(first, expected(net, 0))  # the replayed blocks are the blocks: the run does not change
        pids = ray_instance.get([a.pid.remote() for a in pool.actors])
        assert not set(pids) & set(pool.pids)
        os.kill(pids[1], signal.SIGKILL)  # an idle actor killed from outside, between iterations
        assert same(pool.self_play(net, 3, np.random.default_rng(0)), expected(net, 3))
    finally:
        pool.close()
    pool = RaySelfPlay(NET, PLAY, SEARCH, dataclasses.replace(RAY, ray_max_restarts=0), seed=0,
                       crash_once=str(tmp_path / "again"))
    try:
        with pytest.raises(RayBackendError, match="died more than train.ray_max_restarts=0 times at iteration 4"):
            pool.self_play(net, 4, np.random.default_rng(0))
    finally:
        pool.close()


def test_one_actor_run_is_the_local_run(ray_instance, tmp_path):
    """With 1 actor (1 torch thread each side) the Ray backend trains exactly the local run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = config.parse(config.Config, TINY + ["--train.iterations", "2"])
    runs = {}
    try:
        for backend in ("local", "ray"):
            train_cfg = dataclasses.replace(cfg.train, out=str(tmp_path / backend), backend=backend, ray_actors=1)
            runs[backend] = load_checkpoint(train_agent(cfg.net, cfg.search, cfg.selfplay, train_cfg, cfg.rules,
                                                        seed=0, device="cpu", config=config.to_dict(cfg)))
    finally:
        torch.set_num_threads(threads)
    assert ray_instance.is_initialized()  # the caller's instance was used, and left running
    a, b = runs["local"], runs["ray"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    untimed = [[{k: v for k, v in h.items() if not k.endswith("_s")} for h in r["history"]] for r in (a, b)]
    assert untimed[0] == untimed[1] and untimed[0][-1]["positions"] > 0
