// Landing page: every SAE in a grid (architecture x sparsity rows, dictionary-size columns)
// with the metrics recorded at training time, the concept-evaluation headline table and the
// important-but-unexplained features (index.concepts, saes[].labels: from the sweep's concepts.json),
// a link to the science report, and the sweep's scaling plots drawn from index.scaling.

import { colourFor, scatterPlot } from "./charts.js";
import { el, fmt, pct } from "./dom.js";

// An SAE's metrics, as recorded when it was trained (on the held-out split named in index.sweep).
export function metric(sae, key) {
  return sae.metrics[key];
}

function sparsityLabel(s) {
  if (s.k !== null) return `k=${s.k}`;
  return s.l1 !== null ? `L1=${fmt(s.l1)}` : "";
}

function rowKey(s, manySites) {
  return [s.architecture, sparsityLabel(s), manySites ? s.site : ""].filter(Boolean).join(" · ");
}

// One labelled group of numbers on a card: where they were measured, then name/value pairs.
function group(label, title, pairs) {
  return [el("div", { class: "group-label", title, text: label }),
    el("dl", {}, pairs.flatMap(([k, v, tip]) => [el("dt", { text: k, title: tip }), el("dd", { text: v, title: tip })]))];
}

function saeCard(s, index) {
  const split = index.sweep.eval_split, m = s.metrics, ds = m.downstream, match = ds?.match;
  const viewerN = index.store.positions, d = s.d_sae;
  const share = (k) => `${s.flags[k]} (${pct(s.flags[k] / d)})`;
  return el("a", { class: "sae-card", href: `#sae=${encodeURIComponent(s.name)}`, title: `${s.name}\nsite ${s.site}` }, [
    el("div", { class: "sae-name", text: s.name }),
    ...group(`training · ${split}${m.n_eval ? ` · ${fmt(m.n_eval)} pos.` : ""}`, `measured once when the SAE was trained, on ${m.n_eval ? `the first ${m.n_eval}` : "the"} positions of the held-out ${split} split (sae/metrics.py)`, [
      ["FVU", fmt(m.fvu), "fraction of variance unexplained"], ["L0", fmt(m.l0), "mean number of active features per position"],
      ["dead", pct(m.dead_frac), "features that never fire on those positions"]]),
    ...(ds ? group(`spliced · ${split} · ${fmt(ds.n_positions)} pos.`, `the SAE's reconstruction replaces the activation at ${s.site}; the network's outputs compared with the clean network's on ${ds.n_positions} positions of the ${split} split (sae/downstream.py)`, [
      ["policy KL", fmt(ds.kl), "mean KL(clean policy || spliced policy) over legal moves, nats"],
      ["loss recovered", fmt(ds.flr), "1 - KL / KL with the site mean-ablated (1: perfect, 0: no better than the mean)"],
      ["top-1 agree", pct(ds.top1_agree, 3), "positions where both pick the same most likely move"]]) : []),
    ...(match ? group(`match vs clean · ${match.games} games`, `the spliced network against the clean one, both sampling their raw policy at temperature ${match.temperature}, colours alternated; 95% interval`, [
      ["score", `${fmt(match.score, 2)} [${fmt(match.score_ci95[0], 2)}, ${fmt(match.score_ci95[1], 2)}]`, `${match.wins} wins, ${match.draws} draws, ${match.losses} losses; 0.5 = as strong as the clean network`]]) : []),
    ...group(`viewer · ${index.store.split} · ${fmt(viewerN)} pos.`, `counted by the viewer's generator on ${viewerN} positions of the ${index.store.split} split`, [
      ["near-dead", share("near_dead"), `${s.definitions.near_dead}: dead: ${s.definitions.dead}; negligible: ${s.definitions.negligible}`],
      ["one-hit", share("one_hit"), s.definitions.one_hit]]),
    ...(s.labels ? group(`labels · ${index.concepts.headline.split} · ${fmt(index.concepts.headline.rows[index.concepts.headline.split])} pos.`,
      `auto-interpretation (sae/autointerp.py): each alive feature's best rule over the game concepts, fitted on train, chosen on val, scored on these positions`, [
        ["explained", `${s.labels.explained}/${s.labels.alive} (${pct(s.labels.explained_frac)})`, `alive features whose rule reaches test F1 >= ${index.concepts.explained_f1}`],
        ["median F1", fmt(s.labels.median_f1 ?? null), "median test F1 of the alive features' rules"]]) : []),
  ]);
}

