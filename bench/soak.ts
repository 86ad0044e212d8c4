// The containment soak (issue 9): hostd as deployed (the built CLI, supervised) under mixed
// traffic for 10 minutes, with a fault injected every few seconds and a SIGHUP reload every 30 s.
//
//   npm run soak                      # 10 minutes
//   npm run soak -- --duration 90s    # a shorter smoke run
//
// Traffic, all on 127.0.0.1: keep-alive and one-request-per-connection clients; static files
// (1 KiB, 100 KiB, misses); dynamic GETs and POST bodies (1-64 KiB) to a healthy pool; uploads
// that are slow but within bodyTimeout; a trickle upload slower than bodyTimeout (hostile: it
// must get 408). Faults, in turn, in a pool of their own (/faulty): an app that throws (500),
// exits (502), busy-loops past requestTimeout (504), leaks 100 MiB of Buffers past memoryLimitMb
// (the worker is replaced). A light innocent stream also goes to /faulty: its errors are the
// documented collateral of a dying worker, counted apart.
//
// Then, the other traffic still running, two flood phases of `--flood` each (issue 18,
// bench/floods.ts): a WebSocket flood (512 KiB messages as fast as the socket takes them, at a
// handler taking 20 ms per message) and a cache-key flood (new Vary'd User-Agents, new URLs,
// new uncacheable URLs on a cached mount), each with the RSS before, at its peak and after.
//
// The claim it checks: zero errors among innocent requests outside the faulted pool (static and
// /app, across every fault, reload and flood), every fault's own request answered as documented,
// hostd exits 0 on SIGTERM, flat RSS (end within 20% + 32 MB of the start, after warm-up), and
// each flood's peak RSS within 20% + 64 MB of the RSS before it. Exit code 0 when all of that
// holds.
//
//   npm run soak -- --flood 30s       # each flood phase 30 s (default 60s; 0 leaves them out)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { parseDuration } from '../shared/config/index.js';
import { childrenOf, freePort, startCli } from '../test/fixtures/contain/proc.js';
import { parseResponses, RawConn, rssOf, sleep, VICTIM_APP } from '../test/fixtures/contain/net.js';
import { cacheKeyFlood, type FloodResult, floodPhase, floodText, wsFlood } from './floods.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    clients: { type: 'string', default: '8' },
    flood: { type: 'string', default: '60s' },
  },
});
const durationMs = parseDuration(values.duration);
if (durationMs === undefined) throw new Error(`--duration: "${values.duration}" is not a duration (90s, 10m)`);
const floodMs = values.flood === '0' ? 0 : parseDuration(values.flood);
if (floodMs === undefined) throw new Error(`--flood: "${values.flood}" is not a duration (30s, 2m) or 0`);
const KEEPALIVE_CLIENTS = Number(values.clients);
const FAULT_EVERY_MS = 3000;
const RELOAD_EVERY_MS = 30_000;
const WARMUP_MS = Math.min(30_000, durationMs / 5);
const MB = 1024 * 1024;
const BENCH_APPS = fileURLToPath(new URL('./apps/', import.meta.url));

type Group = 'innocent' | 'collateral' | 'fault';
const counts: Record<Group, Map<string, Map<string, number>>> = { innocent: new Map(), collateral: new Map(), fault: new Map() };
const errors: Record<Group, number> = { innocent: 0, collateral: 0, fault: 0 };
const totals: Record<Group, number> = { innocent: 0, collateral: 0, fault: 0 };
const examples: string[] = [];

/** Records one outcome: `outcome` is a status code or an error code; `ok` says whether it was the documented one. */
function record(group: Group, kind: string, outcome: string, ok: boolean): void {
  totals[group]++;
  const byKind = counts[group].get(kind) ?? new Map<string, number>();
  counts[group].set(kind, byKind);
  byKind.set(outcome, (byKind.get(outcome) ?? 0) + 1);
  if (!ok) {
    errors[group]++;
    if (group === 'innocent' && examples.length < 20) examples.push(`${new Date().toISOString()} ${kind}: ${outcome}`);
  }
}

