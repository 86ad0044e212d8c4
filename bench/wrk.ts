// Runs wrk and reads what it prints with --latency: requests/s, latency percentiles, errors.

import { spawn, spawnSync } from 'node:child_process';
import { track } from './procs.js';
import { processCpuSeconds } from './cpu.js';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  script?: string; // a wrk Lua script (the POST echo)
  headers?: Record<string, string>;
  timeoutS?: number;
}

export interface WrkResult {
  rps: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  requests: number;
  /** Responses outside 2xx/3xx plus socket errors (connect/read/write/timeout). */
  errors: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  transferPerSec: string;
  /**
   * wrk's own CPU use over the run, in cores (sampled from /proc every 200 ms). Near 1 with -t1,
   * the client is the bottleneck and the servers' figures say "at least this fast".
   */
  clientCpu?: number;
  raw: string;
}

/** The wrk binary's version line, or undefined when wrk is not installed. */
export function wrkVersion(): string | undefined {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (r.error) return undefined;
  const line = `${r.stdout}${r.stderr}`.split('\n').find((l) => /^wrk /.test(l));
  return line?.trim() ?? 'wrk';
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** "812.00us" / "1.23ms" / "2.00s" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read latency "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk: no Requests/sec in output:\n${out}`);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    if (!m) throw new Error(`wrk: no ${p}% latency in output (was --latency given?):\n${out}`);
    return parseDuration(m[1]);
  };
  const requests = /(\d+) requests in/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock
    ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const n2 = non2xx ? +non2xx[1] : 0;
  return {
    rps: Number(rps[1]),
    p50: pct('50'),
    p90: pct('90'),
    p99: pct('99'),
    requests: requests ? Number(requests[1]) : 0,
    non2xx: n2,
    socketErrors,
    // Read errors are how wrk counts a server closing a keep-alive connection; any of them is
    // worth flagging, a benchmark of error pages is not a benchmark.
    errors: n2 + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
    transferPerSec: /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '',
    raw: out,
  };
}

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t',
    String(o.threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.durationS}s`,
    '--latency',
    '--timeout',
    `${o.timeoutS ?? 10}s`,
  ];
  if (o.script) args.push('-s', o.script);
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return new Promise((resolve, reject) => {
    const proc = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc);
    // Sample wrk's CPU time while it runs (it cannot be read once the process is gone).
    let first: { t: number; cpu: number } | undefined;
    let last: { t: number; cpu: number } | undefined;
    const sample = () => {
      const cpu = proc.pid === undefined ? undefined : processCpuSeconds(proc.pid);
      if (cpu === undefined) return;
      const point = { t: performance.now(), cpu };
      first ??= point;
      last = point;
    };
    sample();
    const sampler = setInterval(sample, 200);
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`wrk ${args.join(' ')} exited with ${code}:\n${out}`));
      try {
        const r = parseWrk(out);
        if (first && last && last.t - first.t > 500) r.clientCpu = (last.cpu - first.cpu) / ((last.t - first.t) / 1000);
        resolve(r);
      } catch (err) {
        reject(err);
      }
    });
  });
}
