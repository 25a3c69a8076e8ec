// Summarise a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and the
// self time per file. For the "where does the time go" notes of a missed target.
//
//   node --import tsx bench/profile-top.ts <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function topFunctions(
  file: string,
  top = 25,
): { total: number; functions: Array<{ name: string; where: string; selfPct: number }>; files: Array<{ file: string; selfPct: number }> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const short = url.replace(/^file:\/\/.*?\/(node_modules|core|sinks|bench|plugins)\//, '$1/').replace(/^node:/, 'node:');
    const key = `${functionName || '(anonymous)'}\t${short ? `${short}:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = short ? short.replace(/^node_modules\/((@[^/]+\/)?[^/]+)\/.*/, 'node_modules/$1') : functionName.startsWith('(') ? functionName : '(native)';
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const functions = [...fn.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [name, where] = k.split('\t') as [string, string];
      return { name, where, selfPct: (100 * us) / total };
    });
  const fileList = [...files.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([f, us]) => ({ file: f, selfPct: (100 * us) / total }));
  return { total: total / 1e6, functions, files: fileList };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = topFunctions(process.argv[2]!, Number(process.argv[3] ?? 25));
  console.log(`profile: ${t.total.toFixed(1)} s sampled`);
  for (const f of t.functions) console.log(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.name.padEnd(40)} ${f.where}`);
  console.log('by file / package:');
  for (const f of t.files) console.log(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.file}`);
}
