// The viewer's router. All state lives in the URL hash, so every view is a shareable link:
//   #                                   landing page (all SAEs, scaling plots)
//   #sae=NAME&f=ID&sort=density&dead=1  one SAE, one feature, list sorted, near-dead features shown
//   #sae=NAME&on=POSITION               ... the list narrowed to the features firing on a position
//   #lab=POSITION&site=...&steer=...    the board lab (vis/js/lab.js)
// Arrow keys (← → or ↑ ↓) step through the features in the list's current order.
// Only a change of feature adds a history entry (Back returns to the previous feature); sorting,
// the near-dead toggle and the default feature of an SAE replace the current entry.

import { DataError, loadFeatures, loadIndex, saeByName, setBoardInfo } from "./data.js";
import { featureIdProblem } from "./validate.js";
import { el, fmt, pct } from "./dom.js";
import { fetchFeature, renderFeature } from "./featuredetail.js";
import { FeatureList } from "./featurelist.js";
import { start } from "./othello.js";
import { metric, renderLanding } from "./landing.js";
import { labHash, renderLab } from "./lab.js";
import { firingOn } from "./search.js";

const root = document.getElementById("app");
const banner = document.getElementById("banner");
const crumbs = document.getElementById("crumbs");
const provenance = document.getElementById("provenance");
let index = null;
let page = null; // the open SAE page: {sae, summary, list, detail, shown, token}

// `f` stays the link's text: route() checks it against the SAE (validate.featureIdProblem)
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const f = p.get("f");
  return { sae: p.get("sae"), f: f === "" ? null : f, sort: p.get("sort") || "id", dead: p.get("dead") === "1" ? 1 : 0,
    on: p.get("on"), lab: p.has("lab") ? p : null };
}

function hashOf(s) {
  if (!s.sae) return "#";
  const p = new URLSearchParams({ sae: s.sae });
  if (s.f !== null && s.f !== undefined) p.set("f", s.f);
  if (s.sort && s.sort !== "id") p.set("sort", s.sort);
  if (s.dead) p.set("dead", "1");
  if (s.on) p.set("on", s.on);
  return "#" + p.toString();
}

function navigate(patch, replace = false) {
  const h = hashOf({ ...readHash(), ...patch });
  if (replace) { history.replaceState(null, "", h); route(); } else if (h !== location.hash) location.hash = h;
}

function showBanner(kind, parts) {
  banner.className = `banner ${kind}`;
  banner.replaceChildren(...parts);
  banner.hidden = false;
}

const GENERATE = "python vis/generate_vis_data.py";

const HEADINGS = { missing: "No viewer data yet", stale: "The viewer data is stale", corrupt: "The viewer data is damaged" };

function showDataError(err) {
  const kind = err instanceof DataError ? err.kind : null;
  root.replaceChildren(el("section", { class: "no-data" }, [
    el("h1", { text: HEADINGS[kind] || "Could not load the viewer data" }),
    el("p", { text: kind === "missing" ? `This page reads vis/data/, which is generated from the trained SAEs and the activation store, and it is not there (or incomplete): ${err.message}.`
      : kind === "stale" ? err.message + "." : String(err.message || err) }),
    el("p", { text: "Generate it from the repository root, then reload this page:" }),
    el("pre", { text: `${GENERATE}            # reads runs/sae and runs/acts\ncd vis && python -m http.server 8000` }),
    el("p", { class: "note", text: "No trained SAEs yet? Try the viewer on random demo data: python -m tests.demo_data --out /tmp/demo && " +
      `${GENERATE} --collect.out /tmp/demo/acts --sae.out /tmp/demo/sae --checkpoint /tmp/demo/model.pt` }),
  ]));
}

const startPosition = () => [start(), 1];

function header(sae) {
  const gen = new Date(index.generated);
  provenance.textContent = `generated ${gen.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })} · checkpoint ${(index.checkpoint_sha256 || "?").slice(0, 10)} · ` +
    `${index.store.split} split (${index.store.positions} positions)`;
  provenance.title = `repeat: ${GENERATE} --config vis/data/index.json\nstore fingerprint ${index.store.fingerprint}\n` +
    `check for staleness: ${GENERATE} --vis.check`;
  crumbs.replaceChildren(el("a", { href: "#", text: "All SAEs" }), " · ", el("a", { href: labHash(...startPosition(), sae?.site), text: "Board lab" }),
    ...(sae ? [" › ", el("b", { text: sae.name }),
    el("span", { class: "crumb-meta", text: ` ${sae.architecture} · ${sae.site} · ${sae.d_sae} features · FVU ${fmt(metric(sae, "fvu"))} · ` +
      `L0 ${fmt(metric(sae, "l0"))} · dead ${pct(metric(sae, "dead_frac"))} (${index.sweep.eval_split} split${metric(sae, "n_eval") ? `, ${metric(sae, "n_eval")} positions` : ""}, at training)` })] : []));
}

