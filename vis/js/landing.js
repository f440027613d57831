// Landing page: every SAE in a grid (architecture x sparsity rows, dictionary-size columns)
// with the metrics recorded at training time, and the sweep's scaling plots drawn from index.scaling.

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

function saeCard(s, split) {
  const dead = metric(s, "dead_frac");
  return el("a", { class: "sae-card", href: `#sae=${encodeURIComponent(s.name)}`, title: `${s.name}\nsite ${s.site}\n` +
      `metrics measured when it was trained, on the held-out ${split} split\n${s.alive} of ${s.d_sae} features fire in the viewer's sample` }, [
    el("div", { class: "sae-name", text: s.name }),
    el("dl", {}, [
      el("dt", { text: "FVU" }), el("dd", { text: fmt(metric(s, "fvu")) }),
      el("dt", { text: "L0" }), el("dd", { text: fmt(metric(s, "l0")) }),
      el("dt", { text: "dead" }), el("dd", { text: pct(dead) }),
    ]),
  ]);
}

function saeGrid(saes, split) {
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
  return el("table", { class: "sae-grid" }, [
    el("thead", {}, el("tr", {}, [el("th", { text: "architecture · sparsity" }),
      ...sizes.map((d) => el("th", { text: `${d} features` }))])),
    el("tbody", {}, keys.map((k) => el("tr", {}, [el("th", { text: k }),
      ...sizes.map((d) => el("td", {}, (rows.get(k).get(d) || []).map((s) => saeCard(s, split))))]))),
  ]);
}

function scalingPlots(rows) {
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
    el("span", { class: "legend-note", text: "Lines join SAEs of one architecture and sparsity setting (right: of one size, labelled). Hover a point for its name." })]),
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

export function renderLanding(root, index) {
  const n = index.saes.length;
  root.replaceChildren(
    el("section", { class: "intro" }, [
      el("h1", { text: "Sparse autoencoder features of the 6×6 Othello AlphaZero network" }),
      el("p", { text: `${n} SAE${n === 1 ? "" : "s"}. FVU, L0 and dead fraction were measured when each SAE was trained, on ` +
        `the held-out ${index.sweep.eval_split} split; the feature pages show ${index.store.positions} positions of the ` +
        `${index.store.split} split (held-out games). Choose one to explore its features.` }),
    ]),
    n ? saeGrid(index.saes, index.sweep.eval_split) : el("p", { class: "empty", text: "No SAEs in this data. Train some, then rerun python vis/generate_vis_data.py." }),
    scalingPlots(index.scaling || []),
  );
}
