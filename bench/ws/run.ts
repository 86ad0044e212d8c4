// The WebSocket scenarios of `npm run bench`: echo round trips (64 connections, 1 KiB messages)
// and fan-out deliveries (one publisher, 1,000 subscribers), for hostd (bench/apps/ws.mjs on the
// app vhost), raw uWebSockets.js doing the same work in-process (baselines/raw-uws-ws.ts) and the
// `ws` library on node:http (baselines/ws-node.ts), interleaved round by round like the HTTP
// scenarios. The load client is wsload.c, compiled here with the system's C compiler.
//
// Is the client the bottleneck? Each run reports the client's own CPU (getrusage over the
// measured window) as a share of one core, and the server's CPU per message from /proc: a client
// near 100% while a server is not is flagged with `*`.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { groupCpu } from '../cpu.js';
import { freePort, startServer, waitForHttp, type Server } from '../procs.js';
import { waitForQuiet } from '../quiet.js';

export type WsServerName = 'hostd' | 'raw-uws-ws' | 'ws-node';

export interface WsScenario {
  id: 'ws-echo' | 'ws-fanout';
  label: string;
  mode: 'echo' | 'fanout';
  connections: number;
  subscribers: number;
  size: number;
  /** what the count means */
  unit: string;
}

export const WS_SCENARIOS: WsScenario[] = [
  {
    id: 'ws-echo',
    label: 'WebSocket echo 1 KiB, 64 connections',
    mode: 'echo',
    connections: 64,
    subscribers: 0,
    size: 1024,
    unit: 'round trips/s',
  },
  {
    id: 'ws-fanout',
    label: 'WebSocket fan-out 256 B, 1 publisher → 1,000 subscribers',
    mode: 'fanout',
    connections: 0,
    subscribers: 1000,
    size: 256,
    unit: 'deliveries/s',
  },
];

export const WS_TARGETS = [
  { scenario: 'ws-echo', against: 'ws-node' as WsServerName, min: 2, source: 'issue 13' },
  { scenario: 'ws-echo', against: 'raw-uws-ws' as WsServerName, min: 0.6, source: 'issue 13' },
  { scenario: 'ws-fanout', against: 'raw-uws-ws' as WsServerName, min: 0.9, source: 'issue 13' },
];

export interface WsRound {
  round: number;
  perSecond: number;
  /** the load client's CPU over the window, in cores */
  clientCpu: number;
  /** the server's CPU (all threads) per message, µs */
  serverCpuUs?: number;
  busyBefore?: number;
}

export interface WsServerResult {
  server: WsServerName;
  rounds: WsRound[];
  median?: number;
  medianClientCpu?: number;
  medianServerCpuUs?: number;
  failed?: string;
}

export interface WsScenarioResult {
  id: string;
  label: string;
  unit: string;
  servers: WsServerResult[];
  ratios: Array<{ against: WsServerName; ratio: number; perRoundMedian: number }>;
}

