// npm run bench: hostd against raw uWebSockets.js, nginx and node:http on this machine, in one
// run, interleaved (A,B,C,A,B,C,…) so that drift (thermal, noisy neighbours) hits every server
// alike. Prints medians, ratios and PASS/MISS against the targets of issues 2, 3, 12, 14 and 17,
// and writes .bench/results.json. See bench/README.md.
//
//   npm run bench [-- --quick] [-- --only static|dynamic|node|websocket|memory] [-- --rounds N --duration S]
//                 [-- --without nginx,node-http,...] [-- --strict]

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startHostd } from './hostd.js';
import { nginxVersion, startNginx } from './nginx.js';
import { APP_HOST, STATIC_FILES } from './payloads.js';
import { freePort, killAll, startServer, waitForHttp, type Server } from './procs.js';
import { check, checksText, summarise, table, toRound, type ScenarioResult, type ServerResult } from './report.js';
import { scenarios, TARGETS, type Scenario, type ServerName } from './scenarios.js';
import { makeFixtures } from './fixtures.js';
import { verify } from './verify.js';
import { runWrk, wrkVersion } from './wrk.js';
import { waitForQuiet } from './quiet.js';
import { groupCpu } from './cpu.js';
import { profileFiles, topSelf } from './profile.js';
import { runWsBench, WS_SCENARIOS, wsChecksText, wsTable } from './ws/run.js';
import { rmSync } from 'node:fs';
import { memoryText, runMemoryBench } from './memory.js';
import { nodeVhost, ownEnv, plainApps, prepareNext, writePostScript, type NodeApp } from './node-apps.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repo = dirname(benchDir);
const profileDir = join(repo, '.bench', 'profiles');

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    without: { type: 'string', multiple: true, default: [] },
    with: { type: 'string', multiple: true, default: [] },
    strict: { type: 'boolean', default: false },
    'quiet-wait': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    base: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(`usage: npm run bench [-- options]
  --quick               1 round of 2 s per server (default: 3 rounds of 5 s, 1 s warm-up)
  --only static|dynamic|node|websocket|memory  run one group of scenarios; or scenario ids, comma-separated:
                        static-1k, static-100k, static-10m, static-100k-gzip, hello, echo, big, cached-1k,
                        express-get, express-post, fastify-get, fastify-post, koa-get, koa-post,
                        next-api, next-page, ws-echo, ws-fanout
  --rounds N --duration SECONDS --warmup SECONDS --connections N
  --without NAME[,NAME] leave out servers (hostd, raw-uws, nginx, node-http, raw-uws-ws, ws-node,
                        express-own, fastify-own, koa-own, next-own)
  --with raw-uws-fetch  also measure the bench/apps fetch handlers run in-process by raw uWS
  --strict              exit 1 when a target is missed
  --quiet-wait SECONDS  before each round, wait up to this long for the CPUs to be <10% busy
                        (default 10, at most 12× that in all; 0 turns the gate off)
  --cpu-prof            run hostd under node --cpu-prof: profiles per thread in .bench/profiles/,
                        top functions printed at the end`);
  process.exit(0);
}

const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 3));
const durationS = Number(opts.duration ?? (opts.quick ? 2 : 5));
const warmupS = Number(opts.warmup ?? 1);
const connections = Number(opts.connections ?? 64);
const quietWaitMs = Number(opts['quiet-wait'] ?? 10) * 1000;
let quietBudgetMs = quietWaitMs * 12; // in all: a busy box must not make the bench endless
const QUIET_BUSY = 0.1;
let noisyRounds = 0;
const without = new Set(
  opts.without
    .flatMap((w) => w.split(','))
    .map((w) => w.trim())
    .filter(Boolean),
);
const withExtra = new Set(
  opts.with
    .flatMap((w) => w.split(','))
    .map((w) => w.trim())
    .filter(Boolean),
);
if (!withExtra.has('raw-uws-fetch')) without.add('raw-uws-fetch'); // opt-in: informational only
if (!opts.base) without.add('hostd-base'); // --base DIR: an older checkout (built) to compare with
if (without.has('hostd')) without.add('hostd-static'); // (hostd's own static hit)
const NGINX = nginxVersion();
if (!NGINX && !without.has('nginx')) {
  console.log('bench: nginx is not installed, skipping the nginx baseline (sudo apt-get install nginx to add it)');
  without.add('nginx');
}

