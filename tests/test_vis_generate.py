"""The viewer's data generator on tiny random data: schema, values checked independently."""
import json
import re
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from alphazero.network import NetConfig
from othello import game
from tests import demo_data
from vis import generate_vis_data, viewer_data

TINY_NET = NetConfig(d_model=32, n_blocks=4, d_hidden=64)
SAES = (("relu", 64), ("topk", 96), ("jumprelu", 64), ("gated", 48))


def inputs(paths):
    """The generator's flags for the demo inputs (the store's network, the sweep, the store)."""
    return ["--checkpoint", str(paths["checkpoint"]), "--sae.out", str(paths["sae_dir"]),
            "--collect.out", str(paths["acts"])]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("vis")
    # concept statistics (optional in the metrics) and a NaN metric, as an evaluation may write them
    labels = [None] * 64
    labels[3] = {"property": "a1 mine", "f1": 0.9}
    extra = {"relu_64": {"mse": float("nan"), "concepts": {"coverage": {"all": 0.5, "mine": 0.625},
                                                          "reconstruction": {"square_acc": 0.75}, "features": labels}}}
    paths = demo_data.make_demo(root / "in", n_games=24, saes=SAES, net_cfg=TINY_NET, extra_metrics=extra)
    out = root / "data"
    rc = generate_vis_data.main(inputs(paths) + ["--vis.out", str(out), "--vis.top", "6", "--vis.shard-size", "16",
                                                 "--device", "cpu"])
    assert rc == 0
    index = json.loads((out / "index.json").read_text())
    return {"out": out, "index": index, **paths}


def load(generated, sae, name):
    return json.loads((generated["out"] / sae["dir"] / name).read_text())


def details(generated, sae):
    feats = []
    for k in range(sae["shards"]):
        shard = load(generated, sae, f"shards/{k}.json")
        assert shard["first"] == k * sae["shard_size"]
        feats += shard["features"]
    return feats


def board_table(generated):
    index = generated["index"]
    raw = b"".join((generated["out"] / "boards" / f"{k}.bin").read_bytes() for k in range(index["boards"]["chunks"]))
    rec = np.frombuffer(raw, np.uint8).reshape(-1, viewer_data.RECORD_BYTES)
    assert len(rec) == index["boards"]["count"]
    return rec


def split_rows(generated):
    manifest = json.loads((generated["acts"] / "manifest.json").read_text())
    a, b = manifest["splits"]["test"]
    return manifest, slice(a, b)


def encode_reference(folder, x):
    """The SAELens encoders written out independently of vis/sources.py."""
    cfg = json.loads((folder / "cfg.json").read_text())
    w = load_file(folder / "sae_weights.safetensors")
    xc = x - w["b_dec"]
    arch = cfg["architecture"]
    if arch == "gated":
        gate = xc @ w["W_enc"] + w["b_gate"] > 0
        return gate * np.maximum(xc @ (w["W_enc"] * np.exp(w["r_mag"])) + w["b_mag"], 0)
    pre = xc @ w["W_enc"] + w["b_enc"]
    if arch == "jumprelu":
        return pre * (pre > w["threshold"])
    f = np.maximum(pre, 0)
    if arch == "topk":
        kth = -np.sort(-f, axis=1)[:, cfg["k"] - 1:cfg["k"]]
        f = np.where(f >= kth, f, 0)
    return f


