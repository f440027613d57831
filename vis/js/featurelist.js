// The SAE page's feature list: search by id or label text, sort, near-dead features (dead or
// negligible, as defined in vis/magnitudes.py) hidden unless asked for; negligible and one-hit
// features are marked. Narrowed to the features firing on one position (setFiring) it is ordered
// by their activation there. With labels (the auto-interp rules of concepts.json) each row shows its
// rule and test F1 on a second line, and the list sorts by label F1 and by importance (mean policy KL
// when the feature is ablated); the last column then shows the value sorted by.
// A virtual list (only the visible rows exist in the DOM), so 16k features scroll smoothly
// and the list costs nothing at page load.

import { moveName } from "./data.js";
import { el, fmt, pct } from "./dom.js";
import { matches } from "./search.js";

const ROW = 30, ROW_LABELLED = 46; // px, must match .feature-row / .feature-row.labelled heights in style.css
const SORTS = {
  id: { label: "id", key: (s, i) => i, desc: false },
  density: { label: "density", key: (s, i) => s.density[i], desc: true },
  max: { label: "max activation", key: (s, i) => s.max[i], desc: true },
  mean: { label: "mean activation", key: (s, i) => s.mean[i], desc: true },
  effect: { label: "largest policy effect", key: (s, i) => Math.max(Math.abs(s.effect_lo[i] ?? 0), Math.abs(s.effect_hi[i] ?? 0)), desc: true },
  label_f1: { label: "label F1", key: (s, i) => s.label_f1[i] ?? -1, desc: true, when: (s) => s.label.some((l) => l !== null) },
  importance: { label: "importance (policy KL)", key: (s, i) => s.importance[i] ?? -1, desc: true, when: (s) => s.importance.some((v) => v !== null) },
};
const nearDead = (s, i) => s.dead[i] === 1 || s.negligible[i] === 1;

export class FeatureList {
  // summary: features.json; onChange({f?, sort?, dead?}) asks the router to update the URL.
  // definitions: the SAE's index entry's `definitions` (shown as the toggle's tooltip).
  constructor(summary, onChange, definitions) {
    this.s = summary;
    this.onChange = onChange;
    this.order = [];
    this.selected = -1;
    this.query = "";
    this.firing = null; // {ids, act, code, site} when narrowed to one position's features
    const labelled = SORTS.label_f1.when(summary);
    this.row = labelled ? ROW_LABELLED : ROW;
    this.labelled = labelled;
    this.search = el("input", { type: "search", placeholder: labelled ? "id or label…" : "feature id…",
      "aria-label": "search features by id or label", oninput: () => { this.query = this.search.value.trim(); this.refresh(); },
      onkeydown: (e) => { if (e.key === "Enter" && this.order.length) this.onChange({ f: this.exactOrFirst() }); } });
    this.sortSel = el("select", { "aria-label": "sort features", onchange: () => this.onChange({ sort: this.sortSel.value }) },
      Object.entries(SORTS).filter(([, v]) => !v.when || v.when(summary)).map(([k, v]) => el("option", { value: k, text: `sort: ${v.label}` })));
    this.firingLine = el("div", { class: "firing-line", hidden: true });
    this.deadBox = el("input", { type: "checkbox", onchange: () => this.onChange({ dead: this.deadBox.checked ? 1 : 0 }) });
    this.countLine = el("div", { class: "list-count" });
    this.spacer = el("div", { class: "list-spacer" });
    this.viewport = el("div", { class: "feature-list", tabindex: "-1", onscroll: () => this.draw() }, [this.spacer]);
    this.root = el("div", { class: "list-panel" }, [
      el("div", { class: "controls" }, [this.search, this.sortSel,
        el("label", { class: "toggle", title: `near-dead = ${definitions.near_dead}. Dead: ${definitions.dead}. Negligible: ${definitions.negligible}.` },
          [this.deadBox, " show near-dead features"])]),
      this.firingLine, this.countLine, this.viewport,
    ]);
  }

  // Apply sort / dead toggle / selection from the URL state.
  setState({ sort, dead, f }) {
    const key = SORTS[sort] && (!SORTS[sort].when || SORTS[sort].when(this.s)) ? sort : "id";
    const changed = key !== this.sortKey || Boolean(dead) !== this.showDead;
    this.sortKey = key;
    this.showDead = Boolean(dead);
    this.sortSel.value = key;
    this.deadBox.checked = this.showDead;
    if (changed) this.refresh();
    if (f !== this.selected) {
      this.selected = f;
      this.reveal(f);
      this.draw();
    }
  }

  // Narrow the list to the features firing on a position (search.firingOn), or back (null)
  setFiring(firing) {
    this.firing = firing;
    this.firingLine.hidden = !firing;
    this.firingLine.replaceChildren(...(firing ? [`${firing.ids.length} features fire on this position (by activation) · `,
      el("a", { href: `#lab=${firing.code}&site=${encodeURIComponent(firing.site)}`, text: "open it in the board lab" })] : []));
    this.refresh();
  }