// --only static|dynamic|node|websocket|memory, or scenario ids: --only static-1k,hello
const GROUPS = ['static', 'dynamic', 'node', 'websocket', 'memory'];
const onlyList = opts.only ? opts.only.split(',').map((x) => x.trim()) : [];
const every = scenarios(benchDir);
for (const o of onlyList) {
  if (!GROUPS.includes(o) && !every.some((s) => s.id === o) && !WS_SCENARIOS.some((s) => s.id === o)) {
    console.error(
      `bench: --only takes ${GROUPS.join(', ')} or scenario ids (${[...every, ...WS_SCENARIOS].map((s) => s.id).join(', ')}), not "${o}"`,
    );
    process.exit(2);
  }
}
let all = every.filter((s) => onlyList.length === 0 || onlyList.includes(s.group) || onlyList.includes(s.id));
// The memory part (issue 19, bench/memory.ts) needs no wrk: it runs last, on its own.
const memoryWanted = onlyList.length === 0 || onlyList.includes('memory');
if (memoryWanted && onlyList.length === 1) {
  const r = await runMemoryBench(repo);
  console.log(`\n${memoryText(r)}`);
  mkdirSync(join(repo, '.bench'), { recursive: true });
  writeFileSync(join(repo, '.bench', 'memory.json'), `${JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2)}\n`);
  console.log('\nbench: results written to .bench/memory.json');
  process.exit(opts.strict && r.checks.some((c) => !c.ok) ? 1 : 0);
}

const WRK = wrkVersion();
if (!WRK) {
  console.error('bench: wrk is not installed. Install it (and nginx, for the static baseline):\n\n    sudo apt-get install wrk nginx\n');
  process.exit(1);
}

// The node apps (issue 17): Express, Fastify and Koa from their sources; Next.js from its
// standalone build (built once here; its scenarios are skipped when the build fails).
const nodeApps: NodeApp[] = plainApps(benchDir).filter((a) => all.some((s) => s.servers.includes(`${a.name}-own`)));
if (all.some((s) => s.servers.includes('next-own'))) {
  const next = prepareNext(repo, benchDir);
  if ('skipped' in next) {
    console.log(`bench: skipping the Next.js scenarios: ${next.skipped}`);
    all = all.filter((s) => !s.servers.includes('next-own'));
  } else nodeApps.push(next);
}
const postScript = all.find((s) => s.group === 'node' && s.script)?.script;
if (postScript) {
  mkdirSync(dirname(postScript), { recursive: true });
  writePostScript(postScript);
}
// WebSocket scenarios (bench/ws/run.ts) run after the HTTP ones, against their own baselines.
const wsScenarios = WS_SCENARIOS.filter((s) => onlyList.length === 0 || onlyList.includes('websocket') || onlyList.includes(s.id));
const wanted = new Set<ServerName>(all.flatMap((s) => s.servers).filter((n) => !without.has(n)));
if (wsScenarios.length > 0 && !without.has('hostd')) wanted.add('hostd');

const load1 = os.loadavg()[0];
if (load1 > 0.5)
  console.log(`bench: note: load average is ${load1.toFixed(2)} before starting; other work on this machine skews the figures`);
if (os.cpus().length !== 2) console.log(`bench: note: the targets are for a 2-core machine; this one has ${os.cpus().length}`);
console.log(`bench: ${rounds} interleaved round(s) of ${durationS} s per server (warm-up ${warmupS} s), wrk -t1 -c${connections}`);

