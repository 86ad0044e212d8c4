// npm run bench -- --only process: the cost of pool.isolation: process (issue 20). hostd serves
// the same hello and POST echo apps (bench/apps) from a thread pool and from a process pool
// (one daemon process), one thread each, in one run, rounds interleaved; the bar is req/s at
// least 0.8× and CPU per request at most 1.3× the thread pool's. CPU is hostd's whole process
// tree: a daemon process runs in its own session, so hostd's process group alone would miss it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VhostConfig } from '../shared/config/types.js';
import { processCpuSeconds } from './cpu.js';
import { makeFixtures } from './fixtures.js';
import { processTree } from './memory.js';
import { startHostd } from './hostd.js';
import { APP_HOST, DYNAMIC_PATHS, STATIC_FILES } from './payloads.js';
import { freePort, killAll } from './procs.js';
import { runWrk } from './wrk.js';

export interface ProcessBenchOptions {
  repo: string;
  benchDir: string;
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
}

const POOLS = { thread: { threads: 1 }, process: { threads: 1, isolation: 'process' as const } };
type PoolKind = keyof typeof POOLS;

/** CPU seconds of `pid` and every process below it (its daemon processes). */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (processCpuSeconds(p) ?? 0), 0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runProcessPoolBench(o: ProcessBenchOptions): Promise<boolean> {
  const port = await freePort();
  const fixtures = makeFixtures(port);
  // The bench's own sites: /thread/* and /process/* on the app vhost, the same two apps on each.
  const apps = (Object.keys(POOLS) as PoolKind[]).flatMap((kind) => [
    { url: `/${kind}${DYNAMIC_PATHS.hello}`, module: join(o.benchDir, 'apps', 'hello.mjs'), pool: POOLS[kind] },
    { url: `/${kind}${DYNAMIC_PATHS.echo}`, module: join(o.benchDir, 'apps', 'echo.mjs'), pool: POOLS[kind] },
  ]);
  const vhosts: VhostConfig[] = [
    { serverName: '*', listen: `127.0.0.1:${port}`, static: [{ url: '/', dir: fixtures.files }] },
    { serverName: [APP_HOST], listen: `127.0.0.1:${port}`, apps },
  ];
  writeFileSync(join(fixtures.sites, 'static.json'), JSON.stringify(vhosts[0]));
  writeFileSync(join(fixtures.sites, 'app.json'), JSON.stringify(vhosts[1]));
  const { server } = await startHostd({ repo: o.repo, sites: fixtures.sites, port, probePath: `/${STATIC_FILES[0].name}` });
  const pid = server.proc.pid!;
  const scenarios = [
    { label: 'dynamic hello', path: DYNAMIC_PATHS.hello, script: undefined },
    { label: 'POST echo 1 KiB', path: DYNAMIC_PATHS.echo, script: join(o.benchDir, 'echo.lua') },
  ];
  const lines: string[] = [];
  let ok = true;
  try {
    for (const sc of scenarios) {
      const figures: Record<PoolKind, { rps: number[]; cpu: number[] }> = { thread: { rps: [], cpu: [] }, process: { rps: [], cpu: [] } };
      const wrk = (kind: PoolKind, durationS: number) =>
        runWrk({
          url: `http://127.0.0.1:${port}/${kind}${sc.path}`,
          threads: 1,
          connections: o.connections,
          durationS,
          script: sc.script,
          headers: { Host: APP_HOST },
        });
      for (const kind of Object.keys(POOLS) as PoolKind[]) if (o.warmupS > 0) await wrk(kind, o.warmupS);
      for (let round = 0; round < o.rounds; round++) {
        for (const kind of Object.keys(POOLS) as PoolKind[]) {
          const cpu0 = treeCpuSeconds(pid);
          const r = await wrk(kind, o.durationS);
          const cpu1 = treeCpuSeconds(pid);
          if (r.errors > 0) throw new Error(`${sc.label} on the ${kind} pool: ${r.errors} errors`);
          figures[kind].rps.push(r.rps);
          figures[kind].cpu.push(((cpu1 - cpu0) * 1e6) / r.requests);
        }
      }
      const t = { rps: median(figures.thread.rps), cpu: median(figures.thread.cpu) };
      const p = { rps: median(figures.process.rps), cpu: median(figures.process.cpu) };
      const rpsRatio = p.rps / t.rps;
      const cpuRatio = p.cpu / t.cpu;
      const pass = rpsRatio >= 0.8 && cpuRatio <= 1.3;
      ok &&= pass;
      lines.push(
        `${sc.label}: thread pool ${Math.round(t.rps)} req/s, ${t.cpu.toFixed(1)} µs CPU/request; ` +
          `process pool ${Math.round(p.rps)} req/s, ${p.cpu.toFixed(1)} µs CPU/request; ` +
          `req/s ${rpsRatio.toFixed(2)}× (≥ 0.8), CPU/request ${cpuRatio.toFixed(2)}× (≤ 1.3): ${pass ? 'PASS' : 'MISS'}`,
      );
    }
  } finally {
    await server.stop(15_000);
    killAll();
    fixtures.remove();
  }
  console.log(
    `\nprocess pools (issue 20), wrk -t1 -c${o.connections}, ${o.rounds} round(s) of ${o.durationS} s, medians:\n${lines.join('\n')}`,
  );
  return ok;
}
