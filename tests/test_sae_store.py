"""Activation store: writer, reader, split-by-game, batch stream, one-line errors."""
import json

import numpy as np
import pytest

from alphazero.network import NetConfig
from sae.activations import FORMAT, ActivationStore, ActivationStoreError, StoreWriter, write_store
from tests.synthetic import make_random_store, store_fields

TINY = NetConfig(d_model=32, n_blocks=4, d_hidden=64)


@pytest.fixture()
def store_dir(tmp_path):
    make_random_store(tmp_path / "acts", n_games=40, net_cfg=TINY, seed=1)
    return tmp_path / "acts"


def one_line_error(fn, *words):
    with pytest.raises(ActivationStoreError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_store_roundtrip_and_split_by_game(store_dir):
    st = ActivationStore(store_dir)
    assert st.d_model == 32 and st.sites == ["embed", "resid.0", "resid.1", "resid.2", "resid.3"]
    gid = st.array("game_id")
    seen = {}
    for split in ("train", "val", "test"):
        a, b = st.split_rows(split)
        assert st.acts("resid.2", split).shape == (b - a, 32)
        for g in np.unique(gid[a:b]):
            assert seen.setdefault(int(g), split) == split, f"game {g} in two splits"
    assert st.array("boards").dtype == np.int8 and st.array("legal").shape[1] == 37
    assert isinstance(st.acts("resid.2", "train"), np.memmap)


def test_batches_cover_epoch_and_resume(store_dir):
    st = ActivationStore(store_dir)
    a, b = st.split_rows("train")
    n, bs = b - a, 16
    it = st.batches("resid.2", "train", bs, seed=3, block_batches=4)
    first = [next(it) for _ in range(n // bs + 5)]
    epoch = np.concatenate([x.numpy() for x in first])[:n]
    ref = np.asarray(st.acts("resid.2", "train"), dtype=np.float32)
    # one epoch = every train row exactly once
    assert sorted(map(bytes, epoch)) == sorted(map(bytes, ref))
    resumed = next(st.batches("resid.2", "train", bs, seed=3, start_step=7, block_batches=4))
    assert np.array_equal(resumed.numpy(), first[7].numpy())
    assert first[0].dtype.is_floating_point and first[0].shape == (bs, 32)


def test_writer_incremental_and_rejects_leaky_splits(tmp_path):
    n = 10
    arrays = {"acts_resid.2": np.random.rand(n, 8).astype(np.float32), "boards": np.zeros((n, 36)),
              "mover": np.ones(n), "ply": np.arange(n), "legal": np.zeros((n, 37), bool),
              "game_id": np.repeat(np.arange(5), 2), "policy": np.zeros((n, 37)), "value": np.zeros(n),
              "source": np.zeros(n, np.int8), "move": np.arange(n) % 37}
    fields = {**store_fields(n, 5, {"train": [0, 6], "val": [6, 8], "test": [8, 10]}, "x.pt"), "checkpoint_sha256": "0" * 64}
    w = StoreWriter(tmp_path / "s", n, ["resid.2"], 8, "float16")
    for i in range(0, n, 4):
        w.write(i, {k: v[i:i + 4] for k, v in arrays.items()})
    m = w.close(fields)
    st = ActivationStore(tmp_path / "s")
    assert m["count"] == n and st.acts("resid.2").dtype == np.float16 and st.array("source").shape == (n,)
    assert st.array("move").dtype == np.int8 and np.array_equal(st.array("move"), arrays["move"])
    assert np.allclose(st.acts("resid.2", "val"), arrays["acts_resid.2"][6:8], atol=1e-3)
    bad = dict(fields, splits={"train": [0, 5], "val": [5, 8], "test": [8, 10]})  # game 2 split in two
    one_line_error(lambda: write_store(tmp_path / "t", bad, arrays), "game 2", "splits")
    assert not (tmp_path / "t").exists()


def test_store_errors_are_one_line(store_dir, tmp_path):
    st = ActivationStore(store_dir)
    one_line_error(lambda: st.acts("resid.2", "train", d_in=512), "d_in=512", "32")
    one_line_error(lambda: st.acts("resid.9", "train"), "resid.9", "not in the store")
    one_line_error(lambda: ActivationStore(tmp_path / "nowhere"), "no activation store")
    one_line_error(lambda: ActivationStore(tmp_path), "manifest.json")

    (store_dir / "acts_resid.1.npy").write_bytes(b"\x93NUMPY garbage")
    one_line_error(lambda: ActivationStore(store_dir), "acts_resid.1.npy", "not a readable .npy")
    np.save(store_dir / "acts_resid.1.npy", np.zeros((3, 32), np.float16))
    one_line_error(lambda: ActivationStore(store_dir), "acts_resid.1.npy", "shape")

    manifest = store_dir / "manifest.json"
    good = manifest.read_text()
    manifest.write_text(json.dumps({**json.loads(good), "format": "something-else/2"}))
    one_line_error(lambda: ActivationStore(store_dir), "format")
    manifest.write_text(good[: len(good) // 2])
    one_line_error(lambda: ActivationStore(store_dir), "not valid JSON")


def test_store_of_another_version_or_incomplete_manifest_is_refused(store_dir):
    manifest = store_dir / "manifest.json"
    good = json.loads(manifest.read_text())
    assert good["format"] == FORMAT and isinstance(good["config"], dict) and good["sources"] == ["random"]
    for old in ("othello-activations/1", "othello-activations/2"):  # /2 lacks the move played: re-collect
        manifest.write_text(json.dumps({**good, "format": old}))
        msg = one_line_error(lambda: ActivationStore(store_dir), str(manifest), old, FORMAT)
        assert "python -m sae.collect" in msg
    manifest.write_text(json.dumps({k: v for k, v in good.items() if k != "config"}))
    one_line_error(lambda: ActivationStore(store_dir), "'config'")
    manifest.write_text(json.dumps(good))
    assert ActivationStore(store_dir).info() == {"path": str(store_dir), "checkpoint_sha256": good["checkpoint_sha256"],
                                                 "sites": good["sites"]}


def test_writer_refuses_arrays_outside_the_format(tmp_path):
    w = StoreWriter(tmp_path / "s", 4, ["resid.2"], 8, "float32")
    one_line_error(lambda: w.write(0, {"extra": np.zeros(4)}), "'extra'", "not an array of the store format")
    one_line_error(lambda: w.write(0, {"acts_resid.9": np.zeros((4, 8))}), "acts_resid.9")