// ---- servers ----
const ports: Partial<Record<ServerName, number>> = {};
for (const n of wanted) if (n !== 'hostd-static') ports[n] = await freePort();
// raw-uws-fetch is a set of routes (/fetch/...) of the raw-uws process, not a process of its own
if (wanted.has('raw-uws-fetch')) ports['raw-uws-fetch'] = ports['raw-uws'] ??= await freePort();
const fixtures = makeFixtures(
  ports.hostd ?? (await freePort()),
  nodeApps.map((a) => ({ name: a.name, vhost: nodeVhost(a) })),
);
if (wanted.has('hostd-static')) ports['hostd-static'] = ports.hostd;
process.on('exit', () => fixtures.remove());
const servers: Server[] = [];
const tsx = ['--import', 'tsx'];
let hostdAccessLog: string | undefined;

try {
  if (ports['raw-uws']) {
    const s = startServer(
      'raw-uws',
      process.execPath,
      [...tsx, join(benchDir, 'baselines', 'raw-uws.ts'), '--port', String(ports['raw-uws']), '--files', fixtures.files],
      { cwd: repo },
    );
    servers.push(s);
    await waitForHttp(s, ports['raw-uws']!, '/hello');
  }
  if (wanted.has('node-http')) {
    const s = startServer(
      'node-http',
      process.execPath,
      [...tsx, join(benchDir, 'baselines', 'node-http.ts'), '--port', String(ports['node-http'])],
      { cwd: repo },
    );
    servers.push(s);
    await waitForHttp(s, ports['node-http']!, '/hello');
  }
  // Each node app on its own: `node app.js` with PORT set, as its guide runs it.
  for (const app of nodeApps) {
    const name: ServerName = `${app.name}-own`;
    if (!wanted.has(name)) continue;
    const s = startServer(name, process.execPath, [app.entry], { cwd: dirname(app.entry), env: ownEnv(ports[name]!) });
    servers.push(s);
    await waitForHttp(s, ports[name]!, '/');
  }
  if (wanted.has('nginx')) {
    const s = startNginx({ prefix: fixtures.nginxPrefix, root: fixtures.files, port: ports.nginx! });
    servers.push(s);
    await waitForHttp(s, ports.nginx!, `/${STATIC_FILES[0].name}`);
  }
  if (wanted.has('nginx-log')) {
    const prefix = `${fixtures.nginxPrefix}-log`;
    const s = startNginx({
      prefix,
      root: fixtures.files,
      port: ports['nginx-log']!,
      accessLog: join(prefix, 'access.log'),
      name: 'nginx-log',
    });
    servers.push(s);
    await waitForHttp(s, ports['nginx-log']!, `/${STATIC_FILES[0].name}`);
  }
  if (wanted.has('hostd-base')) {
    // An older build may predate --no-supervisor: pass it only when its --help knows it.
    const help = spawnSync(process.execPath, [join(opts.base!, 'dist', 'cli.js'), '--help'], { encoding: 'utf8' }).stdout ?? '';
    const { server } = await startHostd({
      repo: opts.base!,
      sites: fixtures.baseSites,
      port: ports['hostd-base']!,
      probePath: `/${STATIC_FILES[0].name}`,
      name: 'hostd-base',
      supervisorFlag: help.includes('--no-supervisor'),
      extraArgs: ['--listen', `127.0.0.1:${ports['hostd-base']}`],
    });
    servers.push(server);
  }
  // --cpu-prof: every hostd process of the run writes its profiles there.
  const nodeArgs = opts['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  if (opts['cpu-prof']) rmSync(profileDir, { recursive: true, force: true });
  if (wanted.has('hostd-log')) {
    const { server } = await startHostd({
      nodeArgs,
      repo,
      sites: fixtures.sites,
      port: ports['hostd-log']!,
      probePath: `/${STATIC_FILES[0].name}`,
      name: 'hostd-log',
      accessLog: join(fixtures.root, 'hostd-access.log'),
      extraArgs: ['--listen', `127.0.0.1:${ports['hostd-log']}`],
    });
    servers.push(server);
  }
  if (wanted.has('hostd')) {
    const { server, accessLog } = await startHostd({
      repo,
      sites: fixtures.sites,
      port: ports.hostd!,
      probePath: `/${STATIC_FILES[0].name}`,
      nodeArgs,
    });
    servers.push(server);
    hostdAccessLog = accessLog;
  }
} catch (err) {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  killAll();
  process.exit(1);
}

// ---- measuring ----
// hostd's app routes live on the app vhost, each node app on a vhost of its own (sc.host);
// hostd-static (its static hit, the cached scenario's yardstick) is served by the catch-all vhost
// like the static scenarios. The other servers serve one site: no Host needed.
const hostHeader = (server: ServerName, sc: Scenario) =>
  server.startsWith('hostd') && server !== 'hostd-static' && sc.group !== 'static' ? (sc.host ?? APP_HOST) : undefined;
const results: ScenarioResult[] = [];

for (const sc of all) {
  const names = sc.servers.filter((n) => wanted.has(n));
  const perServer = new Map<ServerName, ServerResult>(names.map((n) => [n, { server: n, rounds: [], errors: 0 }]));
  const active: ServerName[] = [];
  process.stdout.write(`\n${sc.label} (${sc.method} ${sc.path}): `);
  for (const n of names) {
    try {
      const alt = sc.paths?.[n];
      const file = alt?.file ?? sc.file ?? STATIC_FILES.find((f) => f.scenario === sc.id)?.name;
      const expectBody = alt ? undefined : sc.expectBody;
      await verify(
        ports[n]!,
        { ...sc, path: pathFor(n, sc), expectBody },
        hostHeader(n, sc),
        file ? readFileSync(join(fixtures.files, file)) : undefined,
      );
      const wrkOpts = wrkOptions(n, sc);
      if (warmupS > 0) await runWrk({ ...wrkOpts, durationS: warmupS });
      active.push(n);
    } catch (err) {
      perServer.get(n)!.failed = `failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      process.stdout.write(`[${n} ${perServer.get(n)!.failed}] `);
    }
  }
  for (let round = 1; round <= rounds; round++) {
    for (const n of active) {
      const sr = perServer.get(n)!;
      if (sr.failed) continue;
      try {
        const t0 = Date.now();
        const busyBefore =
          quietWaitMs > 0 && quietBudgetMs > 0 ? await waitForQuiet(QUIET_BUSY, Math.min(quietWaitMs, quietBudgetMs)) : undefined;
        quietBudgetMs -= Date.now() - t0;
        if (busyBefore !== undefined && busyBefore > QUIET_BUSY) {
          noisyRounds++;
          process.stdout.write(`[${Math.round(busyBefore * 100)}% busy] `);
        }
        const pgid = pgidOf(n);
        const cpu0 = pgid ? groupCpu(pgid) : undefined;
        const r = await runWrk(wrkOptions(n, sc));
        const cpu1 = pgid ? groupCpu(pgid) : undefined;
        // No answer in a whole round: nothing to divide by, and no ratio to take against it.
        if (r.requests === 0) throw new Error(`no request completed in ${durationS} s (${r.errors} errors)`);
        const per = (a?: number, b?: number) =>
          a !== undefined && b !== undefined && b >= a && r.requests > 0 ? ((b - a) * 1e6) / r.requests : undefined;
        sr.rounds.push({
          ...toRound(round, r),
          busyBefore,
          cpuUsPerReq: per(cpu0?.total, cpu1?.total),
          mainCpuUsPerReq: per(cpu0?.main, cpu1?.main),
        });
        process.stdout.write(`${n} ${Math.round(r.rps)}/s${r.errors ? ` (${r.errors} err)` : ''}  `);
        const proc = servers.find((s) => s.name === processOf(n));
        if (proc && (proc.proc.exitCode !== null || proc.proc.signalCode !== null)) {
          sr.failed = `failed: ${proc.name} exited during the round (${proc.proc.signalCode ?? `code ${proc.proc.exitCode}`})`;
          console.error(`\nbench: ${proc.name} exited; its last output:\n${proc.output().trim().split('\n').slice(-20).join('\n')}`);
        }
      } catch (err) {
        sr.failed = `failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      }
    }
  }
  results.push({ ...summarise(sc, [...perServer.values()]), loadavg1: os.loadavg()[0] });
}

