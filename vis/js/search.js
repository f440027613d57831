// Feature search beyond ids: the features of one SAE firing on a position (computed in the page with
// the network and the SAE, vis/js/net.js + sae.js), and text search over the features' labels.

import { DataError, loadNet, loadSae } from "./data.js";
import * as O from "./othello.js";

// {ids (largest activation first), act: Map id -> activation, code, site} for the position link `code`
export async function firingOn(index, sae, code) {
  const pos = O.decode(code);
  if (!pos) throw new DataError("id", `“${code}” is not a position (36 of x / o / - and the side to move)`);
  const [net, model] = await Promise.all([loadNet(index), loadSae(sae)]);
  const run = net.run(Int8Array.from(pos.cells, (v) => v * pos.player));
  const f = model.encode(run.acts[net.siteIndex(sae.site)]);
  const ids = [...f.keys()].filter((i) => f[i] > 0).sort((a, b) => f[b] - f[a]);
  return { ids, act: new Map(ids.map((i) => [i, f[i]])), code, site: sae.site };
}

// Does feature i match the search text? Digits: its id starts with them; other text: every word
// appears in its label (case-insensitive), e.g. "c4 mine" or "legal a5".
export function matches(summary, i, query) {
  if (!query) return true;
  if (/^\d+$/.test(query)) return String(i).startsWith(query);
  const label = (summary.label[i] || "").toLowerCase();
  return label !== "" && query.toLowerCase().split(/\s+/).every((w) => label.includes(w));
}
