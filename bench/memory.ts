// The memory part of the bench (issue 19): hostd as users run it (supervised, access log off),
// idle, measured as PSS summed over all of its processes (supervisor included; shared pages
// counted once, split between the processes sharing them) from /proc/PID/smaps_rollup:
//
//   one       one vhost with a 1-thread pool                      goal ≤ 80 MB
//   workers   the same pool with 4 threads: (PSS − one) / 3       goal ≤ 12 MB per extra idle worker
//   sites     50 sites (a vhost file and an app folder each), `minThreads: 0, idleTimeout: 1s`,
//             once their workers are reaped                       goal ≤ 110 MB in all
//             per site: (PSS(50 sites) − PSS(1 such site)) / 49   goal ≤ 0.5 MB
//   cold      the first request to a site with no worker, on 5 sites: start to last byte
//                                                                 goal ≤ 300 ms
//
//   npm run bench -- --only memory      (or: node --import tsx bench/memory.ts, after npm run build)

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostdCli } from './hostd.js';
import { median } from './report.js';
import { freePort, startServer, waitForHttp, type Server } from './procs.js';

const MB = 1024 * 1024;
const SITES = 50;
const COLD_SITES = 5;

export const MEMORY_GOALS = { oneMb: 80, perWorkerMb: 12, perSiteMb: 0.5, sitesMb: 110, coldMs: 300 } as const;

/** The process `root` and all its descendants (from /proc: each process's parent). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

function statusField(pid: number, file: 'smaps_rollup' | 'status', field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

export interface MemorySample {
  /** PSS of every process of the tree, bytes */
  pss: number;
  /** PSS per process (the supervisor first), bytes */
  perProcess: number[];
  /** threads in all, a sign of how many workers run */
  threads: number;
}

/** PSS (bytes) and threads summed over the process tree of `root`. */
export function treeMemory(root: number): MemorySample {
  const pids = processTree(root);
  const perProcess = pids.map((p) => statusField(p, 'smaps_rollup', 'Pss') * 1024);
  const threads = pids.reduce((a, p) => a + statusField(p, 'status', 'Threads'), 0);
  return { pss: perProcess.reduce((a, b) => a + b, 0), perProcess, threads };
}

/**
 * Waits until hostd is idle: the thread count unchanged (and at most `threadsAtMost`: idle
 * workers reaped) and PSS within 1 MB over 3 samples a second apart (start-up garbage
 * collected), at most `maxMs`. Also returns the highest PSS and thread count seen meanwhile.
 */
async function settle(
  root: number,
  o: { maxMs?: number; threadsAtMost?: number } = {},
): Promise<MemorySample & { peakPss: number; peakThreads: number; settled: boolean }> {
  const end = Date.now() + (o.maxMs ?? 60_000);
  const last: MemorySample[] = [];
  let peakPss = 0;
  let peakThreads = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = treeMemory(root);
    peakPss = Math.max(peakPss, now.pss);
    peakThreads = Math.max(peakThreads, now.threads);
    last.push(now);
    if (last.length > 3) last.shift();
    const settled =
      last.length === 3 &&
      last.every((s) => s.threads === now.threads) &&
      now.threads <= (o.threadsAtMost ?? Number.POSITIVE_INFINITY) &&
      Math.max(...last.map((s) => s.pss)) - Math.min(...last.map((s) => s.pss)) < MB;
    if (settled || Date.now() > end) return { ...now, peakPss, peakThreads, settled };
  }
}

/** One GET; resolves with the milliseconds to the last byte of a 200. */
function timedGet(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${host}${path}: status ${res.statusCode}`)),
      );
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${host}${path}: no answer in 30 s`)));
    req.on('error', reject);
  });
}

const HELLO = join(dirname(fileURLToPath(import.meta.url)), 'apps', 'hello.mjs');

/**
 * A sites dir of `n` sites, each a vhost file (`site<i>.bench`) mounting an app folder of its
 * own (package.json + app.mjs, as a hosted site has): one app root per site.
 */