/** The process serving `n`: raw-uws-fetch is routes of raw-uws, hostd-static a path of hostd. */
function processOf(n: ServerName): ServerName {
  return n === 'raw-uws-fetch' ? 'raw-uws' : n === 'hostd-static' ? 'hostd' : n;
}

/** The process group of the process serving `n` (each server leads its own group). */
function pgidOf(n: ServerName): number | undefined {
  return servers.find((s) => s.name === processOf(n))?.proc.pid;
}

function pathFor(n: ServerName, sc: (typeof all)[number]): string {
  const alt = sc.paths?.[n];
  if (alt) return alt.path;
  return n === 'raw-uws-fetch' ? `/fetch${sc.path}` : sc.path;
}

function wrkOptions(n: ServerName, sc: (typeof all)[number]) {
  const host = hostHeader(n, sc);
  const headers = { ...sc.headers, ...(host ? { Host: host } : {}) };
  return {
    url: `http://127.0.0.1:${ports[n]}${pathFor(n, sc)}`,
    threads: 1,
    connections,
    durationS,
    script: sc.script,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
  };
}

// ---- WebSockets ----
const hostdServer = servers.find((s) => s.name === 'hostd');
const ws =
  wsScenarios.length === 0
    ? null
    : await runWsBench({
        repo,
        benchDir,
        hostd: hostdServer ? { port: ports.hostd!, hostHeader: APP_HOST, pgid: hostdServer.proc.pid } : undefined,
        scenarios: wsScenarios,
        without,
        rounds,
        durationS,
        warmupS,
        quiet: { maxBusy: QUIET_BUSY, waitMs: Math.min(quietWaitMs, Math.max(0, quietBudgetMs)) },
      });

