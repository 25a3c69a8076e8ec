import type { Logger } from 'pino';

/**
 * Progress of a long job (an initial snapshot): a bar redrawn in place on a terminal, info log
 * lines every few seconds otherwise. No dependency: `\r` lines written to a TTY stream.
 */
export interface ProgressOptions {
  /** Shown before the bar and in the log lines, e.g. the task name. */
  label: string;
  /** Estimated total (e.g. information_schema TABLE_ROWS); 0 when unknown. */
  total?: number;
  /** Unit shown after the counts. Default "rows". */
  unit?: string;
  /** Where the bar goes. Default process.stderr. */
  stream?: NodeJS.WriteStream | { isTTY?: boolean; columns?: number; write(text: string): boolean };
  /** 'auto' (default): a bar when the stream is a TTY, log lines otherwise. */
  mode?: 'auto' | 'bar' | 'log' | 'off';
  logger?: Logger;
  /** Log line interval when not drawing a bar. Default 5000 ms. */
  logIntervalMs?: number;
  /** Shortest time between two redraws of the bar. Default 100 ms. */
  redrawMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface ProgressSnapshot {
  label: string;
  done: number;
  total: number;
  /** Units per second over the last few seconds. */
  rate: number;
  /** Seconds left at the current rate; undefined when unknown. */
  etaSeconds: number | undefined;
  elapsedSeconds: number;
  /** Free text shown after the figures (e.g. the table in progress). */
  detail?: string;
}

export interface Progress {
  /** Set the absolute count done (and optionally a new total estimate or detail). */
  update(done: number, options?: { total?: number; detail?: string }): void;
  /** Add to the count done. */
  add(count: number): void;
  readonly state: ProgressSnapshot;
  /** Draw the last state, end the line and stop logging. */
  finish(message?: string): void;
}

const RATE_WINDOW_MS = 5000;
const activeBars = new WeakMap<object, Set<() => ProgressSnapshot>>();

export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const stream = options.stream ?? process.stderr;
  const mode = options.mode === undefined || options.mode === 'auto' ? (stream.isTTY ? 'bar' : 'log') : options.mode;
  const unit = options.unit ?? 'rows';
  const started = now();
  const samples: Array<{ at: number; done: number }> = [{ at: started, done: 0 }];
  let done = 0;
  let total = options.total ?? 0;
  let detail: string | undefined;
  let lastDraw = 0;
  let lastLog = started;
  let finished = false;
  let drawn = false;

  const state = (): ProgressSnapshot => {
    const at = now();
    const rate = rateOf(samples, at, done);
    const remaining = Math.max(0, total - done);
    return {
      label: options.label,
      done,
      total,
      rate,
      etaSeconds: total > 0 && rate > 0 ? remaining / rate : undefined,
      elapsedSeconds: (at - started) / 1000,
      ...(detail ? { detail } : {}),
    };
  };

  const draw = (force: boolean): void => {
    const at = now();
    if (mode === 'bar') {
      if (!force && at - lastDraw < (options.redrawMs ?? 100)) return;
      lastDraw = at;
      const width = Math.max(40, (stream.columns || 100) - 1); // a pty without a size says 0
      const others = [...(activeBars.get(stream) ?? [])];
      // Several bars on one terminal line (tasks snapshotting at once): a compact part for each.
      const line =
        others.length <= 1
          ? formatProgressLine(state(), { width, unit })
          : others
              .map((bar) => formatCompact(bar()))
              .join(' | ')
              .slice(0, width);
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
    } else if (mode === 'log' && options.logger) {
      if (!force && at - lastLog < (options.logIntervalMs ?? 5000)) return;
      lastLog = at;
      const s = state();
      options.logger.info(
        {
          progress: options.label,
          done: s.done,
          total: s.total,
          percent: s.total > 0 ? Math.min(100, Math.round((s.done / s.total) * 1000) / 10) : null,
          ratePerSecond: Math.round(s.rate),
          etaSeconds: s.etaSeconds === undefined ? null : Math.round(s.etaSeconds),
          ...(s.detail ? { detail: s.detail } : {}),
        },
        `${options.label}: ${s.done} of ~${s.total} ${unit}`,
      );
    }
  };

  const record = (): void => {
    const at = now();
    const last = samples[samples.length - 1]!;
    if (at - last.at >= 250) samples.push({ at, done });
    while (samples.length > 2 && at - samples[1]!.at > RATE_WINDOW_MS) samples.shift();
  };

  if (mode === 'bar') {
    const set = activeBars.get(stream) ?? new Set();
    activeBars.set(stream, set);
    set.add(state);
  }

  return {
    update(value, extra) {
      if (finished) return;
      done = value;
      if (extra?.total !== undefined) total = extra.total;
      if (extra?.detail !== undefined) detail = extra.detail;
      record();
      draw(false);
    },
    add(count) {
      this.update(done + count);
    },
    get state() {
      return state();
    },
    finish(message) {
      if (finished) return;
      if (mode === 'bar') {
        draw(true);
        activeBars.get(stream)?.delete(state);
        stream.write(message ? `\r${message}\x1b[K\n` : drawn ? '\n' : '');
      } else if (mode === 'log' && options.logger) {
        const s = state();
        options.logger.info(
          { progress: options.label, done: s.done, elapsedSeconds: Math.round(s.elapsedSeconds * 10) / 10 },
          message ?? `${options.label}: done, ${s.done} ${unit}`,
        );
      }
      finished = true;
    },
  };
}

function rateOf(samples: ReadonlyArray<{ at: number; done: number }>, at: number, done: number): number {
  const first = samples[0]!;
  const seconds = (at - first.at) / 1000;
  return seconds > 0.2 ? (done - first.done) / seconds : 0;
}

/** `label [#########.........] 45.0% 90,000/200,000 rows 12,345 rows/s ETA 0:09 detail`, cut to width. */
export function formatProgressLine(s: ProgressSnapshot, options: { width?: number; unit?: string } = {}): string {
  const unit = options.unit ?? 'rows';
  const width = options.width ?? 100;
  const fraction = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
  const percent = s.total > 0 ? `${(fraction * 100).toFixed(1).padStart(5)}%` : '    ?%';
  // Fixed-width figures so that the bar does not jump as the numbers grow.
  const totalText = s.total > 0 ? formatCount(Math.max(s.total, s.done)) : '';
  const counts = `${formatCount(s.done).padStart(totalText.length)}/${s.total > 0 ? `~${totalText}` : '?'} ${unit}`;
  const rate = `${formatCount(Math.round(s.rate)).padStart(7)} ${unit}/s`;
  const eta = `ETA ${s.etaSeconds === undefined ? '--:--' : formatDuration(s.etaSeconds)}`;
  const figures = `${percent} ${counts} ${rate} ${eta}`;
  const tail = `${figures}${s.detail ? ` ${s.detail}` : ''}`;
  const barWidth = Math.max(10, Math.min(30, width - s.label.length - figures.length - 4));
  const filled = Math.round(fraction * barWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const line = `${s.label} ${bar} ${tail}`;
  return line.length > width ? line.slice(0, width) : line;
}

function formatCompact(s: ProgressSnapshot): string {
  const percent = s.total > 0 ? `${Math.min(100, (s.done / s.total) * 100).toFixed(0)}%` : formatCount(s.done);
  return `${s.label} ${percent} ETA ${s.etaSeconds === undefined ? '--:--' : formatDuration(s.etaSeconds)}`;
}

export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
