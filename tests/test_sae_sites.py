"""Sweeps over several sites in one pass: the same SAEs as one single-site sweep per site, names by site,
resume after an interruption, the CLI over `--site`, the per-site table and figures."""
import pytest
import torch

from alphazero.network import NetConfig
from sae.activations import ActivationStore
from sae.archs import SAEConfig
from sae.config import SAETrainConfig
from sae.sweep_report import MARKDOWN, read_sweep_report
from sae.train import SAETrainingError, Sweep
from tests.synthetic import make_random_store
from tests.test_sae_train import Interrupting, run_cli

TINY = NetConfig(d_model=32, n_blocks=4, d_hidden=64)
SITES = ["embed", "resid.1", "resid.3"]
TC = dict(steps=24, batch_size=64, ckpt_every=10, dead_tokens=500, resample_at=(0.5,), precision="fp32", stats_rows=500)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sites") / "acts"
    make_random_store(path, n_games=60, net_cfg=TINY, seed=1)
    return path


def cfgs():
    return [SAEConfig("relu", 32, 64, l1=2.0), SAEConfig("topk", 32, 48, k=4), SAEConfig("gated", 32, 64, l1=1.0)]


def same_weights(a, b):
    for (n, p), q in zip(a.sae.state_dict().items(), b.sae.state_dict().values()):
        assert torch.equal(p, q), n


def test_batches_are_the_same_rows_at_every_site(store_dir):
    store = ActivationStore(store_dir)
    multi = store.batches(SITES, "train", 50, seed=3, start_step=2)
    singles = {s: store.batches(s, "train", 50, seed=3, start_step=2) for s in SITES}
    for _ in range(40):  # > one block and > one epoch of the train split
        batch = next(multi)
        assert list(batch) == SITES
        for s in SITES:
            assert torch.equal(batch[s], next(singles[s]))


def test_multi_site_sweep_is_the_single_site_sweeps(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    multi = Sweep(store, cfgs(), SAETrainConfig(out=str(tmp_path / "all"), **TC), SITES, 0, "cpu").run(progress=False)
    assert [m.name for m in multi] == [f"{s}_{c.name}" for s in SITES for c in cfgs()]
    assert [m.site for m in multi] == [s for s in SITES for _ in cfgs()]
    for i, site in enumerate(SITES):
        single = Sweep(store, cfgs(), SAETrainConfig(out=str(tmp_path / site), **TC), site, 0, "cpu").run(progress=False)
        assert [m.name for m in single] == [c.name for c in cfgs()]  # one site: the names of before
        for a, b in zip(single, multi[i * 3:(i + 1) * 3]):
            same_weights(a, b)
    # a planted difference: another site's SAE is not this one's
    assert not torch.equal(multi[0].sae.W_dec, multi[3].sae.W_dec)


def test_multi_site_resume(store_dir, tmp_path):
    store = ActivationStore(store_dir)
    ref = Sweep(store, cfgs(), SAETrainConfig(out=str(tmp_path / "ref"), **TC), SITES, 0, "cpu").run(progress=False)
    cut = SAETrainConfig(out=str(tmp_path / "cut"), **TC)
    with pytest.raises(KeyboardInterrupt):
        Sweep(Interrupting(store, stop=15), cfgs(), cut, SITES, 0, "cpu").run(progress=False)
    with pytest.raises(SAETrainingError, match="SAEs or sites"):  # other sites: not this checkpoint
        Sweep(store, cfgs(), cut, SITES[:2], 0, "cpu").run(resume=True, progress=False)
    resumed = Sweep(store, cfgs(), cut, SITES, 0, "cpu").run(resume=True, progress=False)
    for a, b in zip(ref, resumed):
        for (n, p), q in zip(a.sae.state_dict().items(), b.sae.state_dict().values()):
            assert torch.allclose(p, q, atol=1e-6), (a.name, n)


def test_cli_site_list_report_table_and_figures(store_dir, tmp_path):
    out = tmp_path / "sweep"
    run_cli("--collect.out", store_dir, "--sae.out", out, "--site", "embed,3", "--sae.features", 48, "--sae.arch",
            "topk", "--sae.k", 4, "--sae.steps", 10, "--sae.batch-size", 64, "--sae.downstream-rows", 0,
            "--sae.no-concepts", "--sae.bootstrap", 50)
    report = read_sweep_report(out)
    assert [(r["name"], r["site"], r["folder"]) for r in report["runs"]] == [
        ("embed_topk_f48_k4", "embed", "embed_topk_f48_k4"), ("resid.3_topk_f48_k4", "resid.3", "resid.3_topk_f48_k4")]
    for r in report["runs"]:
        assert (out / r["folder"] / "sae_weights.safetensors").is_file()
        lo, hi = r["metrics"]["ci95"]["fvu"]
        assert lo <= r["metrics"]["fvu"] <= hi
    md = (out / MARKDOWN).read_text()
    assert "## embed" in md and "## resid.3" in md and "embed_topk_f48_k4" in md
    for name in ("fvu_vs_l0_embed.svg", "kl_vs_l0_resid.3.svg", "dead_vs_l0_embed.svg", "fvu_by_site.svg"):
        assert (out / name).read_text().startswith("<svg"), name
    assert not (out / "fvu_vs_l0.svg").exists()  # several sites: every figure names its site