def test_index_schema_and_provenance(generated):
    index = generated["index"]
    manifest, _ = split_rows(generated)
    assert index["format"] == viewer_data.FORMAT
    assert index["config"]["format"] == "othello-sae-config/1" and index["config"]["vis"]["top"] == 6
    assert index["generated"] and index["checkpoint_sha256"] == manifest["checkpoint_sha256"]
    assert len(index["store"]["fingerprint"]) == 64 and index["store"]["split"] == "test"
    assert index["store"]["positions"] == manifest["splits"]["test"][1] - manifest["splits"]["test"][0]
    assert index["warnings"] == [] and index["skipped"] == []
    assert sorted(s["architecture"] for s in index["saes"]) == sorted(a for a, _ in SAES)
    runs = {r["name"]: r for r in generated["runs"]}
    for s in index["saes"]:
        assert s["site"] == "resid.2" and s["d_in"] == TINY_NET.d_model
        assert s["shards"] == -(-s["d_sae"] // 16)
        # SAE metrics are the ones recorded at training time (sae.export.load_metrics), not recomputed
        assert 0 <= s["metrics"]["dead_frac"] <= 1 and s["metrics"]["l0"] > 0 and s["metrics"]["fvu"] > 0
        assert s["metrics"]["fvu"] == pytest.approx(runs[s["name"]]["metrics"]["fvu"])
        assert "eval" not in s
        # magnitudes: counts of the flags, the shared scales, and the definitions the page states
        summ = load(generated, s, "features.json")
        assert s["flags"] == {"dead": sum(summ["dead"]), "negligible": sum(summ["negligible"]),
                              "near_dead": sum(summ["dead"]) + sum(summ["negligible"]), "one_hit": sum(summ["one_hit"])}
        assert s["stream_rms"] > 0 and s["effect_scale"] > 0
        assert set(s["definitions"]) == {"dead", "negligible", "near_dead", "one_hit", "effect_scale"}
        assert f"{index['store']['positions']} positions of the test split" in s["definitions"]["dead"]
    names = {r["name"] for r in index["scaling"]}
    assert names == {s["name"] for s in index["saes"]}
    assert all(r["d_sae"] and r["l0"] and r["fvu"] for r in index["scaling"])
    topk = next(r for r in index["scaling"] if r["architecture"] == "topk")
    assert (topk["sparsity_key"], topk["sparsity"]) == ("k", 8)


def test_nan_metrics_are_carried_and_old_concept_labels_are_not_shown(generated):
    """The viewer's labels come from the sweep's concepts.json only (tests/test_vis_labels.py); sae/concepts.py's
    per-feature labels in the metrics are not shown (one source of labels)."""
    s = next(s for s in generated["index"]["saes"] if s["name"] == "relu_64")
    assert "concepts" not in s["metrics"] and s["labels"] is None and s["metrics"].get("mse") is None
    assert all("concepts" not in f for f in details(generated, s))


def test_features_summary_and_shards_cover_all(generated):
    n_pos = generated["index"]["store"]["positions"]
    for s in generated["index"]["saes"]:
        summ = load(generated, s, "features.json")
        assert summ["format"] == viewer_data.FORMAT
        d = s["d_sae"]
        assert set(summ) == {"format", "n", *viewer_data.SUMMARY_ARRAYS}
        assert summ["n"] == d and all(len(summ[k]) == d for k in viewer_data.SUMMARY_ARRAYS)
        feats = details(generated, s)
        assert [f["id"] for f in feats] == list(range(d))  # every feature exactly once, in order
        for f in feats:
            i = f["id"]
            assert summ["dead"][i] == (f["count"] == 0) and summ["count"][i] == f["count"]
            assert summ["one_hit"][i] == (f["count"] == 1)
            assert summ["density"][i] == pytest.approx(f["count"] / n_pos, rel=1e-2)
            if f["count"]:
                assert sum(f["hist"]["counts"]) == f["count"] and len(f["hist"]["counts"]) == 24
                assert f["hist"]["lo"] <= f["hist"]["hi"] == pytest.approx(summ["max"][i], rel=1e-2)
                assert summ["mean"][i] <= summ["max"][i] * 1.001


def test_top_examples_are_the_largest_activations(generated):
    manifest, rows = split_rows(generated)
    x = np.load(generated["acts"] / "acts_resid.2.npy")[rows].astype(np.float32)
    split_boards = np.load(generated["acts"] / "boards.npy")[rows]
    table = board_table(generated)
    table_boards = np.stack([viewer_data.unpack_board(r)["board"] for r in table])
    for s in generated["index"]["saes"]:
        f_ref = encode_reference(generated["sae_dir"] / s["name"], x)
        feats = details(generated, s)
        # the per-feature firing counts add up to the reference encoder's L0 on the split
        assert sum(f["count"] for f in feats) / len(x) == pytest.approx((f_ref > 0).sum(1).mean(), rel=1e-3)
        for feat in feats:
            i = feat["id"]
            acts = f_ref[:, i]
            assert feat["count"] == int((acts > 0).sum())
            if not feat["count"]:
                assert feat["top"] == [] and feat["effect"] is None
                continue
            top_vals = [v for _, v in feat["top"]]
            assert top_vals == sorted(top_vals, reverse=True)
            assert top_vals[0] == pytest.approx(acts.max(), rel=1e-3)
            expected = np.sort(acts)[::-1][:len(top_vals)]
            np.testing.assert_allclose(top_vals, expected, rtol=1e-3)
            # the stored board of the top example is a board where the feature reaches that activation
            b = table_boards[feat["top"][0][0]]
            where = np.flatnonzero((split_boards == b).all(1))
            assert len(where) >= 1 and acts[where].max() == pytest.approx(top_vals[0], rel=1e-3)
            for band in feat["bands"]:
                assert all(band["lo"] * 0.999 <= v <= band["hi"] * 1.001 for _, v in band["ex"])


def test_boards_decode_to_legal_looking_positions(generated):
    table = board_table(generated)
    assert len(table) > 0
    for rec in table:
        b = viewer_data.unpack_board(rec)
        board = b["board"]
        assert 4 <= int((board != 0).sum()) <= 36 and set(np.unique(board)) <= {-1, 0, 1}
        me, opp = game.from_planes(board[None])
        np.testing.assert_array_equal(b["legal"], game.legal_mask(me, opp)[0])
        assert b["legal"][b["move"]], "the network's move must be legal"
        assert 0 <= b["prob"] <= 1 and -1 <= b["value"] <= 1 and b["mover"] in (1, -1)


def test_policy_effect_heatmap_and_similar(generated):
    for s in generated["index"]["saes"]:
        summ = load(generated, s, "features.json")
        w_dec = load_file(generated["sae_dir"] / s["name"] / "sae_weights.safetensors")["W_dec"]
        unit = w_dec / np.linalg.norm(w_dec, axis=1, keepdims=True)
        for feat in details(generated, s):
            e = feat["effect"]
            if e is not None:
                assert len(e["logit"]) == 37  # 36 squares + pass
                assert any(v is not None for v in e["logit"]) and np.isfinite(e["value"])
                assert e["n"] == min(32, feat["count"]) and e["scale"] == pytest.approx(summ["mean"][feat["id"]], rel=1e-2)
                squares = [(-np.inf if v is None else v) for v in e["logit"]]
                assert summ["top_move"][feat["id"]] == int(np.argmax(squares))
            sim = feat["similar"]
            assert len(sim) == 8 and feat["id"] not in [j for j, _ in sim]
            cos = unit @ unit[feat["id"]]
            cos[feat["id"]] = -2
            assert sim[0][0] == int(np.argmax(cos)) and sim[0][1] == pytest.approx(cos.max(), abs=2e-3)
            assert [c for _, c in sim] == sorted((c for _, c in sim), reverse=True)


def test_policy_effect_matches_a_direct_run_from(generated):
    """Recompute one feature's effect with the network directly (all firing positions, n <= 32)."""
    import torch
    from alphazero.checkpoint import load_network
    from alphazero.network import value_from_logits
    s = next(s for s in generated["index"]["saes"] if s["architecture"] == "relu")
    _, rows = split_rows(generated)
    x = np.load(generated["acts"] / "acts_resid.2.npy")[rows].astype(np.float32)
    legal = np.load(generated["acts"] / "legal.npy")[rows]
    acts = encode_reference(generated["sae_dir"] / s["name"], x)
    feat = next(f for f in details(generated, s) if 0 < f["count"] <= 32)
    fire = np.flatnonzero(acts[:, feat["id"]] > 0)
    w_dec = load_file(generated["sae_dir"] / s["name"] / "sae_weights.safetensors")["W_dec"][feat["id"]]
    net = load_network(generated["checkpoint"])
    with torch.no_grad():
        x0 = torch.from_numpy(x[fire])
        l0, v0 = net.run_from("resid.2", x0)
        l1, v1 = net.run_from("resid.2", x0 + float(acts[fire, feat["id"]].mean()) * torch.from_numpy(w_dec))
    d = (l1 - l0).numpy()
    m = legal[fire].astype(np.float64)
    centred = d - (d * m).sum(1, keepdims=True) / m.sum(1, keepdims=True)
    with np.errstate(invalid="ignore"):
        expect = (centred * m).sum(0) / m.sum(0)
    got = np.array([np.nan if v is None else v for v in feat["effect"]["logit"]])
    np.testing.assert_allclose(got, expect, rtol=2e-2, atol=2e-3)
    dv = (value_from_logits(v1) - value_from_logits(v0)).numpy()
    assert feat["effect"]["value"] == pytest.approx(float(dv.mean()), abs=2e-3)
    # the 95% intervals the page draws come from these standard errors of the means
    n_legal = m.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(((centred - expect) ** 2 * m).sum(0) / (n_legal - 1))
        se = np.where(n_legal > 1, sd / np.sqrt(n_legal), np.nan)
    got_se = np.array([np.nan if v is None else v for v in feat["effect"]["logit_se"]])
    np.testing.assert_allclose(got_se, se, rtol=6e-2, atol=1e-4)  # 2 significant digits
    if len(fire) > 1:
        assert feat["effect"]["value_se"] == pytest.approx(float(dv.std(ddof=1) / np.sqrt(len(fire))), rel=6e-2, abs=1e-4)


def test_magnitude_flags_and_shared_scale(generated):
    """negligible / one-hit / the shared effect scale, recomputed from the weights and the split."""
    from vis import magnitudes
    _, rows = split_rows(generated)
    x = np.load(generated["acts"] / "acts_resid.2.npy")[rows].astype(np.float64)
    rms = np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean())
    for s in generated["index"]["saes"]:
        assert s["stream_rms"] == pytest.approx(rms, rel=1e-4)
        summ = load(generated, s, "features.json")
        w_dec = load_file(generated["sae_dir"] / s["name"] / "sae_weights.safetensors")["W_dec"]
        reach = np.array(summ["max"]) * np.linalg.norm(w_dec, axis=1)
        np.testing.assert_allclose(summ["reach"], reach, rtol=1e-2)  # both rounded to 3 digits
        alive = np.array(summ["count"]) > 0
        expect = alive & (reach < magnitudes.NEGLIGIBLE * rms)
        assert summ["negligible"] == expect.astype(int).tolist()
        peaks = []
        for feat in details(generated, s):
            i, e = feat["id"], feat["effect"]
            if e is None:
                assert summ["effect_lo"][i] is None and summ["effect_hi"][i] is None
                continue
            vals = [v for v in e["logit"] if v is not None]
            assert summ["effect_lo"][i] == pytest.approx(min(vals), rel=1e-2, abs=1e-6)
            assert summ["effect_hi"][i] == pytest.approx(max(vals), rel=1e-2, abs=1e-6)
            peaks.append(max(abs(v) for v in vals))
        assert s["effect_scale"] == pytest.approx(np.quantile(peaks, magnitudes.EFFECT_QUANTILE), rel=2e-2)


