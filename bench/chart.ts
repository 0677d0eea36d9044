// `npm run bench:report`: every figure in bench/results/*.json over time, one small chart per
// figure, a line per kernel and hook mode, in one self-contained HTML file (inline SVG, no
// script, nothing fetched): bench/results/report.html. Figures are what the runs wrote, as they
// wrote them; the chart neither judges nor smooths them (this machine is shared and noisy).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS } from './helpers';

export interface Point {
  file: string;
  date: string;
  kernel: string;
  mode: string;
  value: number;
}

// Identifiers, settings and per-second series inside one run: not figures.
const NOT_FIGURES = new Set(['samples', 'ringMapId', 'programIds', 'pid', 'errno', 'mapId', 'cpus', 'iterations', 'rounds', 'recordsPerBatch', 'quick', 'rate']);

/** Where an array element is best named by its content (a CLI run by target and rate). */
function elementKey(x: unknown, i: number): string {
  if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if (typeof o.target === 'string') return `${o.target}@${String(o.rate)}`;
    if (typeof o.variant === 'string') return `${o.variant}#${i}`;
    if (typeof o.name === 'string') return o.name;
  }
  return String(i);
}

/** Every numeric leaf as [path, value, mode it belongs to (from a `modes` object), kernel]. */
function* leaves(value: unknown, at: string[], mode: string, kernel: string): Generator<[string, number, string, string]> {
  if (typeof value === 'number' && Number.isFinite(value)) {
    yield [at.join('.'), value, mode, kernel];
    return;
  }
  if (!value || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* leaves(value[i], [...at, elementKey(value[i], i)], mode, kernel);
    return;
  }
  const o = value as Record<string, unknown>;
  const k = typeof o.kernel === 'string' ? o.kernel : kernel;
  for (const [key, v] of Object.entries(o)) {
    if (NOT_FIGURES.has(key) || key === 'machine' || key === 'started' || key === 'fallbacks') continue;
    if (key === 'modes' && v && typeof v === 'object') {
      for (const [m, inner] of Object.entries(v as Record<string, unknown>)) yield* leaves(inner, at, m, k);
      continue;
    }
    yield* leaves(v, [...at, key], mode, k);
  }
}

/** The figures of one results file, each with its run's date, kernel and hook mode. */
export function pointsOf(file: string, json: unknown): Array<[string, Point]> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const r = json as Record<string, any>;
  const date = r.machine?.date ?? r.date ?? /\d{4}-\d\d-\d\d/.exec(file)?.[0] ?? '';
  const kernel = r.machine?.kernel ?? '';
  const mode = r.drain?.raw?.batch?.started?.mode ?? r.cli?.mode ?? '';
  const prefix = file.startsWith('soak') ? ['soak'] : file.startsWith('host-cost') ? ['hostCost'] : [];
  const out: Array<[string, Point]> = [];
  for (const [figure, value, m, k] of leaves(r, prefix, mode, kernel)) out.push([figure, { file, date, kernel: k, mode: m, value }]);
  return out;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const W = 300;
const H = 120;
const PAD = 28;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const short = (v: number) => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toPrecision(3)}M` : Math.abs(v) >= 1e4 ? `${(v / 1e3).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

function chart(figure: string, points: Point[], series: string[]): string {
  const times = points.map((p) => Date.parse(p.date) || 0);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const v0 = Math.min(0, ...points.map((p) => p.value));
  const v1 = Math.max(...points.map((p) => p.value));
  const x = (t: number) => PAD + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (W - PAD - 8) : (W - PAD - 8) / 2);
  const y = (v: number) => H - 16 - (v1 > v0 ? ((v - v0) / (v1 - v0)) * (H - 32) : (H - 32) / 2);
  let svg = `<line x1="${PAD}" y1="${H - 16}" x2="${W - 8}" y2="${H - 16}" stroke="#999"/><line x1="${PAD}" y1="12" x2="${PAD}" y2="${H - 16}" stroke="#999"/>`;
  svg += `<text x="2" y="16" font-size="9">${short(v1)}</text><text x="2" y="${H - 16}" font-size="9">${short(v0)}</text>`;
  for (const s of series) {
    const mine = points.filter((p) => `${p.kernel} ${p.mode}`.trim() === s).sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
    if (!mine.length) continue;
    const colour = COLOURS[series.indexOf(s) % COLOURS.length];
    const xy = mine.map((p) => `${x(Date.parse(p.date) || 0).toFixed(1)},${y(p.value).toFixed(1)}`);
    if (xy.length > 1) svg += `<polyline fill="none" stroke="${colour}" points="${xy.join(' ')}"/>`;
    mine.forEach((p, i) => {
      const [cx, cy] = xy[i].split(',');
      svg += `<circle cx="${cx}" cy="${cy}" r="2.5" fill="${colour}"><title>${esc(`${p.date} ${s || '(no mode)'}: ${p.value} (${p.file})`)}</title></circle>`;
    });
  }
  return `<figure><svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${svg}</svg><figcaption>${esc(figure)}</figcaption></figure>`;
}

export function renderReport(files: Array<[string, unknown]>): string {
  const byFigure = new Map<string, Point[]>();
  for (const [file, json] of files) {
    for (const [figure, point] of pointsOf(file, json)) {
      if (!byFigure.has(figure)) byFigure.set(figure, []);
      byFigure.get(figure)!.push(point);
    }
  }
  const series = [...new Set([...byFigure.values()].flat().map((p) => `${p.kernel} ${p.mode}`.trim()))].sort();
  const legend = series.map((s, i) => `<span style="color:${COLOURS[i % COLOURS.length]}">● ${esc(s || '(no kernel or mode recorded)')}</span>`).join(' &nbsp; ');
  const sections = new Map<string, string[]>();
  for (const [figure, points] of [...byFigure.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const section = figure.split('.')[0];
    if (!sections.has(section)) sections.set(section, []);
    sections.get(section)!.push(chart(figure, points, series));
  }
  const body = [...sections.entries()].map(([name, charts]) => `<h2>${esc(name)}</h2><div class="grid">${charts.join('')}</div>`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>wxwatch bench results</title>
<style>body{font:13px sans-serif;margin:16px}.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;border:1px solid #ddd;padding:4px}figcaption{font-size:11px;max-width:${W}px;word-break:break-all}</style>
</head><body><h1>wxwatch bench results over time</h1>
<p>${files.length} result files in bench/results/; one chart per figure, a line per kernel and hook mode; hover a point for its value and file. Figures are as the runs wrote them, on a shared, noisy machine: compare ratios taken in the same run.</p>
<p>${legend}</p>
${body}
</body></html>
`;
}

function main(): void {
  // latest*.json repeat a dated file
  const names = readdirSync(RESULTS).filter((f) => f.endsWith('.json') && !/latest/.test(f)).sort();
  const files = names.map((f): [string, unknown] => [f, JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8'))]);
  const out = path.join(RESULTS, 'report.html');
  const html = renderReport(files);
  writeFileSync(out, html);
  console.log(`bench: wrote ${out} (${files.length} files, ${(html.match(/<figure>/g) ?? []).length} figures)`);
}

if (require.main === module) main();
