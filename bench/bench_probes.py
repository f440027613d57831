"""Benchmark: linear-probe ceiling and random-network floor of the game concepts (sae/probes.py).

    python -m bench.bench_probes [--store runs/acts] [--sites all] [--probe.train-rows 20000]
                                 [--probe.method ridge|logistic] [--json out.json] [--record]

On an activation store (default: the pipeline's, resid.2 of the shipped model), for every
concept of othello/concepts.py ("flipped_played": by the move played in the game, the store's `move`;
the search concepts on a capped sample of rows, sae/search_concepts.py): probes at every site of the
store's network and of an untrained network of
the same shape, a probe on the input planes, the best single MLP unit of the block writing each
stored site, and an always-on detector. Prints one markdown table of mean test F1 per concept
group (penalties, thresholds and units chosen on the val split), and the time taken.
`--record` appends it to bench/RESULTS.md with machine, date and command.
"""
import dataclasses
import datetime
import json
import sys
import time
from dataclasses import dataclass

import numpy as np
import tyro

from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet, parse_sites
from bench.common import machine, record
from othello import concepts
from sae.activations import ActivationStore
from sae.probes import ProbeConfig, evaluate_probes, group_means


@dataclass(frozen=True)
class Args:
    store: str = "runs/acts"     # activation store (its checkpoint is the trained network)
    sites: str = "all"           # probe sites: 'all', 'embed', '0,2', 'resid.3' ...
    probe: ProbeConfig = ProbeConfig()
    json: str = ""               # also write the per-column results here
    record: bool = False         # append the table to bench/RESULTS.md


def table(result, sites):
    """Markdown: one row per concept group, mean test F1 per method (trained / untrained per site)."""
    means = group_means(result)
    neurons = sorted({k.split(":")[2] for k in means if k.startswith("neurons:")})
    groups = list(dict.fromkeys(result["group"]))
    kind = {g: concepts.BY_NAME[c].kind for c, g in zip(result["concept"], result["group"])}
    counted = np.asarray(result["counted"])
    head = (["group", "kind", "columns", "always-on", "input planes"] + [f"{s} trained / untrained" for s in sites]
            + [f"best {n} unit trained / untrained" for n in neurons])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups + ["[input]", "[computed]", "[all]"]:
        if g not in means["always-on"]:
            continue
        n = int(sum(counted[i] for i, x in enumerate(result["group"]) if x == g)) if g in groups else \
            int(counted.sum()) if g == "[all]" else int(sum(counted[i] for i, k in enumerate(result["kind"]) if f"[{k}]" == g))
        k = kind.get(g, g.strip("[]") if g != "[all]" else "")
        cells = [g, k if g in groups else "", str(n), f"{means['always-on'][g]:.3f}", f"{means['input'][g]:.3f}"]
        cells += [f"{means[f'trained:{s}'][g]:.3f} / {means[f'untrained:{s}'][g]:.3f}" for s in sites]
        cells += [f"{means[f'neurons:trained:{n}'][g]:.3f} / {means[f'neurons:untrained:{n}'][g]:.3f}" for n in neurons]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = tyro.cli(Args, args=argv, description=__doc__.split("\n\n")[0])
    try:
        store = ActivationStore(args.store)
        all_sites = AlphaZeroNet(NetConfig(**{"aux_heads": False, **store.manifest["net_config"]})).sites
        sites = parse_sites(args.sites, all_sites)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = evaluate_probes(store, args.probe, sites=sites)
    seconds = time.perf_counter() - t0
    result["config"] = {**dataclasses.asdict(args), "probe": dataclasses.asdict(args.probe)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    text = table(result, sites)
    rows = result["rows"]
    p = args.probe
    note = (f"Store `{args.store}` ({store.manifest['checkpoint']}), rows train/val/test "
            f"{rows['train']}/{rows['val']}/{rows['test']} (test = held-out games), probe `{p.method}`, "
            f"solver concepts at <= {p.solve_empties} empties; mean test F1 over the columns with >= "
            f"{p.min_positives} positives in every split; {seconds:.0f} s.")
    print(text + "\n\n" + note)
    if args.record:
        cmd = "python -m bench.bench_probes " + " ".join(sys.argv[1:] if argv is None else argv)
        record(f"### Concept probes: ceiling and random floor ({datetime.date.today()}, issue 12)\n"
               f"{machine()}. `{cmd.strip()}`\n\n{text}\n\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