def test_negligible_flag_catches_a_tiny_feature():
    """A feature whose largest contribution is under NEGLIGIBLE of the stream's size is flagged, however often it fires."""
    from vis import magnitudes
    W = np.eye(3, 4) * np.array([[1.0], [2.0], [1.0]])
    flags = magnitudes.feature_flags(np.array([500, 1, 0]), np.array([0.004, 0.4, 0.0]), W, rms=1.0)
    assert flags["negligible"].tolist() == [1, 0, 0]  # 0.004 < 0.01; 0.4 x 2 is not; a dead one is dead, not negligible
    assert flags["one_hit"].tolist() == [0, 1, 0]


def test_check_reports_stale_data(generated, capsys):
    common = inputs(generated) + ["--vis.out", str(generated["out"])]
    assert generate_vis_data.main(common + ["--vis.check"]) == 0
    assert "up to date" in capsys.readouterr().out
    runs = generated["runs"]
    extra = demo_data.make_sae(generated["sae_dir"], "zz_new", generated["store"], 16)
    try:
        demo_data.write_report(generated["sae_dir"], generated["store"], runs + [extra])
        assert generate_vis_data.main(common + ["--vis.check"]) == 1
        assert "zz_new is new" in capsys.readouterr().out
    finally:
        demo_data.write_report(generated["sae_dir"], generated["store"], runs)
        shutil.rmtree(generated["sae_dir"] / "zz_new")


