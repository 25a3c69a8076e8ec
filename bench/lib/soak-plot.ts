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
      let path = '';
      let pen = false;
      for (const [m, v] of series.points) {
        if (!Number.isFinite(v)) {
          pen = false;
          continue;
        }
        path += `${pen ? 'L' : 'M'}${x(m).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
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
