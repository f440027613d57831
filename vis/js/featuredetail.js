// One feature in detail: stats, activation histogram, policy-effect heatmap, similar features,
// its auto-interp label and importance (from the sweep's concepts.json), top boards and quantile-band boards.

import { boardCard, boardLegend } from "./board.js";
import { effectHeatmap, histogram } from "./charts.js";
import { ensureBoards, getBoard, loadFeature, moveName } from "./data.js";
import { el, fmt, pct, signed } from "./dom.js";
import { mapCard } from "./featuremap.js";
import { labHash } from "./lab.js";
import { fromRecord } from "./othello.js";

function boardIds(feat) {
  return [...feat.top, ...feat.bands.flatMap((b) => b.ex)].map(([b]) => b);
}

// Fetch everything one feature needs (its shard and the board chunks it refers to).
export async function fetchFeature(sae, id) {
  const feat = await loadFeature(sae, id);
  await ensureBoards(boardIds(feat));
  return feat;
}

function card(title, body, cls = "") {
  return el("section", { class: `card ${cls}` }, [el("h3", { text: title }), ...[].concat(body)]);
}

function chip(label, value, title) {
  return el("span", { class: "chip", title }, [el("span", { class: "chip-label", text: label }), el("b", { text: value })]);
}

// Boards open in the board lab when clicked (at the SAE's site)
function boardGrid(examples, maxAct, site) {
  return el("div", { class: "boards" }, examples.map(([b, act]) => {
    const rec = getBoard(b), { cells, player } = fromRecord(rec);
    return boardCard(rec, act, maxAct, () => { location.hash = labHash(cells, player, site); });
  }));
}

// The heatmap uses the SAE's shared colour scale, so a feature whose effect is a thousandth of
// another's looks a thousandth as strong; "this feature's scale" redraws it to show its pattern.
function effectCard(feat, sae, summary) {
  const e = feat.effect;
  if (!e) return card("Effect on the policy", el("p", { class: "note", text: "The feature never fires here, so there is no sample to measure its effect on." }));
  const id = feat.id, lo = summary.effect_lo[id], hi = summary.effect_hi[id];
  const slot = el("div", {});
  let shared = sae.effect_scale > 0;
  const toggle = el("button", { class: "scale-toggle", onclick: () => { shared = !shared; draw(); } });
  function draw() {
    slot.replaceChildren(effectHeatmap(e, shared ? sae.effect_scale : 0));
    toggle.textContent = shared ? "use this feature's own scale" : "use the SAE's shared scale";
  }
  draw();
  const vci = e.value_se === null ? "" : ` ± ${fmt(1.96 * e.value_se, 2)}`;
  return card("Effect on the policy", [
    slot,
    el("p", { class: "effect-range" }, [`this feature: ${signed(lo, 2)} … ${signed(hi, 2)} logit`,
      sae.effect_scale > 0 ? el("span", { class: "note", text: ` (shared scale ±${fmt(sae.effect_scale, 2)})`, title: sae.definitions.effect_scale }) : null,
      sae.effect_scale > 0 ? toggle : null]),
    el("p", { class: "value-change" }, ["Δ value (mover's expected score): ", el("b", { text: signed(e.value, 2) + vci }),
      vci ? el("span", { class: "note", text: " (95% interval)" }) : null]),
    el("p", { class: "note", text: `Adding ${fmt(e.scale, 3)} × this feature's decoder vector (its mean firing activation) at ` +
      `${sae.site}, averaged over ${e.n} positions where it fires (± = 1.96 standard errors over them). Cells: change of each ` +
      `move's logit relative to the other legal moves of the position; faded = its 95% interval includes 0; grey = never legal in the sample.` }),
  ], "effect-card");
}

// Tags for what makes a feature's numbers weak evidence, each with its definition as generated.
function flagTags(sae, summary, id) {
  const d = sae.definitions;
  return [
    summary.dead[id] ? el("span", { class: "tag", text: "dead", title: d.dead }) : null,
    summary.negligible[id] ? el("span", { class: "tag warn", text: "negligible", title: d.negligible }) : null,
    summary.one_hit[id] ? el("span", { class: "tag warn", text: "one hit", title: d.one_hit }) : null,
  ];
}

function similarCard(feat, summary, go) {
  return card("Similar features (decoder cosine)", el("ol", { class: "similar" }, feat.similar.map(([j, c]) =>
    el("li", {}, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); go(j); } }, [
      el("span", { class: "fid", text: `#${j}` }),
      el("span", { class: "cos", text: fmt(c, 2) }),
      el("span", { class: "note", text: summary.dead[j] ? "dead" : `${pct(summary.density[j])} · max ${fmt(summary.max[j], 2)}${summary.negligible[j] ? " · negligible" : ""}` }),
    ])))));
}