def test_check_fails_on_missing_inputs(generated, tmp_path):
    """--vis.check against folders that are not there is an error, never 'up to date'."""
    out = ["--vis.out", str(generated["out"]), "--vis.check"]
    with pytest.raises(SystemExit, match="error: no activation store"):
        generate_vis_data.main(out + ["--collect.out", str(tmp_path / "nope"), "--sae.out", str(generated["sae_dir"])])
    with pytest.raises(SystemExit, match="error: .*sweep.json is missing"):
        generate_vis_data.main(out + ["--collect.out", str(generated["acts"]), "--sae.out", str(tmp_path / "nope")])


def test_missing_inputs_give_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="error: no activation store .*collect"):
        generate_vis_data.main(["--collect.out", str(tmp_path / "nope"), "--vis.out", str(tmp_path / "o")])
    assert generate_vis_data.main(["--vis.check", "--vis.out", str(tmp_path / "o")]) == 1


def test_pack_unpack_roundtrip():
    rng = np.random.default_rng(0)
    boards = rng.integers(-1, 2, size=(5, 36)).astype(np.int8)
    legal = rng.random((5, 37)) < 0.3
    legal[:, 0] = True
    policy = rng.random((5, 37)).astype(np.float16)
    rec = viewer_data.pack_boards(boards, legal, np.array([1, -1, 1, -1, 1]), np.arange(5) * 7, policy,
                             np.linspace(-1, 1, 5).astype(np.float32))
    for i in range(5):
        b = viewer_data.unpack_board(rec[i])
        np.testing.assert_array_equal(b["board"], boards[i])
        np.testing.assert_array_equal(b["legal"], legal[i])
        assert b["move"] == int(np.where(legal[i], policy[i].astype(np.float32), -1).argmax())
        assert b["ply"] == i * 7 and b["mover"] == (1 if i % 2 == 0 else -1)
        assert b["value"] == pytest.approx(np.linspace(-1, 1, 5)[i], abs=0.01)


