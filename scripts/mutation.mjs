#!/usr/bin/env node
// `npm run mutation`: plants known bugs in the core rules, one at a time, and shows that a test fails
// for each (a test that still passes with the rule broken does not guard it). Not part of CI: it runs
// the named tests once unchanged and once per mutation (a few minutes; the real servers of
// `scripts/services up` for the integration ones, their settings read from .data/env).
//
//   npm run mutation                 every mutation
//   npm run mutation -- commit-rule  only those whose name contains an argument
//
// Each mutation names the exact text it replaces: when the code moved on and the text is gone, the
// mutation is reported as stale (exit 1) instead of being skipped silently. The file is restored
// after each run, also on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

const mutations = [
  {
    name: 'commit-rule',
    what: 'a transaction is committable while deliveries of it are still pending',
    file: 'core/checkpoint/commit-tracker.ts',
    from: 'if (segment.pending > 0) break;',
    to: 'if (segment.pending > 0 && segment.position === undefined) break;',
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'retry-from-first-retried',
    what: 'only the events answered "retry" are sent again, not everything after the first of them',
    file: 'core/runtime/sink-dispatcher.ts',
    from: '} else if (index < settledUpTo) settled.push(delivery);',
    to: "} else if (result.status === 'ok') settled.push(delivery);",
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'fencing-check',
    what: "a position write no longer checks the task's epoch (the version of its task node)",
    file: 'core/cluster/position-store.ts',
    from: "{ op: 'check', path: this.member.paths.task(lease.task), version: lease.epoch },",
    to: "{ op: 'check', path: this.member.paths.task(lease.task), version: -1 },",
    tests: ['test/integration/cluster-session.test.ts'],
  },
  {
    name: 'per-key-lane',
    what: 'Elasticsearch bulk lanes chosen round-robin instead of by index and _id',
    file: 'sinks/elasticsearch/sink.ts',
    from: 'hash(`${op.index}\\u0000${op.id}`) % o.concurrency',
    to: 'op.n % o.concurrency',
    tests: ['test/integration/sink-elasticsearch.test.ts', '-t', 'lanes'],
  },
  {
    name: 'schema-change-commit-wait',
    what: "a schema change's commit does not wait for the sinks to apply it",
    file: 'core/runtime/schema-changes.ts',
    from: '      segment.pending++;\n      dispatcher.enqueueSchemaChange({ change, segment });',
    to: '      dispatcher.enqueueSchemaChange({ change, segment });',
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'in-flight-cap',
    what: 'the source is not paused at maxInFlightRows',
    file: 'core/runtime/task-runner.ts',
    from: '      this.stats.sourcePaused = true;\n      this.source?.pause();',
    to: '      this.stats.sourcePaused = true;',
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'resume-below-half',
    what: 'the source resumes as soon as it is under the cap, not at half of it',
    file: 'core/runtime/task-runner.ts',
    from: 'this.inFlightRows <= this.config.maxInFlightRows / 2',
    to: 'this.inFlightRows < this.config.maxInFlightRows',
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'backoff-cap',
    what: 'the retry delay is not capped at maxDelayMs',
    file: 'core/runtime/backoff.ts',
    from: 'return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** doublings);',
    to: 'return options.initialDelayMs * 2 ** doublings;',
    tests: ['test/unit/task-runner.test.ts'],
  },
  {
    name: 'redis-fence',
    what: "the Redis sink's script writes a batch whatever newer epoch Redis holds for the task",
    file: 'sinks/redis/fenced-writer.ts',
    from: 'if current and tonumber(current) > tonumber(epoch) then',
    to: 'if false then',
    tests: ['test/integration/sink-fencing.test.ts', '-t', '^redis: '],
  },
  {
    name: 'es-external-version',
    what: 'Elasticsearch index and delete actions sent without the external version from the binlog position',
    file: 'sinks/elasticsearch/sink.ts',
    from: "{ _index: op.index, _id: op.id, version: op.version, version_type: 'external_gte' }",
    to: '{ _index: op.index, _id: op.id }',
    tests: ['test/integration/sink-fencing.test.ts', '-t', '^elasticsearch: '],
  },
  {
    name: 'receiver-stale-epoch',
    what: 'the webhook receiver helper accepts a delivery of an older epoch than it has seen for the task',
    file: 'sinks/http/receiver.ts',
    from: 'if (state && epoch < state.epoch) return',
    to: 'if (state && epoch < state.epoch && false) return',
    tests: ['test/integration/sink-fencing.test.ts', '-t', '^webhook: '],
  },
];