// The feature's auto-interp label (its best rule over the game concepts, sae/autointerp.py) and importance.
function labelCard(index, summary, id) {
  const c = index.concepts;
  if (c.file === null) return card("Label", el("p", { class: "note labels-note", text: c.note }));
  if (summary.label[id] === null) {
    return card("Label", el("p", { class: "note", text: summary.label.some((l) => l !== null)
      ? "No rule: the feature fires on too few training positions to fit one (or is dead)."
      : "This SAE has no labels in the concept evaluation (see the warnings)." }));
  }
  const split = c.headline.split, n = c.headline.rows[split];
  return card("Label (auto-interp)", [
    el("p", { class: "label-rule", text: summary.label[id] }),
    el("dl", {}, [["kind", summary.label_kind[id]], ["precision", fmt(summary.label_precision[id], 3)],
      ["recall", fmt(summary.label_recall[id], 3)], ["F1", fmt(summary.label_f1[id], 3)],
      ["importance", summary.importance[id] === null ? "–" : `policy KL ${fmt(summary.importance[id])}`],
      ["|Δ value|", fmt(summary.value_change[id])]].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
    el("p", { class: "note", text: `Rule fitted on train, chosen on val, scored on the first ${fmt(n)} positions of the ${split} split ` +
      `(held-out games); explained at F1 >= ${c.explained_f1}. Importance: mean KL(clean || ablated) of the policy and mean ` +
      `|value change| when the feature is removed, over up to ${c.importance_rows} of those positions where it fires.` }),
  ], "label-card");
}

// Build the detail panel for feature `id` (its data must be fetched already).
export function renderFeature(root, { index, sae, summary, feat, go }) {
  const id = feat.id;
  const n = index.store.positions;
  const dead = summary.dead[id] === 1;
  const maxAct = summary.max[id];
  const top = summary.top_move[id];
  const head = el("div", { class: "feature-head" }, [
    el("button", { class: "nav", title: "previous feature (←)", onclick: () => go("prev"), text: "←" }),
    el("h2", {}, [`Feature #${id}`, ...flagTags(sae, summary, id)]),
    el("button", { class: "nav", title: "next feature (→)", onclick: () => go("next"), text: "→" }),
    el("div", { class: "chips" }, [
      chip("density", pct(summary.density[id], 3), `fires on ${feat.count} of ${n} positions of the ${index.store.split} split`),
      chip("max act", fmt(maxAct), `largest contribution to the reconstruction (max act × decoder norm): ${fmt(summary.reach[id])}`),
      chip("mean act", fmt(summary.mean[id]), "mean over the positions where it fires"),
      top >= 0 ? chip("promotes", moveName(top), "the move whose logit its decoder direction raises most") : null,
    ]),
  ]);
  const cards = el("div", { class: "cards" }, [
    labelCard(index, summary, id),
    card("Activation histogram", dead ? el("p", { class: "note", text: `Never fires on the ${n} positions of the ${index.store.split} split.` })
      : histogram(feat.hist, feat.count, n)),
    effectCard(feat, sae, summary),
    similarCard(feat, summary, go),
    mapCard(sae, summary, id, go),
  ]);
  const flagged = [["negligible", summary.negligible[id]], ["one hit", summary.one_hit[id]]].filter(([, on]) => on);
  const warn = flagged.length ? el("p", { class: "flag-note" }, flagged.map(([k]) =>
    k === "negligible" ? `Negligible: ${sae.definitions.negligible}; here it is ${fmt(summary.reach[id], 2)}. `
      : `One hit: ${sae.definitions.one_hit}; every statistic here describes a single board. `)) : null;
  const parts = [head, warn, cards].filter(Boolean);
  if (!dead) {
    parts.push(el("section", { class: "examples" }, [
      el("h3", { text: `Top ${feat.top.length} activating positions` }), boardLegend(), boardGrid(feat.top, maxAct, sae.site)]));
    if (feat.bands.length) {
      parts.push(el("section", { class: "examples" }, [
        el("h3", { text: "Across the activation range" }),
        el("p", { class: "note", text: "Random positions from equal-count quantile bands of this feature's nonzero activations (outside the top list where possible)." }),
        ...feat.bands.slice().reverse().map((b) => el("div", { class: "band" }, [
          el("div", { class: "band-label" }, [el("b", { text: `${Math.round(b.q[0] * 100)}–${Math.round(b.q[1] * 100)}%` }),
            el("span", { text: `act ${fmt(b.lo, 2)} – ${fmt(b.hi, 2)}` })]),
          boardGrid(b.ex, maxAct, sae.site),
        ])),
      ]));
    }
  }
  root.replaceChildren(...parts);
  root.dataset.feature = String(id);
}
