// The board lab: set up any position, see the network's policy and value and every SAE's features
// on it (at one site), steer features and see the policy and value change, play against the raw
// policy. Everything runs in the page (vis/js/net.js, vis/js/sae.js), nothing on a server.
//   #lab=POSITION&site=resid.2&steer=NAME~ID~MODE~VALUE;...
// POSITION: othello.encode (36 of x / o / -, then the side to move). Edits replace the history
// entry (the link always shows the position on screen); opening the lab adds one.

import { loadFeatures, loadNet, loadSae, moveName } from "./data.js";
import { el, signed } from "./dom.js";
import { labBoard, policyMap, saePanel, topMoves } from "./labview.js";
import { softmax, valueOf } from "./net.js";
import * as O from "./othello.js";
import { activeFeatures, steered } from "./sae.js";

// The link to a position in the lab (`steer`: [{sae, id, mode, value}])
export function labHash(cells, player, site, steer = []) {
  const p = new URLSearchParams({ lab: O.encode(cells, player) });
  if (site) p.set("site", site);
  if (steer.length) p.set("steer", steer.map((s) => [s.sae, s.id, s.mode, s.value].join("~")).join(";"));
  return "#" + p.toString();
}

function parseSteer(text, saes) {
  return (text || "").split(";").filter(Boolean).map((part) => {
    const [sae, id, mode, value] = part.split("~");
    return { sae, id: Number(id), mode, value: Number(value) };
  }).filter((s) => saes.some((x) => x.name === s.sae && Number.isInteger(s.id) && s.id >= 0 && s.id < x.d_sae) &&
    ["clamp", "scale", "ablate"].includes(s.mode) && Number.isFinite(s.value));
}

