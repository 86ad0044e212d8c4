// --cpu-prof: hostd runs under `node --cpu-prof`, one .cpuprofile per thread (the front and each
// pool worker) lands in .bench/profiles/, and the top self-time functions of each are printed.
// Open the files in Chrome DevTools (Performance tab) or speedscope for the full picture.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function, busiest first, as printable lines; idle time is left out of the shares. */
export function topSelf(file: string, n = 15): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') {
      idle += dt;
      return;
    }
    const where = cf.url ? ` ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  const head = `${file.split('/').pop()}: busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`;
  const rows = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `  ${((t / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return [head, ...rows];
}

export function profileFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}