def _runs(r):
    return r["runs"]


@pytest.mark.parametrize("file, change, message", [
    ("sweep.json", lambda r: _runs(r)[0].pop("d_sae"), r"runs\[0\]: key 'd_sae' is missing"),
    ("sweep.json", lambda r: _runs(r)[0].update(k="32"), r"runs\[0\]: 'k' has the wrong type"),
    ("sweep.json", lambda r: _runs(r)[1]["metrics"].pop("fvu"), r"run 'topk_96': metric 'fvu' is None, expected a number"),
    ("sweep.json", lambda r: r.update(eval_split="val"), r"eval_split is 'val'"),
    ("sweep.json", lambda r: r.update(format="othello-sae-scaling/1"), r"has format 'othello-sae-scaling/1'"),
])
def test_malformed_inputs_are_one_line_errors_naming_the_file(generated, tmp_path, file, change, message):
    """The viewer reads each field by its one name, through the readers of sae/; anything else is refused."""
    sweep = shutil.copytree(generated["sae_dir"], tmp_path / "sae")
    data = json.loads((sweep / file).read_text())
    change(data)
    (sweep / file).write_text(json.dumps(data))
    args = inputs(generated) + ["--sae.out", str(sweep), "--vis.out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=message) as e:
        generate_vis_data.main(args)
    assert str(sweep / file) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "o").exists()