function loadServerEnv() {
  const file = resolve(root, '.data/env');
  if (!existsSync(file)) return {};
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

const env = { ...loadServerEnv(), ...process.env };

/**
 * Runs vitest on `args`; the outcome is read from its JSON results (the exit code alone also fails on
 * a reporter's own error). `failed` names the failing tests; `passed` is undefined without results.
 */
function runTests(args) {
  const started = Date.now();
  const dir = mkdtempSync(resolve(tmpdir(), 'tunnel-mutation-'));
  const json = resolve(dir, 'results.json');
  const res = spawnSync('npx', ['vitest', 'run', '--reporter=json', `--outputFile.json=${json}`, ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  let passed;
  let failed = [];
  if (existsSync(json)) {
    const results = JSON.parse(readFileSync(json, 'utf8'));
    failed = results.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `"${a.title}"`));
    const fileErrors = results.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed'));
    failed.push(...fileErrors.map((f) => `${f.name.replace(`${root}/`, '')} (${(f.message || 'failed').split('\n')[0].slice(0, 120)})`));
    passed = results.numFailedTests === 0 && results.numFailedTestSuites === 0 && results.numTotalTests > 0 && res.status === 0;
  }
  rmSync(dir, { recursive: true, force: true });
  return { passed, seconds: (Date.now() - started) / 1000, failed, tail: out.split('\n').slice(-25).join('\n') };
}

let restore;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    restore?.();
    process.exit(130);
  });
}

const filters = process.argv.slice(2);
const chosen = filters.length === 0 ? mutations : mutations.filter((m) => filters.some((f) => m.name.includes(f)));
if (chosen.length === 0) {
  console.error(`mutation: no mutation matches ${filters.join(', ')}; they are ${mutations.map((m) => m.name).join(', ')}`);
  process.exit(2);
}

// the tests must pass unchanged, or a failure under a mutation proves nothing
const suites = [...new Map(chosen.map((m) => [m.tests.join(' '), m.tests])).values()];
for (const tests of suites) {
  const base = runTests(tests);
  console.log(`baseline  ${tests.join(' ')}: ${base.passed ? 'pass' : 'FAIL'} (${base.seconds.toFixed(1)} s)`);
  if (!base.passed) {
    console.error(base.tail);
    process.exit(1);
  }
}

const rows = [];
for (const m of chosen) {
  const path = resolve(root, m.file);
  const original = readFileSync(path, 'utf8');
  const count = original.split(m.from).length - 1;
  if (count !== 1) {
    rows.push({ ...m, result: `STALE (the text occurs ${count} times)` });
    continue;
  }
  restore = () => writeFileSync(path, original);
  writeFileSync(path, original.replace(m.from, m.to));
  let run;
  try {
    run = runTests(m.tests);
  } finally {
    restore();
    restore = undefined;
  }
  const result =
    run.passed === undefined
      ? `NO RESULT (vitest wrote no results: ${run.tail.slice(-300)})`
      : run.passed
        ? 'SURVIVED'
        : `killed by ${run.failed.slice(0, 3).join('; ') || 'a failing run'}`;
  rows.push({ ...m, result, seconds: run.seconds });
  console.log(`${m.name}: ${result} (${run.seconds.toFixed(1)} s)`);
}

console.log('');
for (const r of rows) console.log(`${r.name} (${r.file}): ${r.what}\n  ${r.result}`);
const bad = rows.filter((r) => !r.result.startsWith('killed'));
console.log(`\n${rows.length - bad.length} of ${rows.length} mutations killed`);
process.exit(bad.length === 0 ? 0 : 1);