function saeGrid(saes, index) {
  const manySites = new Set(saes.map((s) => s.site)).size > 1;
  const sizes = [...new Set(saes.map((s) => s.d_sae))].sort((a, b) => a - b);
  const rows = new Map();
  for (const s of [...saes].sort((a, b) => (a.sparsity ?? 0) - (b.sparsity ?? 0))) {
    const k = rowKey(s, manySites);
    if (!rows.has(k)) rows.set(k, new Map());
    const cell = rows.get(k);
    cell.set(s.d_sae, [...(cell.get(s.d_sae) || []), s]);
  }
  const keys = [...rows.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (sizes.length === 1) { // one dictionary size: a grid of one column would waste the width, so the cards wrap
    return el("div", { class: "sae-flow" }, keys.flatMap((k) => (rows.get(k).get(sizes[0]) || []).map((s) =>
      el("div", {}, [el("div", { class: "flow-label", text: `${k} · ${sizes[0]} features` }), saeCard(s, index)]))));
  }
  return el("table", { class: "sae-grid" }, [
    el("thead", {}, el("tr", {}, [el("th", { text: "architecture · sparsity" }),
      ...sizes.map((d) => el("th", { text: `${d} features` }))])),
    el("tbody", {}, keys.map((k) => el("tr", {}, [el("th", { text: k }),
      ...sizes.map((d) => el("td", {}, (rows.get(k).get(d) || []).map((s) => saeCard(s, index))))]))),
  ]);
}

function scalingPlots(rows, split) {
  const colour = colourFor(rows.map((r) => r.architecture || "?"));
  const sizes = [...new Set(rows.map((r) => r.d_sae).filter(Boolean))].sort((a, b) => a - b);
  const sp = (r) => (r.sparsity_key ? `${r.sparsity_key}=${r.sparsity}` : r.name);
  const size = (d) => (d >= 1024 && d % 1024 === 0 ? `${d / 1024}k` : String(d));
  const pts = (x, y, series, tagged) => rows.map((r) => ({ x: r[x], y: r[y], series: series(r), colourKey: r.architecture || "?",
    label: r.name || "", tag: tagged && r.d_sae ? size(r.d_sae) : null }));
  const byArchSparsity = (r) => `${r.architecture}|${sp(r)}`;
  const archs = [...new Set(rows.map((r) => r.architecture || "?"))].sort();
  return el("section", { class: "plots" }, [
    el("h2", { text: "Scaling" }),
    el("div", { class: "legend" }, [...archs.map((a) => el("span", { class: "legend-item" }, [
      el("span", { class: "dot", style: `background:${colour(a)}` }), a])),
    el("span", { class: "legend-note", text: `Training metrics of every run in the sweep report, on the held-out ${split} split. ` +
      "Lines join SAEs of one architecture and sparsity setting (right: of one size, labelled); points that would overlap are spread sideways. Hover a point for its name and exact values." })]),
    el("div", { class: "plot-row" }, [
      scatterPlot(pts("d_sae", "l0", byArchSparsity), { title: "L0 vs features", xlabel: "features", ylabel: "L0 (active features)",
        xlog: true, ylog: true, xticks: sizes, colour }),
      scatterPlot(pts("d_sae", "fvu", byArchSparsity), { title: "FVU vs features", xlabel: "features",
        ylabel: "FVU", xlog: true, ylog: false, xticks: sizes, colour }),
      scatterPlot(pts("l0", "fvu", (r) => `${r.architecture}|${r.d_sae}`, true), { title: "FVU vs L0",
        xlabel: "L0 (active features)", ylabel: "FVU", xlog: true, ylog: false, colour }),
    ]),
  ]);
}

// Coverage per concept group for every SAE beside its random twin, the probes and always-on
// (sae.science_report.headline: the report's first table, the same numbers).
function headlineTable(c) {
  const h = c.headline, r = h.rows, groups = new Map(h.groups.map((g) => [g.name, g]));
  const head = (col) => {
    const g = groups.get(col);
    return el("th", { text: g ? `${col}${g.learned ? " *" : ""}` : col,
      title: g ? `${g.kind} concepts; ${g.n} columns counted${g.learned ? "; learned: a probe on the trained network beats one on an untrained network" : ""}` : "mean over the counted columns of that kind" });
  };
  return el("section", { class: "headline" }, [
    el("h2", { text: "Concept coverage per group" }),
    el("p", { class: "note", text: `Mean ${h.split}-split F1 of the best single unit per concept column (Karvonen coverage); units and ` +
      `thresholds chosen on val. Rows train / val / ${h.split}: ${fmt(r.train)} / ${fmt(r.val)} / ${fmt(r[h.split])} positions ` +
      `(held-out games). * = learned group. From ${c.file}.` }),
    el("table", {}, [
      el("thead", {}, el("tr", {}, [el("th", { text: "method" }), el("th", { text: "L0" }), ...h.columns.map(head)])),
      el("tbody", {}, h.methods.map((m) => el("tr", { class: `kind-${m.kind}` }, [
        el("td", { text: m.name }), el("td", { text: m.l0 === null || m.l0 === undefined ? "" : fmt(m.l0) }),
        ...h.columns.map((col) => el("td", { text: fmt(m.coverage[col] ?? null) }))]))),
    ]),
  ]);
}

// Per SAE: how many alive features a rule explains, and the important ones no rule explains.
function candidatesList(index) {
  const c = index.concepts;
  return el("section", { class: "candidates" }, [
    el("h2", { text: "Important but unexplained" }),
    el("p", { class: "note", text: `Features whose best rule reaches test F1 < ${c.explained_f1}, ranked by importance: the mean ` +
      `policy KL when the feature is ablated, over up to ${c.importance_rows} ${c.headline.split}-split positions where it fires. ` +
      "Candidate concepts the network found on its own." }),
    ...index.saes.filter((s) => s.labels).flatMap((s) => [
      el("h3", { text: `${s.name}: ${s.labels.explained} of ${s.labels.alive} alive features explained (${pct(s.labels.explained_frac)})` }),
      el("ol", {}, s.labels.candidates.map((x) => el("li", {}, [
        el("a", { href: `#sae=${encodeURIComponent(s.name)}&f=${x.feature}`, text: `#${x.feature}` }),
        ` policy KL ${fmt(x.kl)}, |Δ value| ${fmt(x.value_change, 2)}, fires on ${pct(x.freq_test)}; best rule “${x.text}” (F1 ${fmt(x.f1, 2)})`]))),
    ]),
  ]);
}

function conceptsSection(index) {
  const c = index.concepts;
  if (c.file === null) return el("section", { class: "headline" }, [el("h2", { text: "Concepts" }), el("p", { class: "note labels-note", text: c.note })]);
  return [headlineTable(c), candidatesList(index)];
}

export function renderLanding(root, index) {
  const n = index.saes.length, split = index.sweep.eval_split;
  const skipped = index.skipped || [];
  root.replaceChildren(
    el("section", { class: "intro" }, [
      el("h1", { text: "Sparse autoencoder features of the 6×6 Othello AlphaZero network" }),
      el("p", { text: `${n} SAE${n === 1 ? "" : "s"}. Each number on a card is labelled with where it was measured: ` +
        `training (reconstruction metrics, measured once when the SAE was trained), spliced (the network run with the ` +
        `SAE's reconstruction in place of its activation), the spliced-vs-clean match, and the viewer's own counts; ` +
        `all on held-out games of the ${split} split, sample sizes as shown (pos. = positions). ` +
        `Hover a label or a number for its definition. Choose an SAE to explore its features.` }),
      skipped.length ? el("p", { class: "error", text: `Left out (unreadable inputs): ${skipped.map((x) => `${x.name}: ${x.reason}`).join("; ")}` }) : null,
      index.report ? el("p", {}, el("a", { class: "report-link", href: `data/${index.report}`, text: "Science report of this sweep (tables, plots, candidate concepts with boards)" })) : null,
    ]),
    n ? saeGrid(index.saes, index) : el("p", { class: "empty", text: "No SAEs in this data. Train some, then rerun python vis/generate_vis_data.py." }),
    ...[].concat(conceptsSection(index)),
    scalingPlots(index.scaling || [], split),
  );
}