async function site(port: number): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hostd-soak-'));
  const dir = join(root, 'sites');
  await mkdir(dir);
  await mkdir(join(root, 'www'));
  await writeFile(join(root, 'www', '1k.bin'), Buffer.alloc(1024, 'a'));
  await writeFile(join(root, 'www', '100k.bin'), Buffer.alloc(100 * 1024, 'b'));
  await writeFile(
    join(dir, 'soak.yaml'),
    `serverName: ["*"]
listen: "127.0.0.1:${port}"
static: [{ url: /s, dir: ../www }]
apps:
  - { url: /app, module: ${JSON.stringify(VICTIM_APP)}, bodyTimeout: 5s, pool: { threads: 2, requestTimeout: 5s, memoryLimitMb: 128 } }
  - { url: /faulty, module: ${JSON.stringify(VICTIM_APP)}, bodyTimeout: 3s, pool: { threads: 2, requestTimeout: 1s, memoryLimitMb: 64 } }
  - { url: /wsflood, module: ${JSON.stringify(join(BENCH_APPS, 'slow-ws.mjs'))}, pool: { threads: 1 } }
  - { url: /cached, module: ${JSON.stringify(join(BENCH_APPS, 'vary.mjs'))}, cache: { maxSize: 8mb }, pool: { threads: 1 } }
`,
  );
  return { root, dir };
}

const port = await freePort();
const s = await site(port);
const errorLog = join(s.root, 'error.log');
const hostd = startCli([
  '--sites',
  s.dir,
  '--access-log',
  'off',
  '--error-log',
  errorLog,
  '--status',
  '127.0.0.1:0',
  '--graceful-timeout',
  '10s',
]);
const base = `http://127.0.0.1:${port}`;
let stopping = false;
let servingPid = 0;

async function readLog(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(errorLog, 'utf8').catch(() => '');
}

async function waitForLog(re: RegExp, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(await readLog())) {
    if (Date.now() > end) throw new Error(`hostd did not log ${re} within ${ms} ms:\n${await readLog()}`);
    await sleep(100);
  }
}

const keepAlive = new Agent({ connections: 64, keepAliveTimeout: 4000, headersTimeout: 20_000, bodyTimeout: 20_000 });
const faultAgent = new Agent({ headersTimeout: 20_000, bodyTimeout: 20_000 });

/** One HTTP request through undici; records its outcome. */
async function one(
  group: Group,
  kind: string,
  path: string,
  expect: number[],
  opts: { method?: string; body?: Buffer; close?: boolean; agent?: Agent } = {},
): Promise<void> {
  try {
    const res = await request(`${base}${path}`, {
      method: (opts.method ?? 'GET') as 'GET',
      body: opts.body,
      reset: opts.close === true,
      dispatcher: opts.agent ?? keepAlive,
    });
    await res.body.dump();
    record(group, kind, String(res.statusCode), expect.includes(res.statusCode));
  } catch (err) {
    record(group, kind, (err as { code?: string }).code ?? (err as Error).message, false);
  }
}

const INNOCENT: Array<() => Promise<void>> = [
  () => one('innocent', 'static 1k', '/s/1k.bin', [200]),
  () => one('innocent', 'static 100k', '/s/100k.bin', [200]),
  () => one('innocent', 'static miss', '/s/missing.bin', [404]),
  () => one('innocent', 'dynamic GET', '/app/hello', [200]),
  () => one('innocent', 'dynamic GET slow 50ms', '/app/slow?ms=50', [200]),
  () => one('innocent', 'POST 1k', '/app/echo', [200], { method: 'POST', body: Buffer.alloc(1024, 'p') }),
  () => one('innocent', 'POST 64k', '/app/echo', [200], { method: 'POST', body: Buffer.alloc(64 * 1024, 'q') }),
];

async function keepAliveLoop(c: number): Promise<void> {
  let i = c;
  while (!stopping) await INNOCENT[i++ % INNOCENT.length]();
}

async function closeLoop(): Promise<void> {
  let i = 0;
  while (!stopping) {
    const paths = ['/s/1k.bin', '/app/hello', '/s/100k.bin'];
    await one('innocent', 'no keep-alive', paths[i++ % paths.length], [200], { close: true });
    await sleep(20);
  }
}