def test_unreadable_sweep_report_and_store_name_the_file(generated, tmp_path):
    sweep = shutil.copytree(generated["sae_dir"], tmp_path / "sae")
    (sweep / "sweep.json").write_text('{"format": "othello-sae-sweep-report/1", "runs": [')
    args = inputs(generated) + ["--vis.out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=f"error: {sweep / 'sweep.json'}") as e:
        generate_vis_data.main(args + ["--sae.out", str(sweep)])
    assert "\n" not in str(e.value)
    acts = shutil.copytree(generated["acts"], tmp_path / "acts")
    (acts / "manifest.json").write_text("{not json")
    with pytest.raises(SystemExit, match=f"error: .*{acts / 'manifest.json'}") as e:
        generate_vis_data.main(args + ["--collect.out", str(acts)])
    assert "\n" not in str(e.value) and not (tmp_path / "o").exists()


def _nan_weights(folder):
    from safetensors.numpy import save_file
    w = load_file(folder / "sae_weights.safetensors")
    w["W_dec"][3, 5] = np.nan
    save_file(w, folder / "sae_weights.safetensors")


def _edit_metrics(change):
    def edit(folder):
        data = json.loads((folder / "metrics.json").read_text())
        change(data)
        (folder / "metrics.json").write_text(json.dumps(data))
    return edit


@pytest.mark.parametrize("spoil, message", [
    (lambda f: (f / "metrics.json").write_text('{"format": "othello-sae-metrics/1", '),
     r"relu_64/metrics.json is not a valid SAE metrics file \(JSONDecodeError"),
    (_edit_metrics(lambda m: m.update(d_sae=65)), r"run 'relu_64' has d_sae 64, but .*relu_64/metrics.json says 65"),
    (_edit_metrics(lambda m: m["metrics"].pop("l0")), r"relu_64/metrics.json: metric 'l0' is None"),
    (_nan_weights, r"relu_64/sae_weights.safetensors: tensor 'W_dec' holds 1 NaN/inf value of"),
])
def test_a_bad_sae_is_skipped_and_reported_the_rest_written(generated, tmp_path, capsys, spoil, message):
    """One unreadable SAE (corrupt metrics, NaN weights, ...) is left out with a one-line reason naming the
    file, in stderr, in index.json (the page's banner) and in --vis.check; the other SAEs are written."""
    sweep = shutil.copytree(generated["sae_dir"], tmp_path / "sae")
    spoil(sweep / "relu_64")
    args = inputs(generated) + ["--sae.out", str(sweep), "--vis.out", str(tmp_path / "o"), "--vis.only", "relu_64,gated_48"]
    assert generate_vis_data.main(args) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "relu_64 was skipped" in ln)
    assert re.search(message, line) and str(sweep / "relu_64") in line
    index = json.loads((tmp_path / "o" / "index.json").read_text())
    assert [s["name"] for s in index["saes"]] == ["gated_48"]
    assert [x["name"] for x in index["skipped"]] == ["relu_64"] and re.search(message, index["skipped"][0]["reason"])
    assert any("relu_64 was skipped" in w for w in index["warnings"])
    assert generate_vis_data.main(args + ["--vis.check"]) == 1  # the data does not show the whole sweep
    assert "relu_64 was skipped" in capsys.readouterr().out


