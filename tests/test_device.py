"""The GPU path, tested on CPU: device resolution in every entry point, pinned-memory batches, autocast.

This machine has no GPU: these tests run the code a CUDA run takes as far as a CPU allows (which
branch is taken, which error is raised); bench/gpu_check.py runs every stage on a real GPU.
"""
import importlib

import numpy as np
import pytest
import torch

import config
from alphazero.inference import NetEvaluator, autocast, autocast_dtype
from alphazero.network import AlphaZeroNet
from alphazero.config import NetConfig
from sae import activations
from sae.activations import write_store
from sae.train import resolve_precision

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour of a machine without CUDA")
CUDA_ERROR = r"^error: device 'cuda' requested but CUDA is not available here$"
# every entry point that runs a network, and the arguments it needs to reach its device check
# (bench_sae is not here: it checks --device only after its CPU throughput table, minutes in)
ENTRY_POINTS = [("train_alphazero", []), ("sae.collect", []), ("train_sae", []), ("pipeline", []),
                ("vis.generate_vis_data", []), ("othello.play", ["--games", "1"]),
                ("bench.bench_ladder", []), ("bench.bench_strength", [])]


@NO_GPU
def test_auto_is_cpu_here_and_cuda_is_a_one_line_error():
    assert config.resolve_device("auto") == "cpu" and config.resolve_device("cpu") == "cpu"
    for device in ("cuda", "cuda:1"):
        with pytest.raises(SystemExit, match=rf"^error: device '{device}' requested but CUDA is not available here$"):
            config.resolve_device(device)


@NO_GPU
@pytest.mark.parametrize("module,args", ENTRY_POINTS, ids=[m for m, _ in ENTRY_POINTS])
def test_every_entry_point_checks_its_device(module, args, tmp_path):
    """--device cuda without a GPU stops each entry point with the one-line error, before any work."""
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit, match=CUDA_ERROR):
        main([*args, "--device", "cuda", "--train.out", str(tmp_path / "run"), "--collect.out", str(tmp_path / "acts"),
              "--sae.out", str(tmp_path / "sae"), "--vis.out", str(tmp_path / "vis")])
    assert not any(tmp_path.iterdir())  # nothing written


def test_pinned_memory_only_for_cuda(monkeypatch):
    assert activations.pinned("cuda") and activations.pinned("cuda:1") and activations.pinned(torch.device("cuda"))
    assert not activations.pinned("cpu") and not activations.pinned(torch.device("cpu"))
    calls = []

    class Pinned:  # stands in for a page-locked tensor: records the copy it is asked for
        def to(self, device, non_blocking=False):
            calls.append((str(device), non_blocking))
            return "on the gpu"

    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: calls.append("pin") or Pinned())
    assert activations.to_device(torch.zeros(3), torch.device("cuda")) == "on the gpu"
    assert calls == ["pin", ("cuda", True)]  # pinned, then an asynchronous copy
    calls.clear()
    t = torch.zeros(3)
    assert activations.to_device(t, "cpu") is t and not calls  # CPU: no pinning, no copy


def test_cpu_batches_never_pin(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    write_store(tmp_path / "acts", {"config": {}, "checkpoint": "x", "checkpoint_sha256": "0", "net_config": {},
                                    "splits": {"train": [0, 30], "val": [30, 35], "test": [35, 40]},
                                    "sources": ["self"], "n_games": n, "seed": 0},
                {"acts_resid.0": rng.normal(size=(n, 8)).astype(np.float16), "boards": np.zeros((n, 36), np.int8),
                 "mover": np.ones(n, np.int8), "ply": np.zeros(n, np.int16), "legal": np.zeros((n, 37), bool),
                 "game_id": np.arange(n, dtype=np.int32), "source": np.zeros(n, np.int8),
                 "policy": np.zeros((n, 37), np.float16), "value": np.zeros(n, np.float32), "move": np.zeros(n, np.int8)})
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pytest.fail("pinned memory on a CPU run"))
    store = activations.ActivationStore(tmp_path / "acts")
    batches = store.batches("resid.0", "train", 8, device="cpu")
    first = [next(batches) for _ in range(5)]
    assert all(b.dtype == torch.float32 and b.shape == (8, 8) and b.device.type == "cpu" for b in first)


def test_autocast_bf16_only_on_cuda():
    assert autocast_dtype("cuda") == torch.bfloat16 and autocast_dtype("cuda:0", "bf16") == torch.bfloat16
    assert autocast_dtype("cuda", "fp32") is None and autocast_dtype("cpu") is None
    assert autocast_dtype("cpu", "bf16") is None  # CPU inference stays fp32 whatever is asked
    assert resolve_precision("auto", "cuda") == "bf16"  # SAE training: bf16 on CUDA too
    with pytest.raises(ValueError, match="inference precision must be auto, bf16 or fp32, got 'fp8'"):
        NetEvaluator(AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)), "cpu", precision="fp8")
    with autocast("cpu"):  # a no-op on CPU: no autocast region
        assert not torch.is_autocast_enabled("cpu")


def test_cpu_evaluator_is_the_plain_fp32_network():
    """On CPU the evaluator runs the network exactly as before (no autocast): bit-identical search."""
    from othello import game
    torch.manual_seed(0)
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)).eval()
    me, opp = game.initial(3)
    priors, values = NetEvaluator(net)(me, opp)
    with torch.inference_mode():
        logits, v = net(torch.from_numpy(game.to_planes(me, opp)))
    assert priors.dtype == np.float32 and np.array_equal(priors, torch.softmax(logits, -1).numpy())