function writeSites(root: string, port: number, n: number, pool: string): string {
  const sites = join(root, 'sites');
  mkdirSync(sites, { recursive: true });
  const hello = readFileSync(HELLO);
  for (let i = 0; i < n; i++) {
    const app = join(root, 'apps', `site${i}`);
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `site${i}`, private: true, type: 'module' }));
    writeFileSync(join(app, 'app.mjs'), hello);
    writeFileSync(
      join(sites, `site${i}.yaml`),
      `serverName: [site${i}.bench]\nlisten: "127.0.0.1:${port}"\napps:\n  - { url: /, module: ${JSON.stringify(join(app, 'app.mjs'))}, pool: { ${pool} } }\n`,
    );
  }
  return sites;
}

interface Run {
  server: Server;
  port: number;
  root: string;
}

/** hostd as users run it: supervised, the access log off, its status socket in a runtime dir of its own. */
async function startSites(repo: string, n: number, pool: string): Promise<Run> {
  const root = mkdtempSync(join(tmpdir(), 'hostd-bench-mem-'));
  const port = await freePort();
  const sites = writeSites(root, port, n, pool);
  const server = startServer('hostd', process.execPath, [hostdCli(repo), '--sites', sites, '--access-log', 'off'], {
    cwd: repo,
    env: { ...process.env, HOSTD_RUNTIME_DIR: join(root, 'run') },
  });
  await waitForHttp(server, port, '/', 60_000, 'site0.bench');
  return { server, port, root };
}

async function stop(run: Run): Promise<void> {
  await run.server.stop(15_000);
  rmSync(run.root, { recursive: true, force: true });
}

export interface MemoryResult {
  oneMb: number;
  /** the supervisor's share of `oneMb` */
  supervisorMb: number;
  fourWorkersMb: number;
  perWorkerMb: number;
  oneIdleSiteMb: number;
  sitesMb: number;
  perSiteMb: number;
  /** worker threads still running in the 50-site hostd when measured (0 when all were reaped) */
  sitesThreads: number;
  coldMs: number[];
  /** 1-minute load average at the end: a busy box slows the cold starts, not the PSS */
  loadavg1: number;
  checks: { what: string; value: number; goal: number; unit: string; ok: boolean }[];
}

const mb = (b: number) => b / MB;

