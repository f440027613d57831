import pytest
import torch

from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet, value_from_logits


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return AlphaZeroNet(NetConfig(d_model=32, n_blocks=4, d_hidden=64)).eval()


def boards(n=8):
    torch.manual_seed(1)
    return torch.randint(-1, 2, (n, 36)).float()


def test_shapes_and_value_range(net):
    p, v = net(boards())
    assert p.shape == (8, 37) and v.shape == (8, 3)
    val = value_from_logits(v)
    assert ((val >= -1) & (val <= 1)).all()


def test_sites_and_cache(net):
    assert net.sites == ["embed", "resid.0", "resid.1", "resid.2", "resid.3"]
    p, v, cache = net.run_with_cache(boards(), ["embed", "resid.2"])
    assert set(cache) == {"embed", "resid.2"} and cache["resid.2"].shape == (8, 32)
    p0, v0 = net(boards())
    assert torch.allclose(p, p0) and torch.allclose(v, v0)
    with pytest.raises(ValueError, match="unknown site"):
        net.run_with_cache(boards(), ["layer2"])


def test_run_from_matches_forward(net):
    p0, v0, cache = net.run_with_cache(boards(), net.sites)
    for site in net.sites:
        p, v = net.run_from(site, cache[site])
        assert torch.allclose(p, p0, atol=1e-5) and torch.allclose(v, v0, atol=1e-5)


def test_splice_replaces_activation(net):
    x = boards()
    p0, _ = net(x)
    p_same, _ = net(x, hooks={"resid.2": lambda a: a.clone()})
    assert torch.allclose(p_same, p0)
    zero = lambda a: torch.zeros_like(a)
    p_zero, v_zero = net(x, hooks={"resid.2": zero})
    assert not torch.allclose(p_zero, p0)
    p_ref, v_ref = net.run_from("resid.2", torch.zeros(8, 32))
    assert torch.allclose(p_zero, p_ref, atol=1e-6) and torch.allclose(v_zero, v_ref, atol=1e-6)
    # a hook that returns None only observes
    seen = []
    p_obs, _ = net(x, hooks={"resid.1": lambda a: seen.append(a.shape)})
    assert seen == [(8, 32)] and torch.allclose(p_obs, p0)
