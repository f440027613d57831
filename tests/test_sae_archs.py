"""SAE architectures: interface, TopK sparsity, planted-dictionary recovery, resampling, FVU, no hidden loss state."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from sae.activations import ActivationStore, write_store
from sae.archs import ARCHS, SAEConfig, make_sae
from sae.config import SAETrainConfig
from sae.metrics import evaluate
from sae.resample import resample_dead
from sae.train import Sweep
from tests.synthetic import planted_data, store_fields


def planted_store(path, n=12000, d=32):
    x, D = planted_data(n, d=d, n_dirs=64, active=3, seed=0)
    arrays = {"acts_resid.2": x.numpy(), "boards": np.zeros((n, 36)), "mover": np.ones(n), "ply": np.zeros(n),
              "legal": np.zeros((n, 37), bool), "game_id": np.arange(n), "source": np.zeros(n),
              "policy": np.zeros((n, 37)), "value": np.zeros(n)}
    write_store(path, store_fields(n, n, {"train": [0, n - 2000], "val": [n - 2000, n - 1000], "test": [n - 1000, n]}),
                arrays)
    return ActivationStore(path), D


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_is_decode_of_encode(arch):
    torch.manual_seed(0)
    sae = make_sae(SAEConfig(arch=arch, d_in=16, d_sae=64, k=4), scale=2.0, b_dec=torch.randn(16)).eval()
    x = torch.randn(32, 16)
    x_hat, f = sae(x)
    aux = sae.aux_losses(x, x_hat, sae.parts(x))  # auxiliary loss terms live with the objective, not forward
    assert f.shape == (32, 64) and x_hat.shape == (32, 16) and isinstance(aux, dict)
    assert torch.allclose(x_hat, sae.decode(sae.encode(x)), atol=1e-5)
    assert torch.allclose(f, sae.encode(x))
    sae.train()
    total, logs, f_train = sae.loss(x, 0.5)
    total.backward()
    assert torch.isfinite(total) and "mse" in logs and sae.W_dec.grad is not None


def test_topk_exactly_k_active_and_batchtopk_budget():
    sae = make_sae(SAEConfig(arch="topk", d_in=16, d_sae=64, k=5))
    with torch.no_grad():
        sae.b_enc.fill_(10.0)  # every pre-activation positive: ReLU cannot drop any of the k
    f = sae.encode(torch.randn(100, 16))
    assert ((f > 0).sum(-1) == 5).all()
    btk = make_sae(SAEConfig(arch="batchtopk", d_in=16, d_sae=64, k=5)).train()
    with torch.no_grad():
        btk.b_enc.fill_(10.0)
    _, f = btk(torch.randn(100, 16))
    assert int((f > 0).sum()) == 5 * 100 and btk.threshold > 0  # k*B over the batch, threshold estimated


def test_planted_dictionary_is_recovered(tmp_path):
    store, D = planted_store(tmp_path / "planted")
    cfgs = [SAEConfig("topk", 32, 128, k=3, lr=3e-3), SAEConfig("relu", 32, 128, l1=1.0, lr=3e-3),
            SAEConfig("jumprelu", 32, 128, l1=0.5, lr=3e-3)]
    section = SAETrainConfig(out=str(tmp_path / "out"), steps=600, batch_size=256, dead_tokens=20000, ckpt_every=0)
    members = Sweep(store, cfgs, section, "resid.2", 0, "cpu").run(progress=False)
    for m in members:
        W = torch.nn.functional.normalize(m.sae.W_dec.detach(), dim=1)
        max_cos = (D @ W.T).max(1).values
        assert (max_cos > 0.9).float().mean() > 0.8, (m.name, max_cos)


def test_resampling_revives_dead_features():
    torch.manual_seed(0)
    sae = make_sae(SAEConfig(arch="relu", d_in=16, d_sae=32))
    opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
    x = torch.randn(256, 16)
    dead = torch.zeros(32, dtype=torch.bool)
    dead[:8] = True
    with torch.no_grad():
        sae.b_enc[dead] = -1e3  # these features can never fire
    sae.loss(x)[0].backward()
    opt.step()
    assert (sae.encode(x)[:, dead] == 0).all()
    loss_B = sae.sq_err(x, sae(x)[0]).detach()
    assert resample_dead(sae, opt, dead, x, loss_B, torch.Generator().manual_seed(0)) == 8
    assert ((sae.encode(x)[:, dead] > 0).sum(0) > 0).all()  # every resampled feature fires again
    assert torch.allclose(sae.W_dec[dead].norm(dim=1), torch.ones(8))
    st = opt.state[sae.W_enc]
    assert (st["exp_avg"][:, dead] == 0).all() and (st["exp_avg_sq"][:, dead] == 0).all()
    assert (opt.state[sae.b_enc]["exp_avg"][~dead] != 0).any()  # other features keep their moments


class _Affine(torch.nn.Module):
    """A stand-in SAE with x_hat = 0.8 x + 1 and features relu(x) (plus one never-firing feature)."""

    def __init__(self, d):
        super().__init__()
        self.b_dec = torch.zeros(d)

    def encode(self, x):
        return torch.cat([x.clamp_min(0), torch.zeros(len(x), 1)], 1)

    def decode(self, f):
        return 0.8 * f[:, :-1] + 1.0


def test_fvu_l0_dead_match_hand_computation():
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(1000, 8, generator=g) * 3 + 5).clamp_min(0)  # large mean: FVU is about the mean, not zero
    m = evaluate(_Affine(8), x.numpy(), batch_size=128)  # several batches: totals, not one batch
    xn = x.double().numpy()
    err = xn - (0.8 * xn + 1.0)
    assert m["fvu"] == pytest.approx((err ** 2).sum() / ((xn - xn.mean(0)) ** 2).sum(), rel=1e-5)
    assert m["mse"] == pytest.approx((err ** 2).mean(), rel=1e-5)
    assert m["nmse_zero"] == pytest.approx((err ** 2).sum() / (xn ** 2).sum(), rel=1e-5)
    assert m["l0"] == pytest.approx((xn > 0).sum(1).mean(), rel=1e-9)
    assert m["dead_frac"] == pytest.approx(1 / 9) and m["n_eval"] == 1000
    assert sum(m["density_hist"]["counts"]) == 8


def gated_loss_by_hand(sae, x):
    """The gated objective written out from its definition (sae/archs.py GatedSAE), step_frac = 1."""
    proj = (x - sae.b_dec) @ sae.W_enc
    gate, mag = proj + sae.b_gate, proj * torch.exp(sae.r_mag) + sae.b_mag
    f = (gate > 0) * torch.relu(mag)
    mse = ((f @ sae.W_dec + sae.b_dec - x) ** 2).sum(-1).mean()
    l1 = (torch.relu(gate) @ sae.W_dec.norm(dim=1)).mean()
    aux = ((torch.relu(gate) @ sae.W_dec + sae.b_dec - x) ** 2).sum(-1).mean()
    return mse + sae.cfg.l1 * l1 + aux


@pytest.mark.parametrize("arch", ARCHS)
def test_loss_has_no_hidden_state_from_forward(arch):
    """loss() works in eval mode and after forward passes on other batches (gated kept _gate between them)."""
    torch.manual_seed(0)
    cfg = SAEConfig(arch=arch, d_in=16, d_sae=64, k=4)
    sae = make_sae(cfg, b_dec=torch.randn(16))
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, other = torch.randn(32, 16), torch.randn(8, 16)
    assert torch.isfinite(sae.eval().loss(x)[0])  # eval mode, no forward before
    sae.train()
    sae(other)
    sae(other * 2)  # two forwards on other batches
    for training in (False, True):
        sae.train(training)
        ref = make_sae(cfg).train(training)  # same parameters and buffers, no forward history
        ref.load_state_dict(sae.state_dict())
        assert torch.allclose(sae.loss(x)[0], ref.loss(x)[0]), (arch, training)
    if arch == "gated":
        for training in (False, True):
            total = sae.train(training).loss(x)[0]
            assert torch.allclose(total, gated_loss_by_hand(sae, x), rtol=1e-5)
        total.backward()
        assert sae.b_gate.grad is not None
