// npm run bench:fronts — what several front threads cost and how they share the work, measured
// where two cores cannot show scaling: hostd with --fronts N (default 2) under wrk, per front its
// share of the requests and its CPU per request (event-loop busy time, from /status), and the
// whole process's CPU per request (/proc). The projection to 8 and 32 cores is arithmetic on
// these figures; its assumptions are printed with it (docs/performance.md has the reasoning).
//
//   npm run bench:fronts [-- --fronts N --duration S --connections N]
import { parseArgs } from 'node:util';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { groupCpu } from './cpu.js';
import { makeFixtures } from './fixtures.js';
import { startHostd } from './hostd.js';
import { APP_HOST, DYNAMIC_PATHS, STATIC_FILES } from './payloads.js';
import { freePort, killAll } from './procs.js';
import { runWrk } from './wrk.js';

const { values: opts } = parseArgs({
  options: {
    fronts: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
  },
});
const fronts = Number(opts.fronts);
const durationS = Number(opts.duration);
const connections = Number(opts.connections);
const repo = dirname(dirname(fileURLToPath(import.meta.url)));

interface FrontFigures {
  index: number;
  requests: number;
  activeMs: number;
  cpuMs: number;
}

async function frontStats(statusPort: number): Promise<FrontFigures[]> {
  const s = (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as { fronts: FrontFigures[] };
  return s.fronts;
}

const port = await freePort();
const statusPort = await freePort();
const fixtures = makeFixtures(port);
process.on('exit', () => fixtures.remove());
const { server } = await startHostd({
  repo,
  sites: fixtures.sites,
  port,
  probePath: `/${STATIC_FILES[0].name}`,
  extraArgs: ['--fronts', String(fronts), '--status', `127.0.0.1:${statusPort}`],
});
const pgid = server.proc.pid!;

const scenarios = [
  { label: 'static 1 KiB', path: `/${STATIC_FILES[0].name}`, headers: undefined },
  { label: 'dynamic hello', path: DYNAMIC_PATHS.hello, headers: { Host: APP_HOST } },
];
console.log(`bench:fronts: hostd --fronts ${fronts}, wrk -t1 -c${connections}, ${durationS} s per scenario (after 1 s warm-up)\n`);
const rows: string[] = [];
for (const sc of scenarios) {
  const url = `http://127.0.0.1:${port}${sc.path}`;
  await runWrk({ url, threads: 1, connections, durationS: 1, headers: sc.headers });
  const before = await frontStats(statusPort);
  const cpu0 = groupCpu(pgid);
  const r = await runWrk({ url, threads: 1, connections, durationS, headers: sc.headers });
  const cpu1 = groupCpu(pgid);
  const after = await frontStats(statusPort);
  const total = after.reduce((n, f) => n + f.requests, 0) - before.reduce((n, f) => n + f.requests, 0);
  const procUs = cpu0 && cpu1 ? ((cpu1.total - cpu0.total) * 1e6) / r.requests : NaN;
  rows.push(`${sc.label}: ${Math.round(r.rps)} req/s, process CPU ${procUs.toFixed(1)} µs/request`);
  for (const f of after) {
    const b = before.find((x) => x.index === f.index)!;
    const n = f.requests - b.requests;
    const cpu = f.cpuMs - b.cpuMs;
    rows.push(
      `  front ${f.index}: ${((100 * n) / Math.max(1, total)).toFixed(1)}% of requests, ${n > 0 ? ((cpu * 1000) / n).toFixed(1) : '—'} µs of its thread's CPU per request`,
    );
  }
}
console.log(rows.join('\n'));
console.log(`
Projection (docs/performance.md): a front serves at most 1e6 / (its µs per request) requests per
second on one core; N fronts on N of a box's cores, the pools' workers and the OS on the rest.
Assumptions: the kernel spreads connections evenly over the fronts' SO_REUSEPORT sockets (the
shares above), per-request front cost stays flat with N (no shared lock on the request path:
fronts share only the pools' atomic counters), and enough client connections to keep every
front busy.`);
await server.stop(15_000);
killAll();