/** A body sent in 1 KiB pieces every 200 ms: slow, but far within bodyTimeout. */
async function slowUpload(): Promise<void> {
  const size = 8 * 1024;
  const c = new RawConn(port).send(`POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
  for (let sent = 0; sent < size && !c.isClosed; sent += 1024) {
    await sleep(200);
    c.send(Buffer.alloc(1024, 's'));
  }
  await c.closed.catch(() => undefined);
  const r = parseResponses(c.text)[0];
  record(
    'innocent',
    'slow upload (8 KiB over 1.6 s)',
    r ? String(r.status) : c.error || 'closed without answer',
    r?.status === 200 && r.body === `{"bytes":${size}}`,
  );
}

async function slowLoop(): Promise<void> {
  while (!stopping) await slowUpload();
}

/** Hostile: one byte every 300 ms, slower than bodyTimeout allows: must get 408. */
async function trickle(): Promise<void> {
  const c = new RawConn(port).send('POST /faulty/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n');
  const timer = setInterval(() => c.send('x'), 300);
  await c.until((x) => x.text !== '', 30_000).catch(() => undefined);
  clearInterval(timer);
  c.destroy();
  const r = parseResponses(c.text)[0];
  record('fault', 'trickle upload', r ? String(r.status) : 'no answer', r?.status === 408);
}

async function collateralLoop(): Promise<void> {
  while (!stopping) {
    // The faulted pool's innocent requests: 502/504 when they shared a dying worker (documented).
    await one('collateral', 'GET /faulty/hello', '/faulty/hello', [200]);
    await sleep(100);
  }
}

const FAULTS: Array<() => Promise<void>> = [
  () => one('fault', 'app throws', '/faulty/throw', [500], { agent: faultAgent }),
  () => one('fault', 'app exits', '/faulty/exit', [502], { agent: faultAgent }),
  () => one('fault', 'busy loop past requestTimeout', '/faulty/busy', [504], { agent: faultAgent }),
  // Answered before the sweep sees the worker over its limit (200), or cut by the replacement (502).
  () => one('fault', 'leak 100 MiB past memoryLimitMb', '/faulty/leak?n=100', [200, 502], { agent: faultAgent }),
  trickle,
];

async function faultLoop(): Promise<void> {
  let i = 0;
  while (!stopping) {
    const started = Date.now();
    void FAULTS[i++ % FAULTS.length]();
    await pause(Math.max(0, FAULT_EVERY_MS - (Date.now() - started)));
  }
}

/** Sleeps `ms`, or less once the soak is stopping. */
async function pause(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!stopping && Date.now() < end) await sleep(Math.min(250, end - Date.now()));
}

let reloads = 0;
async function reloadLoop(): Promise<void> {
  while (!stopping) {
    await pause(RELOAD_EVERY_MS);
    if (stopping) break;
    hostd.proc.kill('SIGHUP');
    reloads++;
  }
}

const rssSamples: { t: number; mb: number }[] = [];
async function rssLoop(t0: number): Promise<void> {
  while (!stopping) {
    rssSamples.push({ t: Math.round((Date.now() - t0) / 1000), mb: Math.round(rssOf(servingPid) / MB) });
    await pause(10_000);
  }
}

try {
  await waitForLog(/listening address=/);
  await waitForLog(/status endpoint/);
  const statusOrigin = /status endpoint status=(http:\/\/[^\s]+)\/status/.exec(await readLog())![1];
  servingPid = childrenOf(hostd.proc.pid!).find((pid) => rssOf(pid) > 0)!;
  console.log(`soak: ${values.duration} against hostd (supervisor ${hostd.proc.pid}, serving process ${servingPid}) on ${base}`);
  const t0 = Date.now();
  const loops = [
    ...Array.from({ length: KEEPALIVE_CLIENTS }, (_, c) => keepAliveLoop(c)),
    closeLoop(),
    closeLoop(),
    slowLoop(),
    slowLoop(),
    collateralLoop(),
    faultLoop(),
    reloadLoop(),
    rssLoop(t0),
  ];
  await sleep(WARMUP_MS);
  const rssStart = rssOf(servingPid);
  const innocentAtWarmup = totals.innocent;
  let lastReport = Date.now();
  while (Date.now() - t0 < durationMs) {
    await sleep(1000);
    if (Date.now() - lastReport >= 60_000) {
      lastReport = Date.now();
      console.log(
        `  ${Math.round((Date.now() - t0) / 1000)} s: ${totals.innocent} innocent requests (${errors.innocent} errors), ${totals.fault} faults, ${reloads} reloads, RSS ${Math.round(rssOf(servingPid) / MB)} MB`,
      );
    }
  }
  // The floods, one after the other, while the rest of the traffic goes on.
  const floods: FloodResult[] = [];
  if (floodMs > 0) {
    const rss = () => rssOf(servingPid);
    for (const [name, flood] of [
      ['WebSocket flood', wsFlood(port, '/wsflood')],
      ['cache-key flood', cacheKeyFlood(`${base}/cached`)],
    ] as const) {
      console.log(`  ${Math.round((Date.now() - t0) / 1000)} s: ${name} for ${values.flood}`);
      floods.push(await floodPhase(name, floodMs, rss, flood));
    }
  }
  stopping = true;
  const ranMs = Date.now() - t0;
  await Promise.allSettled(loops);
  const rssEnd = rssOf(servingPid);
  const metrics = await (await request(`${statusOrigin}/metrics`)).body.text();
  hostd.proc.kill('SIGTERM');
  const code = await hostd.exited;

  const log = await readLog();
  const reloaded = (log.match(/reloaded generation=/g) ?? []).length;
  const reloadFailed = (log.match(/reload failed/g) ?? []).length;
  const restarts: Record<string, number> = {};
  for (const m of metrics.matchAll(/^hostd_pool_worker_restarts_total\{[^}]*mount="([^"]*)"[^}]*reason="([^"]*)"\} (\d+)$/gm))
    if (Number(m[3]) > 0) restarts[`${m[1]} ${m[2]}`] = Number(m[3]);
  const show = (g: Group) =>
    [...counts[g].entries()].map(([kind, by]) => `    ${kind}: ${[...by.entries()].map(([o, n]) => `${o} × ${n}`).join(', ')}`).join('\n');
  const flat = rssEnd <= rssStart * 1.2 + 32 * MB;
  console.log(`
soak over: ${Math.round(ranMs / 1000)} s, ${KEEPALIVE_CLIENTS} keep-alive clients, 2 one-shot clients, 2 slow uploaders, faults every ${FAULT_EVERY_MS / 1000} s, SIGHUP every ${RELOAD_EVERY_MS / 1000} s
requests: ${totals.innocent + totals.collateral + totals.fault} (innocent ${totals.innocent}, of them ${totals.innocent - innocentAtWarmup} after warm-up; to the faulted pool ${totals.collateral}; faults ${totals.fault})
innocent requests (static, /app): ${errors.innocent} errors
${show('innocent')}
innocent requests to the faulted pool (collateral of dying workers, documented): ${errors.collateral} not 200
${show('collateral')}
injected faults: ${errors.fault} answered other than documented
${show('fault')}
reloads: ${reloads} SIGHUP sent, ${reloaded} reloaded, ${reloadFailed} failed
worker restarts: ${JSON.stringify(restarts)}
RSS of the serving process: ${Math.round(rssStart / MB)} MB after ${Math.round(WARMUP_MS / 1000)} s warm-up, ${Math.round(rssEnd / MB)} MB at the end (${flat ? 'flat' : 'GREW'}); samples every 10 s: ${rssSamples.map((x) => x.mb).join(' ')}
floods (RSS of the serving process; flat: peak ≤ before + 20% + 64 MB):${floods.length ? '' : ' none (--flood 0)'}
${floods.map((f) => `  ${floodText(f)}`).join('\n')}
hostd exit code after SIGTERM: ${code}`);
  if (examples.length) console.log(`first innocent errors:\n  ${examples.join('\n  ')}`);
  const pass =
    errors.innocent === 0 &&
    errors.fault === 0 &&
    code === 0 &&
    flat &&
    floods.every((f) => f.flat) &&
    reloadFailed === 0 &&
    reloaded === reloads;
  console.log(pass ? 'PASS' : 'FAIL');
  process.exitCode = pass ? 0 : 1;
} finally {
  stopping = true;
  await hostd.stop('SIGKILL');
  await keepAlive.close();
  await faultAgent.close();
  await rm(s.root, { recursive: true, force: true });
}
