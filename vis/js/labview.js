// Drawing for the board lab (vis/js/lab.js): the board in real colours, the policy as a heatmap
// over the 36 squares and pass, and one SAE's active features with their steering controls.

import { CELL, boardFrame } from "./board.js";
import { moveName } from "./data.js";
import { el, fmt, signed, svg } from "./dom.js";
import { PASS } from "./othello.js";

// The position: real colours (black / white discs), legal moves dotted, the network's choice ringed.
// onSquare(a) is called for a click on square a.
export function labBoard(cells, legal, best, onSquare) {
  return boardFrame((g, r, c, x, y) => {
    const a = r * 6 + c, v = cells[a];
    const sq = svg("g", { class: "lab-sq", "data-a": a, onclick: () => onSquare(a) }, [svg("rect", { x, y, width: CELL, height: CELL, class: "sq" })]);
    if (v !== 0) sq.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: CELL / 2 - 2.2, class: v > 0 ? "disc-black" : "disc-white" }));
    else if (a === best) sq.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: CELL / 2 - 3.5, class: "net-move" }));
    else if (legal[a]) sq.append(svg("circle", { cx: x + CELL / 2, cy: y + CELL / 2, r: 2.6, class: "legal" }));
    sq.append(svg("title", { text: moveName(a) + (v > 0 ? ": Black" : v < 0 ? ": White" : legal[a] ? ": legal" : "") }));
    g.append(sq);
  }, { class: "board lab-board", label: "board lab position" });
}

// Sequential colour for a probability (white -> the board's green)
function probColour(p) {
  const t = Math.sqrt(Math.max(0, Math.min(1, p))); // sqrt: small probabilities stay visible
  const c = [247, 247, 247].map((v, i) => Math.round(v + ([27, 110, 74][i] - v) * t));
  return `rgb(${c.join(",")})`;
}

// Policy over legal moves as a heatmap; `base` (the unsteered policy) adds Δ to each cell's text.
export function policyMap(p, legal, base) {
  const cellText = (a) => (legal[a] ? `${Math.round(p[a] * 100)}` : "");
  const title = (a) => `${moveName(a)}: ${legal[a] ? `${fmt(p[a] * 100, 3)}%` : "illegal"}` +
    (base && legal[a] ? ` (unsteered ${fmt(base[a] * 100, 3)}%, Δ ${signed((p[a] - base[a]) * 100, 2)} points)` : "");
  const g = boardFrame((g, r, c, x, y) => {
    const a = r * 6 + c;
    g.append(svg("rect", { x, y, width: CELL, height: CELL, class: `heat${legal[a] ? "" : " na"}`, fill: legal[a] ? probColour(p[a]) : "#e4e7eb",
      "data-a": a }, [svg("title", { text: title(a) })]));
    if (legal[a]) g.append(svg("text", { x: x + CELL / 2, y: y + CELL / 2 + 3, class: "prob", text: cellText(a) }));
  }, { class: "heatmap lab-policy", label: "policy" });
  const pass = el("div", { class: "pass-cell", title: title(PASS), style: `background:${legal[PASS] ? probColour(p[PASS]) : "#e4e7eb"}` },
    `pass ${legal[PASS] ? Math.round(p[PASS] * 100) + "%" : "–"}`);
  return el("div", { class: "policy-wrap" }, [g, pass]);
}

// The most likely moves in words, with the change steering made
export function topMoves(p, legal, base, n = 4) {
  const moves = [...Array(37).keys()].filter((a) => legal[a]).sort((a, b) => p[b] - p[a]).slice(0, n);
  return el("ol", { class: "top-moves" }, moves.map((a) => el("li", {}, [el("b", { text: moveName(a) }), ` ${fmt(p[a] * 100, 3)}%`,
    base ? el("span", { class: "note", text: ` (${signed((p[a] - base[a]) * 100, 2)})` }) : null])));
}

const MODES = { clamp: "clamp to", scale: "scale by", ablate: "ablate" };

// One SAE's panel: its features active on the position (largest first) with their labels, and the
// steering controls. `steers`: this SAE's steers [{id, mode, value}]; `on`: callbacks
// {steer(id, mode, value), unsteer(id), featureHref(id), listHref()}.
export function saePanel(sae, summary, f, active, steers, on, shown = 12) {
  const steerOf = new Map(steers.map((s) => [s.id, s]));
  const label = (i) => (summary?.label[i] ? `${summary.label[i]} (F1 ${fmt(summary.label_f1[i], 2)})` : "");
  const row = (i, act) => {
    const s = steerOf.get(i);
    return el("tr", { class: s ? "steered" : "", "data-feature": i }, [
      el("td", {}, el("a", { href: on.featureHref(i), text: `#${i}`, title: "open this feature's page" })),
      el("td", { class: "num", text: fmt(act, 3) }),
      el("td", { class: "lbl", text: label(i) }),
      el("td", { class: "steer-btns" }, [
        el("button", { text: "0", title: "ablate: set this feature to 0", onclick: () => on.steer(i, "ablate", 0) }),
        el("button", { text: "×2", title: "scale this feature by 2", onclick: () => on.steer(i, "scale", 2) }),
        el("button", { text: "max", title: `clamp to this feature's max activation on the data (${fmt(summary?.max[i])})`,
          onclick: () => on.steer(i, "clamp", summary?.max[i] || 1) }),
      ]),
    ]);
  };
  const rows = active.slice(0, shown).map(([i, a]) => row(i, a));
  const steerRows = steers.map((s) => el("div", { class: "steer", "data-feature": s.id }, [
    el("span", { text: `#${s.id}: ` }),
    el("select", { onchange: (e) => on.steer(s.id, e.target.value, s.value) },
      Object.entries(MODES).map(([k, v]) => el("option", { value: k, text: v, selected: k === s.mode }))),
    s.mode === "ablate" ? null : el("input", { type: "number", step: "any", value: String(s.value), class: "steer-value",
      onchange: (e) => { const v = Number(e.target.value); if (Number.isFinite(v)) on.steer(s.id, s.mode, v); } }),
    el("span", { class: "note", text: ` (now ${fmt(f[s.id], 3)})` }),
    el("button", { text: "×", title: "remove this steer", onclick: () => on.unsteer(s.id) }),
  ]));
  const add = el("input", { type: "number", min: 0, max: sae.d_sae - 1, placeholder: "feature id", class: "add-id",
    onkeydown: (e) => { const v = Number(add.value); if (e.key === "Enter" && Number.isInteger(v) && v >= 0 && v < sae.d_sae) on.steer(v, "clamp", summary?.max[v] || 1); } });
  return el("section", { class: "card lab-sae", "data-sae": sae.name }, [
    el("h3", {}, [sae.name, el("span", { class: "note", text: ` ${sae.architecture} · ${active.length} active` })]),
    active.length ? el("table", { class: "active" }, [el("tbody", {}, rows)]) : el("p", { class: "note", text: "No feature fires on this position." }),
    active.length ? el("p", { class: "note" }, [active.length > shown ? `${active.length - shown} more · ` : "",
      el("a", { href: on.listHref(), text: "these features in the SAE's list" })]) : null,
    el("div", { class: "steers" }, [...steerRows, el("label", { class: "note" }, ["steer another feature (clamp): ", add])]),
  ]);
}