// ---- report ----
// hostd drains on SIGTERM (and writes its CPU profiles then): give it time before SIGKILL.
for (const s of servers) await s.stop(s.name.startsWith('hostd') ? 15000 : 2000);

const checks = check(results, TARGETS);
// Memory last, with every other server stopped.
const memory = memoryWanted ? await runMemoryBench(repo) : undefined;
console.log(`\n\n${table(results)}`);
console.log(checksText(checks));
if (ws) console.log(`\n${wsTable(ws.results)}\n${wsChecksText(ws.checks)}`);
if (memory) console.log(`\n${memoryText(memory)}`);
if (noisyRounds > 0)
  console.log(
    `\nbench: note: ${noisyRounds} round(s) started while other work kept the CPUs over ${QUIET_BUSY * 100}% busy (marked "[N% busy]" above); treat those figures with care`,
  );

const gitCommit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
const out = {
  date: new Date().toISOString(),
  machine: {
    loadavg1AtStart: load1,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
  },
  versions: { hostd: pkg.version, commit: gitCommit, node: process.version, wrk: WRK, nginx: NGINX },
  method: {
    quietGate: { maxBusy: QUIET_BUSY, maxWaitMs: quietWaitMs },
    noisyRounds,
    rounds,
    durationS,
    warmupS,
    threads: 1,
    connections,
    interleaved: true,
    hostdAccessLog,
    without: [...without],
  },
  scenarios: results,
  checks,
  websocket: ws,
  memory,
};
mkdirSync(join(repo, '.bench'), { recursive: true });
writeFileSync(join(repo, '.bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`\nbench: results written to .bench/results.json`);
if (opts['cpu-prof']) {
  const files = profileFiles(profileDir);
  if (files.length === 0) console.log('bench: --cpu-prof: hostd wrote no profile (did it exit cleanly on SIGTERM?)');
  for (const f of files) console.log(`\n${topSelf(f).join('\n')}`);
}

const missed =
  checks.some((c) => c.target && c.status === 'MISS') ||
  (ws?.checks.some((c) => c.status === 'MISS') ?? false) ||
  (memory?.checks.some((c) => !c.ok) ?? false);
process.exit(opts.strict && missed ? 1 : 0);
