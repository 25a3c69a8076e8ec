// The newcomer check on README.md and docs/*.md: every relative link resolves (file and #anchor), every
// repository path written in backticks exists, and every code block marked ```ts config or ```ts example
// type-checks against the project's types, importing Tunnel the way a user's project does.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { packageInfo } from '../../core/package/index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The public import paths the docs use, and the source file each stands for: package.json's `exports`
 * (`tunnel`, `tunnel/plugins`, `tunnel/sinks/<name>`), each mapped from its dist/ file to its source.
 */
const PUBLIC_IMPORTS: Record<string, string> = packageInfo().entries;

/** Top-level folders whose paths the docs may name in backticks (`core/runtime/task-runner.ts`). */
const REPO_DIRS = ['core', 'sinks', 'plugins', 'test', 'bench', 'scripts', 'bin', 'docs', 'examples'];

interface Page {
  /** Repository-relative path, e.g. `docs/cluster.md`. */
  file: string;
  text: string;
  /** The text with fenced code blocks and inline code spans blanked out (line breaks kept). */
  prose: string;
  codeSpans: Array<{ text: string; line: number }>;
  blocks: Array<{ info: string; code: string; line: number }>;
  anchors: Set<string>;
}

const lineAt = (text: string, offset: number) => text.slice(0, offset).split('\n').length;
const blank = (text: string) => text.replace(/[^\n]/g, ' ');

/** GitHub's heading anchor: the rendered text, lowercased, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/(\*\*|__|\*)/g, '')
    .trim();
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function readPage(file: string): Page {
  const text = readFileSync(join(root, file), 'utf8');
  const lines = text.split('\n');
  const blocks: Page['blocks'] = [];
  const outside: string[] = [];
  let fence: { marker: string; info: string; line: number; body: string[] } | undefined;
  lines.forEach((line, index) => {
    const open = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (!fence && open) {
      fence = { marker: open[1]!, info: open[2]!.trim(), line: index + 1, body: [] };
      outside.push('');
    } else if (fence) {
      if (line.trim().startsWith(fence.marker) && line.trim().replace(/[`~]/g, '') === '') {
        blocks.push({ info: fence.info, code: fence.body.join('\n'), line: fence.line });
        fence = undefined;
      } else fence.body.push(line);
      outside.push('');
    } else outside.push(line);
  });
  let prose = outside.join('\n');
  const codeSpans: Page['codeSpans'] = [];
  prose = prose.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (match, _ticks: string, body: string, offset: number) => {
    codeSpans.push({ text: body.trim(), line: lineAt(prose, offset) });
    return blank(match);
  });
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of outside) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = headingSlug(heading[1]!);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return { file, text, prose, codeSpans, blocks, anchors };
}

const pageFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const pages = new Map(pageFiles.map((file) => [file, readPage(file)]));

describe('docs: README.md and docs/*.md', () => {
  it('every relative link resolves to a file, and every #anchor to a heading of it', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages.values()) {
      const targets: Array<{ target: string; line: number }> = [];
      for (const m of page.prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push({ target: m[1]!, line: lineAt(page.prose, m.index) });
      for (const m of page.prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*(\S+)/gm)) targets.push({ target: m[1]!, line: lineAt(page.prose, m.index) });
      for (const { target, line } of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
        checked++;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? page.file : relative(root, resolve(root, dirname(page.file), decodeURIComponent(path)));
        const where = `${page.file}:${line}: (${target})`;
        if (file.startsWith('..') || !existsSync(join(root, file))) {
          broken.push(`${where} names a file that does not exist`);
          continue;
        }
        if (anchor === undefined || anchor === '') continue;
        const linked = pages.get(file) ?? (file.endsWith('.md') ? readPage(file) : undefined);
        if (!linked) broken.push(`${where} has an anchor, but ${file} is not a markdown page`);
        else if (!linked.anchors.has(anchor)) broken.push(`${where} names no heading of ${file}; its anchors: ${[...linked.anchors].join(', ')}`);
      }
    }
    expect(broken, broken.join('\n')).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it('every repository path written in backticks exists', () => {
    const missing: string[] = [];
    const pattern = new RegExp(`^(?:${REPO_DIRS.join('|')})/[A-Za-z0-9_.\\-/]*$`);
    let checked = 0;
    for (const page of pages.values()) {
      for (const span of page.codeSpans) {
        if (!pattern.test(span.text)) continue;
        checked++;
        if (!existsSync(join(root, span.text))) missing.push(`${page.file}:${span.line}: \`${span.text}\` does not exist`);
      }
    }
    expect(missing, missing.join('\n')).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  describe('code blocks marked ```ts config / ```ts example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-docs-check-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('type-check against the public API, and every config example default-exports defineConfig()', () => {
      const files = new Map<string, { page: string; line: number }>();
      const problems: string[] = [];
      for (const page of pages.values()) {
        for (const block of page.blocks) {
          const [lang, ...words] = block.info.split(/\s+/);
          if (lang !== 'ts' && lang !== 'typescript') continue;
          const isConfig = words.includes('config');
          if (!isConfig && !words.includes('example')) continue;
          if (isConfig && !/^export default defineConfig\(/m.test(block.code)) {
            problems.push(`${page.file}:${block.line}: a config example must \`export default defineConfig({...})\``);
          }
          const file = join(dir, `${page.file.replace(/[/.]/g, '_')}_${block.line}.ts`);
          writeFileSync(file, `${block.code}\n`);
          files.set(file, { page: page.file, line: block.line });
        }
      }
      expect(files.size).toBeGreaterThan(5);
      // An ES module package, like a user's project.
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');

      const program = ts.createProgram([...files.keys()], {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ['lib.es2023.d.ts'],
        strict: true,
        noUncheckedIndexedAccess: true,
        esModuleInterop: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        paths: Object.fromEntries(Object.entries(PUBLIC_IMPORTS).map(([name, file]) => [name, [file]])),
      });
      for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
        const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
        const source = diagnostic.file && files.get(diagnostic.file.fileName);
        if (diagnostic.file && source && diagnostic.start !== undefined) {
          const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
          // +1: the fence line itself; +1: 1-based
          problems.push(`${source.page}:${source.line + line + 1}: TS${diagnostic.code} ${message}`);
        } else {
          problems.push(`${diagnostic.file ? relative(root, diagnostic.file.fileName) : '(program)'}: TS${diagnostic.code} ${message}`);
        }
      }
      expect(problems, problems.join('\n')).toEqual([]);
    }, 60_000);
  });
});

describe('headingSlug (GitHub rule)', () => {
  it.each([
    ['Operations: status endpoint, metrics, dashboard, `tunnel status`', 'operations-status-endpoint-metrics-dashboard-tunnel-status'],
    ['Initial snapshot (backfill) and the handoff to the binlog', 'initial-snapshot-backfill-and-the-handoff-to-the-binlog'],
    ['Ownership, fencing and session loss', 'ownership-fencing-and-session-loss'],
    ['The `snapshot_rows` gauge', 'the-snapshot_rows-gauge'],
    ['A — B', 'a--b'],
  ])('%s → %s', (heading, slug) => {
    expect(headingSlug(heading)).toBe(slug);
  });
});
