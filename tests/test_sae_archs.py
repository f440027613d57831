"""SAE architectures: interface, encoders against plain references, sparse decoder, exact batch top-k, AuxK,
BatchTopK threshold, Matryoshka prefixes, planted-dictionary recovery, resampling, FVU, no hidden loss state."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from sae.activations import ActivationStore, write_store
from sae.archs import (ARCHS, AUXK_COEF, AUXK_K_FRAC, BATCHTOPK_THRESHOLD_EMA, BATCHTOPK_THRESHOLD_START,
                       MATRYOSHKA_PREFIXES, TOPK_FAMILY, SAEConfig, make_sae)
from sae.archs_topk import batch_topk, dense_codes, rows_topk, sparse_decode
from sae.config import SAETrainConfig
from sae.metrics import evaluate
from sae.resample import resample_dead
from sae.train import Sweep
from tests.synthetic import planted_data, store_fields


def planted_store(path, n=12000, d=32):
    x, D = planted_data(n, d=d, n_dirs=64, active=3, seed=0)
    arrays = {"acts_resid.2": x.numpy(), "boards": np.zeros((n, 36)), "mover": np.ones(n), "ply": np.zeros(n),
              "legal": np.zeros((n, 37), bool), "game_id": np.arange(n), "source": np.zeros(n),
              "policy": np.zeros((n, 37)), "value": np.zeros(n), "move": np.zeros(n)}
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
    assert int((f > 0).sum()) == 5 * 100 and btk.threshold < 0  # k*B over the batch; forward() estimates nothing
    btk.loss(torch.randn(100, 16))
    assert btk.threshold > 0  # the training loss does (after its warm-up)


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


# --- every encoder / decoder against a plain reference written out from its definition ---

def reference_codes(sae, x, training):
    """f of each architecture, written directly from the papers (no shared code with sae/archs.py)."""
    W, b, b_dec, arch = sae.W_enc, getattr(sae, "b_enc", None), sae.b_dec, sae.arch
    if arch == "relu":  # April 2024: the encoder reads x itself
        return torch.relu(x @ W + b)
    if arch == "gated":
        proj = (x - b_dec) @ W
        return (proj + sae.b_gate > 0) * torch.relu(proj * torch.exp(sae.r_mag) + sae.b_mag)
    pre = (x - b_dec) @ W + b
    if arch == "jumprelu":
        pre = torch.relu(pre)
        return pre * (pre > sae.threshold)
    score = pre * sae.W_dec.norm(dim=1)  # the TopK family ranks by the contribution pre_i * ||W_dec_i||
    if arch == "topk":
        i = score.topk(sae.cfg.k, dim=-1).indices
        return torch.zeros_like(pre).scatter(-1, i, torch.relu(pre.gather(-1, i)))
    if training:  # batchtopk, matryoshka: the k*B largest scores over the flattened batch
        i = torch.relu(score).flatten().topk(sae.cfg.k * len(x)).indices
        return torch.zeros(pre.numel()).scatter(0, i, torch.relu(pre.flatten()[i])).view_as(pre)
    return pre * (score > sae.threshold)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("arch", ARCHS)
def test_encode_decode_match_plain_reference(arch, training):
    torch.manual_seed(1)
    sae = make_sae(SAEConfig(arch=arch, d_in=16, d_sae=96, k=5), scale=1.5, b_dec=torch.randn(16))
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.2 * torch.randn_like(p))
        if hasattr(sae, "threshold"):
            sae.threshold.copy_(torch.rand_like(sae.threshold) * 0.5 + 0.1)
    sae.train(training)
    x = torch.randn(40, 16) * 2 + 1
    with torch.no_grad():
        f = reference_codes(sae, x, training)
        assert torch.allclose(sae.encode(x), f, atol=1e-5), arch
        assert torch.allclose(sae.decode(f), f @ sae.W_dec + sae.b_dec, atol=1e-5)
        x_hat, _ = sae(x)
        assert torch.allclose(x_hat, f @ sae.W_dec + sae.b_dec, atol=1e-4)
        if arch in TOPK_FAMILY and training:  # the training loss decodes sparsely: same reconstruction
            mse = sae.loss(x, 0.0)[1]["mse"]
            assert torch.allclose(mse, ((f @ sae.W_dec + sae.b_dec - x) ** 2).sum(-1).mean(), rtol=1e-5)


def test_sparse_decode_matches_dense_values_and_gradients():
    torch.manual_seed(0)
    B, F_, D, K = 64, 300, 24, 7
    pre = torch.randn(B, F_)
    W1 = torch.randn(F_, D, requires_grad=True)
    W2 = W1.detach().clone().requires_grad_(True)
    b1 = torch.randn(D, requires_grad=True)
    b2 = b1.detach().clone().requires_grad_(True)
    v1 = pre.clone().requires_grad_(True)
    v2 = pre.clone().requires_grad_(True)
    target = torch.randn(B, D)
    vals, idx = v1.topk(K, dim=-1)
    dense = torch.addmm(b1, torch.zeros(B, F_).scatter(-1, idx, torch.relu(vals)), W1)
    vals2, idx2 = v2.topk(K, dim=-1)
    sparse = sparse_decode(rows_topk(torch.relu(vals2), idx2), W2, b2, B)
    assert torch.allclose(dense, sparse, atol=1e-5)
    ((dense - target) ** 2).sum().backward()
    ((sparse - target) ** 2).sum().backward()
    for g1, g2 in ((W1.grad, W2.grad), (b1.grad, b2.grad), (v1.grad, v2.grad)):
        assert torch.allclose(g1, g2, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", TOPK_FAMILY)
def test_sparse_encoder_backward_matches_dense_autograd(arch, monkeypatch):
    """The TopK family's encoder backward (touching only the selected entries, with_grad) gives the
    gradients plain autograd gives through a dense [B, F] pre-activation matmul, AuxK included."""
    torch.manual_seed(0)
    x = torch.randn(96, 16) * 2 + 0.5
    sae = make_sae(SAEConfig(arch=arch, d_in=16, d_sae=80, k=5), b_dec=torch.randn(16)).train()
    dead = torch.zeros(80, dtype=torch.bool)
    dead[::3] = True
    sae.dead_F.copy_(dead)

    def grads():
        sae.zero_grad()
        total, logs, _ = sae.loss(x, 0.5)
        total.backward()
        assert "auxk" in logs
        return {n: p.grad.clone() for n, p in sae.named_parameters()}

    sparse = grads()

    def dense_values(code, x_in_BD, W_enc_DF, b_enc_F):  # the plain reference: autograd through the dense matmul
        return {**code, "val": (x_in_BD @ W_enc_DF + b_enc_F)[code["row"], code["idx"]]}

    monkeypatch.setattr("sae.archs.with_grad", dense_values)
    dense = grads()
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert sparse[name].abs().sum() > 0, name
        assert torch.allclose(sparse[name], dense[name], atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sample", [65_536, 8])
def test_batch_topk_is_exact(seed, sample, monkeypatch):
    """The sampled-threshold scheme returns exactly the flat top-(k*B), with skewed rows, and also when a
    tiny sample misestimates the threshold (the widening retry) or every entry is a candidate."""
    monkeypatch.setattr("sae.archs_topk.SAMPLE", sample)
    g = torch.Generator().manual_seed(seed)
    B, F_, k = 50, 200, 4
    pre = torch.randn(B, F_, generator=g)
    pre[:3] += 5.0  # three rows hold far more than their share of the batch's largest values
    pre[7, :150] += 8.0
    for n_keep in (k * B, B * F_ // 2, B * F_):
        code, top = batch_topk(pre, n_keep)
        f = dense_codes(code, B, F_)
        v, i = torch.relu(pre).flatten().topk(n_keep)
        assert torch.equal(f, torch.zeros(B * F_).scatter(0, i, v).view(B, F_))
        assert torch.equal(top.sort().values, pre.flatten().topk(n_keep).values.sort().values)
        assert torch.equal(code["row"], code["row"].sort().values)  # entries in row order (the bags)
    assert (dense_codes(batch_topk(pre, k * B)[0], B, F_)[7] > 0).sum() > 100  # row 7 takes most of the budget


def test_batch_topk_widens_when_the_sample_misleads(monkeypatch):
    """Plant the largest values exactly where the threshold sample looks: too few candidates, so the
    threshold must be lowered and the pass redone; the result is still the exact top-n_keep."""
    monkeypatch.setattr("sae.archs_topk.SAMPLE", 64)
    B, F_, n_keep = 40, 100, 300
    pre = torch.randn(B, F_, generator=torch.Generator().manual_seed(1))
    seen = torch.randint(B * F_, (64,), generator=torch.Generator().manual_seed(0))  # batch_topk's sample
    pre.view(-1)[seen] = 100.0 + torch.arange(64.0)
    calls = []
    nonzero = torch.Tensor.nonzero
    monkeypatch.setattr(torch.Tensor, "nonzero", lambda t, *a, **kw: calls.append(1) or nonzero(t, *a, **kw))
    code, top = batch_topk(pre, n_keep)
    assert len(calls) >= 2  # the first threshold left fewer than n_keep candidates
    v, i = torch.relu(pre).flatten().topk(n_keep)
    assert torch.equal(dense_codes(code, B, F_), torch.zeros(B * F_).scatter(0, i, v).view(B, F_))


def test_auxk_normalised_as_reference_and_only_for_dead_latents():
    torch.manual_seed(0)
    sae = make_sae(SAEConfig(arch="topk", d_in=16, d_sae=64, k=4), b_dec=torch.randn(16)).train()
    x = torch.randn(128, 16) * 3
    assert "auxk" not in sae.loss(x)[1]  # nothing dead: no AuxK term
    dead = torch.zeros(64, dtype=torch.bool)
    dead[::4] = True
    sae.dead_F.copy_(dead)
    total, logs, _ = sae.loss(x)
    p = sae.parts(x)
    with torch.no_grad():
        f = p["f"]
        e = x - (f @ sae.W_dec + sae.b_dec)
        k_aux = min(int(16 * AUXK_K_FRAC), int(dead.sum()))
        score = ((x - sae.b_dec) @ sae.W_enc + sae.b_enc) * sae.W_dec.norm(dim=1)
        v, i = score.masked_fill(~dead, float("-inf")).topk(k_aux, dim=-1)
        e_hat = torch.zeros(128, 64).scatter(-1, i, torch.relu(v) / sae.W_dec.norm(dim=1)[i]) @ sae.W_dec
        nmse = ((e - e_hat) ** 2).sum() / ((e - e.mean(0)) ** 2).sum()
        ref = AUXK_COEF * ((x - x.mean(0)) ** 2).sum(-1).mean() * nmse
    assert torch.allclose(logs["auxk"], ref, rtol=1e-4)
    sae.zero_grad()
    sae.aux_losses(x, f @ sae.W_dec + sae.b_dec, p)["auxk"].backward()
    assert (sae.W_dec.grad[~dead] == 0).all() and (sae.W_dec.grad[dead] != 0).any()  # only dead rows learn from it


def test_batchtopk_threshold_waits_for_warmup_then_ema():
    torch.manual_seed(0)
    sae = make_sae(SAEConfig(arch="batchtopk", d_in=16, d_sae=64, k=4)).train()
    x = torch.randn(64, 16)

    def min_selected():
        with torch.no_grad():
            top = sae.parts(x)["top"]
        return float(top[top > 0].min())

    sae.loss(x, BATCHTOPK_THRESHOLD_START / 2)
    assert float(sae.threshold) == -1.0  # no estimate during warm-up
    m = min_selected()
    sae.loss(x, BATCHTOPK_THRESHOLD_START)
    assert float(sae.threshold) == pytest.approx(m)  # the first estimate is the batch's value itself
    with torch.no_grad():
        sae.b_enc.add_(0.5)  # the batch's smallest selected activation moves
    m2 = min_selected()
    sae.loss(x, (1 + BATCHTOPK_THRESHOLD_START) / 2)
    ema = BATCHTOPK_THRESHOLD_EMA
    assert float(sae.threshold) == pytest.approx(ema * m + (1 - ema) * m2, rel=1e-6)
    sae.eval().loss(x, 0.9)
    assert float(sae.threshold) == pytest.approx(ema * m + (1 - ema) * m2, rel=1e-6)  # eval mode: no update


def test_matryoshka_loss_is_mean_of_prefix_losses():
    torch.manual_seed(0)
    cfg = SAEConfig(arch="matryoshka", d_in=16, d_sae=64, k=6)
    sae = make_sae(cfg, b_dec=torch.randn(16)).train()
    assert sae.prefix_ends.tolist() == [4, 8, 16, 32, 64] and MATRYOSHKA_PREFIXES[-1] == 1.0
    x = torch.randn(48, 16) * 2
    total, logs, f = sae.loss(x, 0.0)  # nothing dead: no AuxK
    losses = [((f[:, :n] @ sae.W_dec[:n] + sae.b_dec - x) ** 2).sum(-1).mean() for n in (4, 8, 16, 32, 64)]
    assert torch.allclose(total, torch.stack(losses).mean(), rtol=1e-5)
    assert torch.allclose(logs["mse"], losses[-1], rtol=1e-5)
    total.backward()
    assert sae.W_dec.grad[:4].abs().sum() > 0


def test_jumprelu_l0_target_penalty():
    torch.manual_seed(0)
    sae = make_sae(SAEConfig(arch="jumprelu", d_in=16, d_sae=64, k=8, l1=2.0)).train()
    x = torch.randn(32, 16)
    p = sae.parts(x)
    l0 = (p["pre"] > sae.threshold).float().sum(-1).mean()
    assert torch.allclose(sae.sparsity_loss(p, 1.0), 2.0 * (l0 / 8 - 1) ** 2)
    sae.sparsity_loss(p, 1.0).backward()
    assert sae.threshold.grad is not None and sae.W_enc.grad is None  # L0 gradient only moves the thresholds
    plain = make_sae(SAEConfig(arch="jumprelu", d_in=16, d_sae=64, k=0, l1=2.0))
    assert plain.cfg.name == "jumprelu_f64_l1-2" and sae.cfg.name == "jumprelu_f64_l0-8"