  refresh() {
    const s = this.s, sort = SORTS[this.sortKey];
    let ids = this.firing ? [...this.firing.ids] : [...Array(s.n).keys()];
    if (!this.showDead && !this.firing) ids = ids.filter((i) => !nearDead(s, i));
    if (this.query) ids = ids.filter((i) => matches(s, i, this.query));
    if (sort.desc && !this.firing) ids.sort((a, b) => sort.key(s, b) - sort.key(s, a) || a - b);
    this.order = ids;
    this.position = new Map(ids.map((id, k) => [id, k]));
    const dead = s.dead.reduce((a, b) => a + b, 0), negligible = s.negligible.reduce((a, b) => a + b, 0);
    const parts = [dead ? `${dead} dead` : "", negligible ? `${negligible} negligible` : ""].filter(Boolean).join(", ");
    this.countLine.textContent = `${ids.length} of ${s.n} features` + (parts ? ` · near-dead: ${parts}${this.showDead ? "" : " (hidden)"}` : "");
    this.spacer.style.height = `${ids.length * this.row}px`;
    this.draw();
  }

  exactOrFirst() { // Enter in the search box: the feature with that id, else the first match
    const q = Number(this.query);
    return this.query !== "" && Number.isInteger(q) && q >= 0 && q < this.s.n ? q : this.order[0];
  }

  // The feature `step` places away from `f` in the current order (for the arrow keys).
  neighbour(f, step) {
    if (!this.order.length) return f;
    const k = this.position.get(f);
    if (k === undefined) return this.order[0];
    return this.order[Math.max(0, Math.min(this.order.length - 1, k + step))];
  }

  reveal(f) {
    const k = this.position?.get(f);
    if (k === undefined) return;
    const top = k * this.row, h = this.viewport.clientHeight || 600;
    if (top < this.viewport.scrollTop || top + this.row > this.viewport.scrollTop + h) this.viewport.scrollTop = top - h / 3;
  }

  draw() {
    const s = this.s;
    const h = this.viewport.clientHeight || 800;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / this.row) - 5);
    const last = Math.min(this.order.length, first + Math.ceil(h / this.row) + 10);
    const shown = this.lastColumn();
    const rows = [];
    for (let k = first; k < last; k++) {
      const i = this.order[k];
      const d = s.density[i];
      const w = d > 0 ? Math.max(2, Math.min(100, ((Math.log10(d) + 5) / 5) * 100)) : 0; // log scale 1e-5 .. 1
      rows.push(el("div", { class: `feature-row${this.labelled ? " labelled" : ""}${i === this.selected ? " selected" : ""}${nearDead(s, i) ? " dead" : ""}`,
        style: `top:${k * this.row}px`, role: "button", title: `feature ${i}: density ${pct(d)}, max ${fmt(s.max[i])}` +
          (s.top_move[i] >= 0 ? `, promotes ${moveName(s.top_move[i])}` : "") + (s.label[i] ? `\n${labelText(s, i)}` : "") +
          (s.importance[i] !== null ? `\nimportance: policy KL ${fmt(s.importance[i])} when ablated` : ""),
        onclick: () => this.onChange({ f: i }) }, [
        el("span", { class: "fid", text: `#${i}` }),
        el("span", { class: "dbar" }, el("span", { style: `width:${w}%` })),
        el("span", { class: "dval", text: s.dead[i] ? "dead" : pct(d) }),
        el("span", { class: "flag", text: s.negligible[i] ? "tiny" : s.one_hit[i] ? "1 hit" : "",
          title: s.negligible[i] ? "negligible magnitude" : s.one_hit[i] ? "fires on one position only" : undefined }),
        el("span", { class: "mval", text: shown.text(i), title: shown.title }),
        this.labelled ? el("span", { class: "lbl", text: s.label[i] ? `${s.label[i]} · F1 ${fmt(s.label_f1[i], 2)}` : "no rule (dead or rare)" }) : null,
      ]));
    }
    this.spacer.replaceChildren(...rows);
  }

  // The last column: the activation on the position (narrowed), the sorted-by value for label F1 and
  // importance, else the max activation.
  lastColumn() {
    const s = this.s;
    if (this.firing) return { text: (i) => fmt(this.firing.act.get(i), 2), title: "activation on this position" };
    if (this.sortKey === "importance") return { text: (i) => fmt(s.importance[i], 2), title: "policy KL when ablated (importance)" };
    if (this.sortKey === "label_f1") return { text: (i) => fmt(s.label_f1[i], 2), title: "test F1 of its rule" };
    return { text: (i) => (s.dead[i] ? "" : fmt(s.max[i], 2)), title: "max activation" };
  }
}

// A feature's label with its held-out scores, as one line of text (tooltips, the board lab).
export function labelText(s, i) {
  return s.label[i] === null ? "" : `rule: ${s.label[i]} (${s.label_kind[i]}; test precision ${fmt(s.label_precision[i], 2)}, ` +
    `recall ${fmt(s.label_recall[i], 2)}, F1 ${fmt(s.label_f1[i], 2)})`;
}
