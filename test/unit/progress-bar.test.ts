import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createProgress, formatDuration, formatProgressLine } from '../../core/progress/index.ts';

class FakeTty {
  isTTY = true;
  columns = 100;
  out = '';
  write(text: string): boolean {
    this.out += text;
    return true;
  }
}

describe('progress', () => {
  it('formats a bar line with percent, counts, rate and ETA', () => {
    const line = formatProgressLine({ label: 'snapshot t1', done: 90_000, total: 200_000, rate: 12_345, etaSeconds: 9, elapsedSeconds: 7 }, { width: 120 });
    expect(line).toContain('snapshot t1 [');
    expect(line.replace(/ +/g, ' ')).toContain(' 45.0% 90,000/~200,000 rows 12,345 rows/s ETA 0:09');
    expect(line).toMatch(/\[#+\.+\]/);
    expect(formatProgressLine({ label: 'x', done: 5, total: 0, rate: 0, etaSeconds: undefined, elapsedSeconds: 1 }).replace(/ +/g, ' ')).toContain(
      '?% 5/? rows 0 rows/s ETA --:--',
    );
  });

  it('keeps the bar where it is while the figures grow', () => {
    const at = (done: number, rate: number) =>
      formatProgressLine({ label: 's', done, total: 1_000_000, rate, etaSeconds: 5, elapsedSeconds: 1 }, { width: 120 });
    const a = at(5, 3);
    const b = at(999_999, 401_234);
    expect(a.indexOf(']')).toBe(b.indexOf(']'));
    expect(a.length).toBe(b.length);
  });

  it('cuts the line to the terminal width', () => {
    const line = formatProgressLine(
      { label: 'a-very-long-task-name', done: 1, total: 2, rate: 1, etaSeconds: 1, elapsedSeconds: 1, detail: 'schema.table_with_a_long_name' },
      { width: 50 },
    );
    expect(line.length).toBeLessThanOrEqual(50);
  });

  it('formats durations', () => {
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(0)).toBe('0:00');
  });

  it('redraws in place on a TTY with \\r and ends the line on finish', () => {
    let now = 0;
    const tty = new FakeTty();
    const bar = createProgress({ label: 'snap', total: 1000, stream: tty, now: () => now, redrawMs: 0 });
    for (let i = 1; i <= 10; i++) {
      now += 1000;
      bar.update(i * 100);
    }
    expect(tty.out.split('\r').length).toBeGreaterThan(10);
    expect(tty.out.replace(/ +/g, ' ')).toContain('100.0% 1,000/~1,000 rows 100 rows/s');
    expect(bar.state.rate).toBeCloseTo(100, 0);
    bar.finish('snap: done');
    expect(tty.out.endsWith('\rsnap: done\x1b[K\n')).toBe(true);
  });

  it('computes the ETA from the recent rate', () => {
    let now = 0;
    const bar = createProgress({ label: 's', total: 10_000, stream: new FakeTty(), now: () => now, mode: 'off' });
    for (let i = 1; i <= 4; i++) {
      now += 1000;
      bar.update(i * 500);
    }
    expect(bar.state.rate).toBeCloseTo(500, 0);
    expect(bar.state.etaSeconds).toBeCloseTo(16, 0);
  });

  it('logs every interval instead of drawing when the stream is not a TTY', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    let now = 0;
    const stream = {
      isTTY: false,
      out: '',
      write(t: string) {
        this.out += t;
        return true;
      },
    };
    const bar = createProgress({ label: 'snapshot t1', total: 100, stream, logger, logIntervalMs: 5000, now: () => now });
    for (let i = 1; i <= 20; i++) {
      now += 1000;
      bar.update(i * 5);
    }
    bar.finish();
    expect(stream.out).toBe('');
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        const progressLines = lines.filter((l) => l.progress === 'snapshot t1');
        // t = 5, 10, 15, 20 s, and the final line
        expect(progressLines.length).toBe(5);
        expect(progressLines[0]).toMatchObject({ done: 25, total: 100, percent: 25 });
        expect(progressLines[0]!.ratePerSecond).toBe(5);
        resolve();
      }),
    );
  });
});