def test_every_sae_bad_is_an_error(generated, tmp_path):
    sweep = shutil.copytree(generated["sae_dir"], tmp_path / "sae")
    _nan_weights(sweep / "relu_64")
    args = inputs(generated) + ["--sae.out", str(sweep), "--vis.out", str(tmp_path / "o"), "--vis.only", "relu_64"]
    with pytest.raises(SystemExit, match="every SAE of .* was refused: .*NaN/inf"):
        generate_vis_data.main(args)
    assert not (tmp_path / "o").exists()


def test_page_and_generator_agree_on_the_format():
    """The facts the page mirrors (format, record size, features.json arrays) equal vis/viewer_data.py's."""
    from pathlib import Path
    js = Path(generate_vis_data.__file__).resolve().parent / "js"
    data_js, validate_js = (js / "data.js").read_text(), (js / "validate.js").read_text()
    assert f'export const FORMAT = "{viewer_data.FORMAT}"' in data_js
    assert f"export const RECORD_BYTES = {viewer_data.RECORD_BYTES};" in validate_js
    arrays = re.search(r"export const SUMMARY_ARRAYS = \[([^\]]*)\]", validate_js).group(1)
    assert re.findall(r'"(\w+)"', arrays) == list(viewer_data.SUMMARY_ARRAYS)


def test_readme_command_reads_the_folders_the_pipeline_writes():
    """vis/README's `python vis/generate_vis_data.py` relies on the defaults being pipeline.py's folders."""
    from pathlib import Path
    import config
    cfg = config.Config()
    assert (cfg.collect.out, cfg.sae.out, cfg.vis.out) == ("runs/acts", "runs/sae", "vis/data")
    repo = Path(generate_vis_data.__file__).resolve().parent.parent
    pipeline = (repo / "pipeline.py").read_text()
    assert "build_viewer_data(cfg.sae.out, cfg.collect.out, cfg.vis" in pipeline  # the same config fields
    readme = (repo / "vis" / "README.md").read_text()
    assert "python vis/generate_vis_data.py               # runs/sae (sweep) + runs/acts (store) -> vis/data" in readme


def test_unknown_run_and_wrong_network_are_errors(generated, tmp_path):
    base = inputs(generated) + ["--vis.out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match="has no run named nope"):
        generate_vis_data.main(base + ["--vis.only", "nope"])
    other = tmp_path / "other.pt"
    demo_data.make_checkpoint(other, TINY_NET, seed=1)
    with pytest.raises(SystemExit, match=f"checkpoint {other} is not the network the store .* was collected with"):
        generate_vis_data.main(base + ["--checkpoint", str(other)])
    assert not (tmp_path / "o").exists()


def test_recorded_config_repeats_the_run(generated, tmp_path):
    """index.json records the full config: `--config vis/data/index.json` rebuilds the same data."""
    import config
    cfg = config.load_config(generated["out"] / "index.json")
    assert cfg.vis.top == 6 and cfg.sae.out == str(generated["sae_dir"]) and cfg.checkpoint == str(generated["checkpoint"])
    again = tmp_path / "again"
    assert generate_vis_data.main(["--config", str(generated["out"] / "index.json"), "--vis.out", str(again)]) == 0
    for s in generated["index"]["saes"]:
        assert load(generated, s, "features.json") == json.loads((again / s["dir"] / "features.json").read_text())
        assert load(generated, s, "shards/0.json") == json.loads((again / s["dir"] / "shards/0.json").read_text())


def test_runs_as_a_script(tmp_path):
    """`python vis/generate_vis_data.py` (the README's command) reads the root config, not vis/config.py."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(generate_vis_data.__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "vis/generate_vis_data.py", "--vis.check", "--vis.out", str(tmp_path / "o")],
                       cwd=repo, capture_output=True, text=True)
    assert r.returncode == 1 and "no viewer data at" in r.stdout, r.stderr