export async function renderLab(root, index, params) {
  const pos = O.decode(params.get("lab")) || { cells: O.start(), player: 1 };
  const sites = [...new Set(index.saes.map((s) => s.site))];
  const lab = {
    ...pos, history: [], mode: "play", versus: 0, site: sites.includes(params.get("site")) ? params.get("site") : sites[0],
    steer: parseSteer(params.get("steer"), index.saes),
  };
  root.replaceChildren(el("p", { class: "loading", text: "Loading the network and the SAEs…" }));
  const saesAt = (site) => index.saes.filter((s) => s.site === site);
  let net, models, summaries;
  async function loadSite() {
    const saes = saesAt(lab.site);
    [net, models, summaries] = await Promise.all([loadNet(index), Promise.all(saes.map(loadSae)), Promise.all(saes.map(loadFeatures))]);
  }
  await loadSite();
  if (!location.hash.startsWith("#lab=")) return; // the user went elsewhere while the weights loaded
  const view = el("div", { class: "lab" });
  root.replaceChildren(view);
  window.labTimings = window.labTimings || []; // per update: {total, compute} ms (DOM = the rest); read by the browser test

  // --- the numbers: clean pass, SAE codes at the site, the steered pass
  function compute() {
    const board = Int8Array.from(lab.cells, (v) => v * lab.player); // the mover's view, as the network sees it
    const legal = O.legal(lab.cells, lab.player);
    const clean = net.run(board);
    const s = net.siteIndex(lab.site), x = clean.acts[s];
    const saes = saesAt(lab.site);
    const codes = models.map((m) => m.encode(x));
    const mine = lab.steer.filter((st) => saes.some((sae) => sae.name === st.sae));
    let out = clean;
    if (mine.length) {
      const x2 = Float32Array.from(x);
      for (const st of mine) {
        const k = saes.findIndex((sae) => sae.name === st.sae), f = codes[k][st.id];
        models[k].addDecoder(x2, st.id, steered(st.mode, st.value, f) - f);
      }
      out = net.runFrom(s, x2);
    }
    return { legal, saes, codes, clean: { p: softmax(clean.logits, legal), v: valueOf(clean.wdl) },
      steered: mine.length ? { p: softmax(out.logits, legal), v: valueOf(out.wdl) } : null };
  }

  function bestMove(r) {
    const p = (r.steered || r.clean).p;
    return [...Array(37).keys()].filter((a) => r.legal[a]).reduce((b, a) => (p[a] > p[b] ? a : b));
  }

  function commit(push = true) { // a new position: remember the old one for undo
    if (push) lab.history.push({ cells: lab.before.cells, player: lab.before.player });
    update();
  }

  function playMove(a) {
    lab.before = { cells: lab.cells, player: lab.player };
    lab.cells = O.play(lab.cells, lab.player, a);
    lab.player = -lab.player;
    commit();
  }

  function onSquare(a) {
    if (lab.mode === "edit") { // empty -> Black -> White -> empty
      lab.before = { cells: lab.cells, player: lab.player };
      lab.cells = Int8Array.from(lab.cells);
      lab.cells[a] = lab.cells[a] === 0 ? 1 : lab.cells[a] === 1 ? -1 : 0;
      commit();
    } else if (O.legal(lab.cells, lab.player)[a] && lab.versus !== lab.player) {
      playMove(a);
    }
  }

  const setSteer = (sae) => ({
    steer: (id, mode, value) => {
      lab.steer = [...lab.steer.filter((s) => !(s.sae === sae.name && s.id === id)), { sae: sae.name, id, mode, value }];
      update();
    },
    unsteer: (id) => { lab.steer = lab.steer.filter((s) => !(s.sae === sae.name && s.id === id)); update(); },
    featureHref: (id) => `#sae=${encodeURIComponent(sae.name)}&f=${id}`,
    listHref: () => `#sae=${encodeURIComponent(sae.name)}&on=${O.encode(lab.cells, lab.player)}`,
  });

  function undo() { // against the network, back past its reply too (else it would play it again at once)
    do Object.assign(lab, lab.history.pop()); while (lab.versus === lab.player && lab.history.length);
    update();
  }

  // The link follows the screen, but after a pause: history.replaceState is a synchronous round trip
  // to the browser process (100+ ms measured on a busy machine), too slow for every edit.
  let linkTimer = 0;
  function saveLink() {
    clearTimeout(linkTimer);
    linkTimer = setTimeout(() => {
      if (view.isConnected && location.hash.startsWith("#lab=")) history.replaceState(null, "", labHash(lab.cells, lab.player, lab.site, lab.steer));
    }, 400);
  }

  function button(text, title, onclick, opts = {}) {
    return el("button", { text, title, onclick, disabled: opts.disabled, class: opts.class });
  }

  function update() {
    const t0 = performance.now();
    const r = compute();
    const t1 = performance.now();
    const over = O.gameOver(lab.cells), best = over ? -1 : bestMove(r);
    const { black, white } = O.count(lab.cells);
    const shown = r.steered || r.clean;
    const who = lab.player > 0 ? "Black" : "White";
    const controls = el("div", { class: "lab-controls" }, [
      button(lab.mode === "edit" ? "editing squares (click: empty → black → white)" : "playing moves", "switch between playing moves and editing squares",
        () => { lab.mode = lab.mode === "edit" ? "play" : "edit"; update(); }, { class: "mode" }),
      button("undo", "back to the previous position (against the network: to your previous move)", undo, { disabled: !lab.history.length }),
      button("start", "the start position", () => { lab.before = { cells: lab.cells, player: lab.player }; lab.cells = O.start(); lab.player = 1; commit(); }),
      button(`${who} to move ⇄`, "change the side to move", () => { lab.before = { cells: lab.cells, player: lab.player }; lab.player = -lab.player; commit(); }),
      button("pass", "pass (legal only when no square is)", () => playMove(O.PASS), { disabled: over || !r.legal[O.PASS] }),
      button(`network plays ${best >= 0 ? moveName(best) : ""}`, "play the (steered) network's most likely legal move", () => playMove(best), { disabled: over }),
      el("label", { class: "versus" }, ["network plays: ", el("select", { onchange: (e) => { lab.versus = Number(e.target.value); update(); } },
        [["0", "neither side"], ["1", "Black"], ["-1", "White"]].map(([v, t]) => el("option", { value: v, text: t, selected: Number(v) === lab.versus })))]),
    ]);
    const status = over ? `game over · Black ${black} – White ${white}` : `${who} to move · Black ${black} – White ${white}`;
    const value = r.steered
      ? [el("b", { text: signed(r.steered.v, 3) }), ` (unsteered ${signed(r.clean.v, 3)}, Δ ${signed(r.steered.v - r.clean.v, 3)})`]
      : [el("b", { text: signed(r.clean.v, 3) })];
    const siteSel = el("select", { onchange: async (e) => { lab.site = e.target.value; await loadSite(); update(); } },
      sites.map((s) => el("option", { value: s, text: `site ${s}`, selected: s === lab.site })));
    view.replaceChildren(
      el("div", { class: "lab-left" }, [
        el("h2", { text: "Board lab" }),
        el("p", { class: "lab-status", text: status }),
        labBoard(lab.cells, over ? [] : r.legal, best, onSquare),
        controls,
      ]),
      el("div", { class: "lab-mid" }, [
        el("section", { class: "card" }, [
          el("h3", { text: r.steered ? "Policy (steered)" : "Policy" }),
          policyMap(shown.p, r.legal, r.steered ? r.clean.p : null),
          topMoves(shown.p, r.legal, r.steered ? r.clean.p : null),
          el("p", { class: "lab-value" }, [`Value for ${who} (P(win) − P(loss)): `, ...value]),
          el("p", { class: "note", text: "The raw network (no search), over the legal moves, computed in this page. Steering adds (f′ − f) × the feature's decoder vector at the site and finishes the pass." }),
        ]),
      ]),
      el("div", { class: "lab-right" }, [
        el("div", { class: "lab-site" }, [siteSel, lab.steer.length ? button("clear all steering", "remove every steer", () => { lab.steer = []; update(); }) : null]),
        ...r.saes.map((sae, k) => saePanel(sae, summaries[k], r.codes[k], activeFeatures(r.codes[k]),
          lab.steer.filter((s) => s.sae === sae.name), setSteer(sae))),
      ]),
    );
    saveLink();
    window.labTimings.push({ total: performance.now() - t0, compute: t1 - t0 });
    view.dataset.position = O.encode(lab.cells, lab.player);
    if (!over && lab.versus === lab.player) setTimeout(() => { if (lab.versus === lab.player) playMove(bestMove(compute())); }, 150);
  }
  update();
}