export interface WsCheck {
  scenario: string;
  what: string;
  status: 'PASS' | 'MISS' | 'SKIP';
  value?: number;
  bound: number;
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Compiles the load client into .bench/wsload; null (with the reason printed) when it cannot. */
export function buildClient(repo: string, benchDir: string): string | null {
  const out = join(repo, '.bench', 'wsload');
  mkdirSync(join(repo, '.bench'), { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-o', out, join(benchDir, 'ws', 'wsload.c')], { stdio: 'pipe' });
    return out;
  } catch (err) {
    console.log(
      `bench: the WebSocket scenarios need a C compiler for their load client (sudo apt-get install gcc): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
    return existsSync(out) ? out : null;
  }
}

interface Target {
  name: WsServerName;
  port: number;
  hostHeader: string;
  path: string;
  pgid: number | undefined;
}

/** One client run: the rate, the client's CPU, and the server's CPU over the measured window. */
function runClient(
  client: string,
  t: Target,
  sc: WsScenario,
  durationS: number,
  warmupS: number,
): Promise<Omit<WsRound, 'round' | 'busyBefore'>> {
  return new Promise((resolve, reject) => {
    const args = [
      '127.0.0.1',
      String(t.port),
      t.hostHeader,
      t.path,
      sc.mode,
      String(sc.connections),
      String(sc.subscribers),
      String(sc.size),
      '32',
      String(durationS),
      String(warmupS),
    ];
    const p = spawn(client, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpu0: number | undefined;
    p.stdout.on('data', (d: Buffer) => {
      out += d;
      if (cpu0 === undefined && out.includes('measuring\n') && t.pgid !== undefined) cpu0 = groupCpu(t.pgid)?.total;
    });
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const cpu1 = t.pgid !== undefined ? groupCpu(t.pgid)?.total : undefined;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`wsload failed (${code}): ${err.trim() || out.trim()}`));
      const r = JSON.parse(line) as { ops: number; seconds: number; perSecond: number; cpuSeconds: number };
      resolve({
        perSecond: r.perSecond,
        clientCpu: r.cpuSeconds / r.seconds,
        serverCpuUs: cpu0 !== undefined && cpu1 !== undefined && r.ops > 0 ? ((cpu1 - cpu0) * 1e6) / r.ops : undefined,
      });
    });
  });
}

export interface WsBenchOptions {
  repo: string;
  benchDir: string;
  /** hostd, already serving bench/apps/ws.mjs at /ws on the app vhost */
  hostd?: { port: number; hostHeader: string; pgid: number | undefined };
  scenarios: WsScenario[];
  without: Set<string>;
  rounds: number;
  durationS: number;
  warmupS: number;
  quiet: { maxBusy: number; waitMs: number };
}

export async function runWsBench(o: WsBenchOptions): Promise<{ results: WsScenarioResult[]; checks: WsCheck[] } | null> {
  const client = buildClient(o.repo, o.benchDir);
  if (client === null) return null;
  const servers: Server[] = [];
  const targets: Target[] = [];
  const tsx = ['--import', 'tsx'];
  try {
    if (o.hostd && !o.without.has('hostd'))
      targets.push({ name: 'hostd', port: o.hostd.port, hostHeader: o.hostd.hostHeader, path: '/ws', pgid: o.hostd.pgid });
    for (const [name, file] of [
      ['raw-uws-ws', 'raw-uws-ws.ts'],
      ['ws-node', 'ws-node.ts'],
    ] as const) {
      if (o.without.has(name)) continue;
      const port = await freePort();
      const s = startServer(name, process.execPath, [...tsx, join(o.benchDir, 'baselines', file), '--port', String(port)], { cwd: o.repo });
      servers.push(s);
      await waitForHttp(s, port, '/');
      targets.push({ name, port, hostHeader: 'localhost', path: '/ws', pgid: s.proc.pid });
    }
    const results: WsScenarioResult[] = [];
    for (const sc of o.scenarios) {
      process.stdout.write(`\n${sc.label}: `);
      const per = new Map<WsServerName, WsServerResult>(targets.map((t) => [t.name, { server: t.name, rounds: [] }]));
      for (let round = 1; round <= o.rounds; round++) {
        for (const t of targets) {
          const sr = per.get(t.name)!;
          if (sr.failed) continue;
          try {
            const busyBefore = o.quiet.waitMs > 0 ? await waitForQuiet(o.quiet.maxBusy, o.quiet.waitMs) : undefined;
            if (busyBefore !== undefined && busyBefore > o.quiet.maxBusy) process.stdout.write(`[${Math.round(busyBefore * 100)}% busy] `);
            const r = await runClient(client, t, sc, o.durationS, o.warmupS);
            sr.rounds.push({ round, ...r, busyBefore });
            process.stdout.write(`${t.name} ${Math.round(r.perSecond)}/s  `);
          } catch (err) {
            sr.failed = err instanceof Error ? err.message.split('\n')[0] : String(err);
            process.stdout.write(`[${t.name} failed: ${sr.failed}] `);
          }
        }
      }
      for (const sr of per.values()) {
        sr.median = median(sr.rounds.map((r) => r.perSecond));
        sr.medianClientCpu = median(sr.rounds.map((r) => r.clientCpu));
        sr.medianServerCpuUs = median(sr.rounds.flatMap((r) => (r.serverCpuUs !== undefined ? [r.serverCpuUs] : [])));
      }
      const hostd = per.get('hostd');
      const ratios: WsScenarioResult['ratios'] = [];
      if (hostd?.median)
        for (const b of per.values()) {
          if (b.server === 'hostd' || !b.median) continue;
          const perRound = hostd.rounds.flatMap((r) => {
            const other = b.rounds.find((x) => x.round === r.round);
            return other ? [r.perSecond / other.perSecond] : [];
          });
          ratios.push({ against: b.server, ratio: hostd.median / b.median, perRoundMedian: median(perRound) ?? NaN });
        }
      results.push({ id: sc.id, label: sc.label, unit: sc.unit, servers: [...per.values()], ratios });
    }
    const checks: WsCheck[] = WS_TARGETS.filter((t) => results.some((r) => r.id === t.scenario)).map((t) => {
      const r = results.find((x) => x.id === t.scenario)!;
      const ratio = r.ratios.find((x) => x.against === t.against);
      return {
        scenario: t.scenario,
        what: `hostd / ${t.against} ≥ ${t.min} (${t.source})`,
        status: ratio === undefined ? 'SKIP' : ratio.ratio >= t.min ? 'PASS' : 'MISS',
        value: ratio?.ratio,
        bound: t.min,
      };
    });
    return { results, checks };
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** The WebSocket table: rate, ratios, client CPU (`*`: the client was nearly always busy), server µs/message. */
export function wsTable(results: WsScenarioResult[]): string {
  const lines = [
    'WebSocket scenario | server | rate (median) | vs hostd | client CPU | server CPU/msg',
    '--- | --- | --- | --- | --- | ---',
  ];
  for (const r of results) {
    for (const s of r.servers) {
      const ratio = r.ratios.find((x) => x.against === s.server);
      const rate = s.median === undefined ? (s.failed ?? 'n/a') : `${(s.median / 1000).toFixed(1)}k ${r.unit}`;
      const client = s.medianClientCpu === undefined ? '' : `${Math.round(s.medianClientCpu * 100)}%${s.medianClientCpu > 0.9 ? ' *' : ''}`;
      const cpu = s.medianServerCpuUs === undefined ? '' : `${s.medianServerCpuUs.toFixed(2)} µs`;
      lines.push(
        `${r.label} | ${s.server} | ${rate} | ${ratio ? `${ratio.ratio.toFixed(2)}× (${ratio.perRoundMedian.toFixed(2)}×)` : ''} | ${client} | ${cpu}`,
      );
    }
  }
  return lines.join('\n');
}

export function wsChecksText(checks: WsCheck[]): string {
  return checks.map((c) => `${c.status} ${c.scenario}: ${c.what}${c.value !== undefined ? `: ${c.value.toFixed(2)}` : ''}`).join('\n');
}
