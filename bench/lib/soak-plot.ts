// The soak run's figure: panels of time series that share the time axis (minutes), one line per series,
// with the moments of the kills as dashed vertical lines, written as a standalone SVG.

export interface Series {
  name: string;
  /** [minutes since the start, value]; NaN leaves a gap (a worker being restarted). */
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
  /**
   * How the samples of one plotted point are merged when there are more samples than MAX_POINTS:
   * 'max' keeps peaks (RSS, lag), 'last' suits a cumulative count. Default 'max'.
   */
  merge?: 'max' | 'last';
}

export interface Marker {
  atMinutes: number;
  label: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const WIDTH = 960;
const PANEL_HEIGHT = 220;
const LEFT = 70;
const RIGHT = 170;
const TOP = 50;
const GAP = 60;

/** Points per series at most (two pixels each): a 30-minute run of 1-second samples stays a small file. */
const MAX_POINTS = 360;

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step giving about `count` ticks over [0, max]. */
function tickStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return step;
}

const fmt = (value: number) => String(Number(value.toFixed(2)));

/** At most MAX_POINTS points over [0, xMax]: the samples of each slice merged; a slice with none finite is a gap. */
export function mergePoints(points: ReadonlyArray<[number, number]>, xMax: number, merge: 'max' | 'last'): Array<[number, number]> {
  if (points.length <= MAX_POINTS) return [...points];
  const slices = new Map<number, Array<[number, number]>>();
  for (const point of points) {
    const slice = Math.min(MAX_POINTS - 1, Math.floor((point[0] / xMax) * MAX_POINTS));
    let list = slices.get(slice);
    if (!list) slices.set(slice, (list = []));
    list.push(point);
  }
  return [...slices.values()].map((list) => {
    const finite = list.filter(([, v]) => Number.isFinite(v));
    if (finite.length === 0) return [list.at(-1)![0], NaN];
    const pick = merge === 'last' ? finite.at(-1)! : finite.reduce((a, b) => (b[1] > a[1] ? b : a));
    return [list.at(-1)![0], pick[1]];
  });
}

export function renderPlot(options: { title: string; subtitle: string; minutes: number; panels: Panel[]; markers: Marker[] }): string {
  const { panels, markers } = options;
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const xMax = Math.max(options.minutes, 1e-6);
  const x = (minutes: number) => LEFT + (minutes / xMax) * plotWidth;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="16" font-weight="bold">${esc(options.title)}</text>`,
    `<text x="${LEFT}" y="38" fill="#555">${esc(options.subtitle)}</text>`,
  ];
  const xStep = tickStep(xMax, 10);
  panels.forEach((panel, index) => {
    const top = TOP + index * (PANEL_HEIGHT + GAP) + 20;
    const bottom = top + PANEL_HEIGHT;
    const values = panel.series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => Number.isFinite(v));
    const yMaxRaw = Math.max(0, ...values);
    const yStep = tickStep(yMaxRaw || 1, 5);
    const yMax = Math.max(yStep, Math.ceil(yMaxRaw / yStep) * yStep);
    const y = (value: number) => bottom - (value / yMax) * PANEL_HEIGHT;
    out.push(`<text x="${LEFT}" y="${top - 8}" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`);
    for (let v = 0; v <= yMax + 1e-9; v += yStep) {
      out.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
      out.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmt(v)}</text>`);
    }
    for (let m = 0; m <= xMax + 1e-9; m += xStep) {
      out.push(`<text x="${x(m).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#333">${fmt(m)}</text>`);
    }
    out.push(`<text x="${LEFT + plotWidth / 2}" y="${bottom + 32}" text-anchor="middle" fill="#555">minutes</text>`);
    for (const marker of markers) {
      out.push(
        `<line x1="${x(marker.atMinutes).toFixed(1)}" x2="${x(marker.atMinutes).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`,
      );
      if (index === 0) out.push(`<text x="${(x(marker.atMinutes) + 3).toFixed(1)}" y="${top + 12}" fill="#666" font-size="10">${esc(marker.label)}</text>`);
    }
    panel.series.forEach((series, i) => {
      const color = COLORS[i % COLORS.length]!;
      // a run of points at the same height is drawn from its first to its last point only
      const points = mergePoints(series.points, xMax, panel.merge ?? 'max');
      let path = '';
      for (let p = 0; p < points.length; p++) {
        const [m, v] = points[p]!;
        if (!Number.isFinite(v)) continue;
        const py = y(v).toFixed(1);
        const prev = points[p - 1];
        const next = points[p + 1];
        const pen = prev !== undefined && Number.isFinite(prev[1]);
        const flat = pen && next !== undefined && Number.isFinite(next[1]) && y(prev[1]).toFixed(1) === py && y(next[1]).toFixed(1) === py;
        if (!flat) path += `${pen ? 'L' : 'M'}${x(m).toFixed(1)},${py}`;
      }
      out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
      out.push(
        `<line x1="${LEFT + plotWidth + 12}" x2="${LEFT + plotWidth + 32}" y1="${top + 10 + i * 18}" y2="${top + 10 + i * 18}" stroke="${color}" stroke-width="2"/>`,
      );
      out.push(`<text x="${LEFT + plotWidth + 38}" y="${top + 14 + i * 18}">${esc(series.name)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
