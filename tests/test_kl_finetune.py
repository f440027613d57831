"""KL fine-tuning (sae/kl_finetune.py): it lowers the spliced policy's KL on held-out games, keeps the
architecture's sparsity, records its provenance, refuses SAEs it cannot honour, and resumes exactly."""
import numpy as np
import pytest
import torch

from alphazero.checkpoint import file_sha256, load_network
from alphazero.network import NetConfig
from sae import kl_finetune
from sae.downstream import splice_metrics
from sae.export import load_metrics, load_sae
from sae.kl_finetune import KLFinetuneConfig, KLFinetuneError, finetune
from tests import demo_data

TINY_NET = NetConfig(d_model=32, n_blocks=4, d_hidden=64)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_data.make_demo(tmp_path_factory.mktemp("klft") / "in", n_games=48,
                               saes=(("topk", 128), ("relu", 64)), net_cfg=TINY_NET)


def held_out_kl(demo, sae):
    store = demo["store"]
    net = load_network(demo["checkpoint"])
    mean = np.asarray(store.acts("resid.2", "test"), np.float64).mean(0)
    return splice_metrics(net, sae, "resid.2", store.array("boards", "test"), store.array("legal", "test"), mean)["kl"]


def test_finetune_lowers_held_out_kl_and_keeps_topk(demo, tmp_path):
    src = demo["sae_dir"] / "topk_128"
    cfg = KLFinetuneConfig(sae=str(src), store=str(demo["acts"]), out=str(tmp_path / "tuned"), steps=80,
                           batch_size=256, lr=1e-3, kl_coef=3.0)
    tuned, out, history = finetune(cfg, progress=False)
    before, after = held_out_kl(demo, load_sae(src)), held_out_kl(demo, load_sae(out))
    assert after < 0.8 * before, (before, after)
    loaded = load_sae(out)
    assert loaded.architecture == "topk" and loaded.k == 8
    assert torch.allclose(loaded.W_dec.norm(dim=1), torch.ones(128), atol=1e-4)  # unit decoder rows kept
    with torch.no_grad():
        f = loaded.encode(torch.from_numpy(np.asarray(demo["store"].acts("resid.2", "test"), np.float32)))
    assert int((f > 0).sum(1).max()) <= 8
    rec = load_metrics(out)["config"]
    assert rec["source_weights_sha256"] == file_sha256(src / "sae_weights.safetensors")
    assert rec["kl_finetune"]["kl_coef"] == 3.0 and history[0]["step"] == 0 and history[-1]["step"] == 80


def test_refuses_a_penalty_sparsity_sae(demo, tmp_path):
    cfg = KLFinetuneConfig(sae=str(demo["sae_dir"] / "relu_64"), store=str(demo["acts"]), out=str(tmp_path / "x"))
    with pytest.raises(KLFinetuneError, match="relu_64.*standard"):
        finetune(cfg, progress=False)
    assert not (tmp_path / "x").exists()


def test_resume_after_a_crash_gives_the_same_sae(demo, tmp_path, monkeypatch):
    base = dict(sae=str(demo["sae_dir"] / "topk_128"), store=str(demo["acts"]), steps=40, batch_size=128,
                ckpt_every=20)
    whole = finetune(KLFinetuneConfig(**base, out=str(tmp_path / "whole")), progress=False)[0]

    def crash(*a, **k):
        raise RuntimeError("killed")
    monkeypatch.setattr(kl_finetune, "export_sae", crash)  # dies after the last step, state saved at step 20
    with pytest.raises(RuntimeError):
        finetune(KLFinetuneConfig(**base, out=str(tmp_path / "part")), progress=False)
    monkeypatch.undo()
    state = tmp_path / ".part.klft.pt"
    assert torch.load(state, weights_only=True)["step"] == 20
    with pytest.raises(KLFinetuneError, match="cannot resume"):  # another config may not continue it
        finetune(KLFinetuneConfig(**{**base, "lr": 1e-3}, out=str(tmp_path / "part"), resume=True), progress=False)
    resumed = finetune(KLFinetuneConfig(**base, out=str(tmp_path / "part"), resume=True), progress=False)[0]
    for name, p in whole.named_parameters():
        assert torch.equal(p, getattr(resumed, name)), name
    assert not state.exists()