async function openSae(sae, state) {
  const detail = el("div", { class: "detail" }, el("p", { class: "loading", text: "Loading…" }));
  root.replaceChildren(el("div", { class: "sae-page" }, [el("div", { class: "list-slot" }), detail]));
  // the summary and the requested feature's shard are fetched at the same time
  const [summary] = await Promise.all([loadFeatures(sae), state.f !== null && !featureIdProblem(state.f, sae) ? fetchFeature(sae, Number(state.f)).catch(() => null) : null]);
  const list = new FeatureList(summary, (patch) => navigate(patch, !("f" in patch)), sae.definitions);
  root.querySelector(".list-slot").replaceWith(list.root);
  page = { sae, summary, list, detail, shown: -1, token: 0 };
}

async function showFeature(f) {
  const p = page;
  if (p.shown === f) return;
  const token = ++p.token;
  p.detail.classList.add("pending");
  try {
    const feat = await fetchFeature(p.sae, f);
    if (token !== p.token || page !== p) return; // the user moved on meanwhile
    renderFeature(p.detail, { index, sae: p.sae, summary: p.summary, feat, go: (to) => step(to) });
    p.shown = f;
    if (window.firstFeatureMs === undefined) window.firstFeatureMs = performance.now();
    for (const d of [-1, 1]) fetchFeature(p.sae, p.list.neighbour(f, d)).catch(() => {}); // warm the arrow keys
  } catch (err) {
    if (token === p.token) {
      p.shown = -1;
      p.detail.replaceChildren(el("p", { class: "error", text: `Feature ${f} could not be loaded: ${err.message}` }));
    }
  } finally {
    if (token === p.token) p.detail.classList.remove("pending");
  }
}

function step(to) {
  if (!page) return;
  const f = typeof to === "number" ? to : page.list.neighbour(page.shown >= 0 ? page.shown : Number(readHash().f), to === "next" ? 1 : -1);
  navigate({ f });
}

async function route() {
  const state = readHash();
  try {
    if (!index) {
      index = await loadIndex();
      setBoardInfo(index.boards);
    }
  } catch (err) {
    crumbs.replaceChildren();
    provenance.textContent = "";
    showDataError(err);
    return;
  }
  const sae = state.sae ? saeByName(index, state.sae) : null;
  banner.hidden = true;
  if (state.lab) {
    page = null;
    header(null);
    try {
      await renderLab(root, index, state.lab);
    } catch (err) {
      showDataError(err);
    }
    return;
  }
  if (index.warnings?.length) {
    showBanner("warn", [el("b", { text: "Data warnings: " }), index.warnings.join("; "),
      ` — regenerate with ${GENERATE} once the inputs agree.`]);
  }
  if (!sae) {
    page = null;
    header(null);
    renderLanding(root, index);
    if (state.sae) showBanner("warn", [`There is no SAE named "${state.sae}" in this data; choose one below.`]);
    return;
  }
  header(sae);
  try {
    if (!page || page.sae !== sae) await openSae(sae, state);
    const problem = state.f === null ? null : featureIdProblem(state.f, sae);
    const f = state.f === null || problem ? -1 : Number(state.f);
    page.list.setState({ sort: state.sort, dead: state.dead, f });
    if (state.on !== (page.on ?? null)) { // "fires on this board": the list narrowed to one position's features
      page.on = state.on;
      page.list.setFiring(state.on ? await firingOn(index, sae, state.on) : null);
    }
    if (problem) { // say what is wrong with the link; request nothing
      page.token++;
      page.shown = -1;
      const first = page.list.order.length ? page.list.order[0] : 0;
      page.detail.replaceChildren(el("div", { class: "id-problem" }, [el("p", { class: "error", text: problem + "." }),
        el("p", {}, el("a", { href: hashOf({ ...state, f: first }), text: `Open feature #${first}, the first in the list` }))]));
      return;
    }
    if (state.f === null) {
      navigate({ f: page.list.order.length ? page.list.order[0] : 0 }, true); // default: the list's first feature
      return;
    }
    await showFeature(f);
  } catch (err) {
    showDataError(err);
  }
}

document.addEventListener("keydown", (e) => {
  if (!page || e.target.closest("input, select, textarea") || e.altKey || e.ctrlKey || e.metaKey) return;
  const dir = { ArrowRight: "next", ArrowDown: "next", ArrowLeft: "prev", ArrowUp: "prev", j: "next", k: "prev" }[e.key];
  if (!dir) return;
  e.preventDefault();
  step(dir);
});
window.addEventListener("hashchange", route);
route();
