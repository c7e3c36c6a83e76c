// Reading a Prometheus text exposition (what a node's GET /metrics answers) in the tests that
// scrape it: the metrics test and the cluster test.

/** The samples of an exposition: `name{labels}` → value (labels as written, sorted by prom-client's order). */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The value of `name` whose labels include every `labels` pair (0 when there is none). */
export function value(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [k, v] of m) {
    const brace = k.indexOf('{');
    if ((brace < 0 ? k : k.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([l, x]) => k.includes(`${l}="${x}"`))) total += v;
  }
  return total;
}