export async function runMemoryBench(repo: string): Promise<MemoryResult> {
  const measure = async (
    n: number,
    pool: string,
    label: string,
    o: { threadsAtMost?: number; after?: (run: Run) => Promise<void> } = {},
  ) => {
    process.stdout.write(`memory: ${label} ... `);
    const run = await startSites(repo, n, pool);
    try {
      // One request first: the worker has loaded the app and answered, as a live site's has.
      if (!pool.includes('minThreads: 0')) await timedGet(run.port, 'site0.bench', '/');
      const s = await settle(run.server.proc.pid!, { maxMs: 180_000, threadsAtMost: o.threadsAtMost });
      console.log(
        `${mb(s.pss).toFixed(1)} MB PSS (${s.perProcess.map((p) => mb(p).toFixed(1)).join(' + ')}), ${s.threads} threads` +
          `; peak since it first answered ${mb(s.peakPss).toFixed(0)} MB, ${s.peakThreads} threads${s.settled ? '' : '; NOT settled within 180 s'}`,
      );
      await o.after?.(run);
      return s;
    } finally {
      await stop(run);
    }
  };
  const one = await measure(1, 'threads: 1', '1 site, 1-thread pool');
  const four = await measure(1, 'threads: 4', '1 site, 4-thread pool');
  // startTimeout: a hostd that starts every site's worker at once must not fail their loads on a
  // slow box (their loads are not what is measured here).
  const scaled = 'threads: 1, minThreads: 0, idleTimeout: 1s, startTimeout: 120s';
  const oneIdle = await measure(1, scaled, `1 site, ${scaled}`);
  const coldMs: number[] = [];
  // Measured once every worker is reaped: as many threads as the 1-site hostd without a worker.
  const sites = await measure(SITES, scaled, `${SITES} sites, ${scaled}`, {
    threadsAtMost: oneIdle.threads,
    after: async (run) => {
      // Cold sites: none of them has had a request, so none runs a worker.
      try {
        for (let i = 1; i <= COLD_SITES; i++) coldMs.push(await timedGet(run.port, `site${i}.bench`, '/'));
      } catch (err) {
        throw new Error(`${(err as Error).message}; hostd's last output:\n${run.server.output().trim().split('\n').slice(-15).join('\n')}`);
      }
      console.log(`memory: cold first request on ${COLD_SITES} sites: ${coldMs.map((t) => `${t.toFixed(0)} ms`).join(', ')}`);
    },
  });
  const r = {
    oneMb: mb(one.pss),
    supervisorMb: mb(one.perProcess[0] ?? 0),
    fourWorkersMb: mb(four.pss),
    perWorkerMb: mb(four.pss - one.pss) / 3,
    oneIdleSiteMb: mb(oneIdle.pss),
    sitesMb: mb(sites.pss),
    perSiteMb: mb(sites.pss - oneIdle.pss) / (SITES - 1),
    sitesThreads: sites.threads - oneIdle.threads,
    coldMs,
    loadavg1: loadavg()[0],
  };
  const g = MEMORY_GOALS;
  const checks = [
    { what: '1 vhost, 1-thread pool, supervisor included', value: r.oneMb, goal: g.oneMb, unit: 'MB' },
    { what: 'each further idle worker', value: r.perWorkerMb, goal: g.perWorkerMb, unit: 'MB' },
    { what: 'each site without a worker (minThreads: 0)', value: r.perSiteMb, goal: g.perSiteMb, unit: 'MB' },
    { what: `${SITES} sites, minThreads: 0, idle`, value: r.sitesMb, goal: g.sitesMb, unit: 'MB' },
    { what: "a cold site's first request (slowest of 5)", value: Math.max(...coldMs), goal: g.coldMs, unit: 'ms' },
  ].map((c) => ({ ...c, ok: c.value <= c.goal }));
  return { ...r, checks };
}

export function memoryText(r: MemoryResult): string {
  const lines = [
    `memory (PSS summed over hostd's processes, idle; issue 19):`,
    `  1 site, 1-thread pool:   ${r.oneMb.toFixed(1)} MB (supervisor ${r.supervisorMb.toFixed(1)} MB)`,
    `  1 site, 4-thread pool:   ${r.fourWorkersMb.toFixed(1)} MB → ${r.perWorkerMb.toFixed(1)} MB per extra idle worker`,
    `  1 site, minThreads: 0:   ${r.oneIdleSiteMb.toFixed(1)} MB`,
    `  ${SITES} sites, minThreads: 0: ${r.sitesMb.toFixed(1)} MB → ${r.perSiteMb.toFixed(2)} MB per site${r.sitesThreads > 0 ? ` (${r.sitesThreads} more threads than 1 site: workers not all reaped)` : ''}`,
    `  cold first request:      median ${median(r.coldMs).toFixed(0)} ms, slowest ${Math.max(...r.coldMs).toFixed(0)} ms (load average ${r.loadavg1.toFixed(1)})`,
  ];
  for (const c of r.checks)
    lines.push(
      `${c.ok ? 'PASS' : 'MISS'}        memory: ${c.what} ≤ ${c.goal} ${c.unit} (measured ${c.value.toFixed(c.unit === 'MB' && c.goal < 1 ? 2 : 1)} ${c.unit})`,
    );
  return lines.join('\n');
}

// Run on its own: node --import tsx bench/memory.ts
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runMemoryBench(dirname(dirname(fileURLToPath(import.meta.url))));
  console.log(`\n${memoryText(r)}`);
}
