// Turns the rounds into medians, ratios and PASS/MISS lines, and prints them as a table.

import type { ServerName, Scenario, Target } from './scenarios.js';
import type { WrkResult } from './wrk.js';

/** One round of one server: what wrk measured, and what the bench measured beside it. */
export interface Round extends Pick<WrkResult, 'rps' | 'p50' | 'p90' | 'p99' | 'requests' | 'errors' | 'non2xx' | 'clientCpu'> {
  round: number;
  /** fraction of all CPUs busy (other work) just before the round, when measured */
  busyBefore?: number;
  /** server CPU time (user+system, all its processes and threads) per request, in µs */
  cpuUsPerReq?: number;
  /** the same for the main thread alone (hostd's front thread; nginx's master: ~0) */
  mainCpuUsPerReq?: number;
}

export interface ServerResult {
  server: ServerName;
  rounds: Round[];
  medianRps?: number;
  medianP99?: number;
  /** median server CPU µs per request (noise-resistant: see bench/cpu.ts) */
  medianCpuUs?: number;
  /** median main-thread CPU µs per request */
  medianMainCpuUs?: number;
  /** median of wrk's CPU use (cores) over the rounds */
  medianClientCpu?: number;
  errors: number;
  /** why this server has no figures for the scenario (failed verification, wrk error) */
  failed?: string;
}

export interface Ratio {
  against: ServerName;
  /** median hostd req/s over median baseline req/s */
  ratio: number;
  /** median of the per-round ratios (each round's servers ran back to back) */
  perRoundMedian: number;
}

export interface ScenarioResult {
  id: string;
  label: string;
  group: string;
  path: string;
  method: string;
  /** The server the ratios are taken of. */
  subject: ServerName;
  servers: ServerResult[];
  ratios: Ratio[];
  /** 1-minute load average when the scenario finished: a hint of outside noise */
  loadavg1?: number;
}

export interface Check {
  scenario: string;
  label: string;
  what: string;
  status: 'PASS' | 'MISS' | 'SKIP';
  value?: number;
  bound: number;
  target: boolean;
  note?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** The median of a figure over the rounds that measured it; undefined when none did. */
function medianOfMeasured(rounds: Round[], figure: (r: Round) => number | undefined): number | undefined {
  const values = rounds.map(figure).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : undefined;
}

export function toRound(round: number, r: WrkResult): Round {
  return {
    round,
    rps: r.rps,
    p50: r.p50,
    p90: r.p90,
    p99: r.p99,
    requests: r.requests,
    errors: r.errors,
    non2xx: r.non2xx,
    clientCpu: r.clientCpu,
  };
}

export function summarise(s: Scenario, servers: ServerResult[]): ScenarioResult {
  for (const sr of servers) {
    if (sr.rounds.length === 0) continue;
    sr.medianRps = median(sr.rounds.map((r) => r.rps));
    sr.medianP99 = median(sr.rounds.map((r) => r.p99));
    sr.medianCpuUs = medianOfMeasured(sr.rounds, (r) => r.cpuUsPerReq);
    sr.medianMainCpuUs = medianOfMeasured(sr.rounds, (r) => r.mainCpuUsPerReq);
    sr.medianClientCpu = medianOfMeasured(sr.rounds, (r) => r.clientCpu);
    sr.errors = sr.rounds.reduce((a, r) => a + r.errors, 0);
  }
  const subject = s.subject ?? 'hostd';
  const hostd = servers.find((x) => x.server === subject);
  const ratios: Ratio[] = [];
  if (hostd?.medianRps !== undefined) {
    for (const b of servers) {
      if (b === hostd || b.medianRps === undefined) continue;
      const perRound = hostd.rounds
        .map((h) => [h, b.rounds.find((r) => r.round === h.round)] as const)
        .filter(([, r]) => r !== undefined)
        .map(([h, r]) => h.rps / r!.rps);
      ratios.push({ against: b.server, ratio: hostd.medianRps / b.medianRps, perRoundMedian: perRound.length ? median(perRound) : NaN });
    }
  }
  return { id: s.id, label: s.label, group: s.group, path: s.path, method: s.method, subject, servers, ratios };
}

export function check(results: ScenarioResult[], targets: Target[]): Check[] {
  const out: Check[] = [];
  for (const t of targets) {
    const sc = results.find((r) => r.id === t.scenario);
    if (!sc) continue; // scenario not run (--only)
    const subject = sc.subject;
    const me = sc.servers.find((s) => s.server === subject);
    const other = t.against ? sc.servers.find((s) => s.server === t.against) : undefined;
    const errNote = me && me.errors > 0 ? `${subject} had ${me.errors} errors (non-2xx/socket) in its rounds` : undefined;
    const base = { scenario: sc.id, label: sc.label, target: t.target };
    const skip = (what: string, bound: number, note: string) => out.push({ ...base, what, status: 'SKIP', bound, note });
    if (t.kind === 'ratio') {
      const what = `${subject}/${t.against} req/s ≥ ${t.min}`;
      const ratio = sc.ratios.find((r) => r.against === t.against);
      if (!me || me.medianRps === undefined) skip(what, t.min!, me?.failed ?? `${subject} not measured`);
      else if (!ratio) skip(what, t.min!, other?.failed ?? `${t.against} not measured`);
      else {
        const ok = ratio.ratio >= t.min! && !(me.errors > 0 && me.rounds.some((r) => r.non2xx > 0));
        out.push({ ...base, what, status: ok ? 'PASS' : 'MISS', value: ratio.ratio, bound: t.min!, note: errNote });
      }
    } else if (t.kind === 'cpu') {
      const what = `${subject}/${t.against} CPU per request ≤ ${t.max}`;
      if (me?.medianCpuUs === undefined || other?.medianCpuUs === undefined)
        skip(what, t.max!, 'CPU per request not measured (Linux /proc)');
      else {
        const value = me.medianCpuUs / other.medianCpuUs;
        out.push({ ...base, what, status: value <= t.max! ? 'PASS' : 'MISS', value, bound: t.max!, note: errNote });
      }
    } else {
      const what = `${subject} p99 ≤ ${t.maxMs} ms`;
      if (!me || me.medianP99 === undefined) skip(what, t.maxMs!, me?.failed ?? `${subject} not measured`);
      else
        out.push({
          ...base,
          what,
          status: me.medianP99 <= t.maxMs! ? 'PASS' : 'MISS',
          value: me.medianP99,
          bound: t.maxMs!,
          note: errNote,
        });
    }
  }
  return out;
}

/** wrk at or above this share of a core: the client, not the server, sets the pace */
export const CLIENT_BOUND = 0.9;
const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - [...s].length));
const lpad = (s: string, n: number) => ' '.repeat(Math.max(0, n - [...s].length)) + s;

export function table(results: ScenarioResult[]): string {
  const lines: string[] = [];
  const head = `${pad('scenario', 18)}${pad('server', 15)}${lpad('req/s', 11)}${lpad('p99', 11)}${lpad('CPU/req', 11)}${lpad('(main)', 9)}   ${pad('hostd/this', 17)}rounds req/s`;
  lines.push(head, '-'.repeat(head.length + 16));
  for (const sc of results) {
    sc.servers.forEach((s, i) => {
      const name = i === 0 ? sc.label : '';
      if (s.medianRps === undefined) {
        lines.push(
          `${pad(name, 18)}${pad(s.server, 15)}${lpad('—', 11)}${lpad('—', 11)}${lpad('—', 11)}${lpad('', 9)}   ${s.failed ?? 'not measured'}`,
        );
        return;
      }
      const ratio = sc.ratios.find((r) => r.against === s.server);
      const ratioText = s.server === sc.subject ? '' : ratio ? `${ratio.ratio.toFixed(2)}× (${ratio.perRoundMedian.toFixed(2)}×)` : '';
      const rounds = s.rounds.map((r) => fmtInt(r.rps)).join(' ');
      const errs = (s.errors > 0 ? `  (${s.errors} errors)` : '') + (s.failed ? `  ${s.failed}` : '');
      lines.push(
        `${pad(name, 18)}${pad(s.server, 15)}${lpad(fmtInt(s.medianRps) + ((s.medianClientCpu ?? 0) >= CLIENT_BOUND ? '*' : ' '), 11)}${lpad(fmtMs(s.medianP99!), 11)}${lpad(s.medianCpuUs === undefined ? '—' : `${s.medianCpuUs.toFixed(1)} µs`, 11)}${lpad(s.medianMainCpuUs === undefined || s.server.startsWith('nginx') ? '' : `(${s.medianMainCpuUs.toFixed(1)})`, 9)}   ${pad(ratioText, 17)}${rounds}${errs}`,
      );
    });
    lines.push('');
  }
  lines.push("req/s, p99, CPU/req: medians over the rounds; CPU/req = the server's user+system CPU time per request, all");
  lines.push('  threads and processes; (main) = its main thread alone: for hostd the front thread, the rest being');
  lines.push("  pool workers, V8 GC helpers and libuv's file-reading threads");
  lines.push(`* wrk itself was ≥ ${CLIENT_BOUND * 100}% busy on its core (median): client-bound, the server may be faster than shown`);
  lines.push("hostd/this: hostd req/s over this server's, ratio of the medians (in brackets: median of the per-round ratios)");
  return lines.join('\n');
}

export function checksText(checks: Check[]): string {
  return checks
    .map((c) => {
      const v =
        c.value === undefined ? '' : c.what.includes('p99') ? ` (measured ${fmtMs(c.value)})` : ` (measured ${c.value.toFixed(2)}×)`;
      const tag = c.target ? c.status : `${c.status.toLowerCase()} (info)`;
      return `${pad(tag, 12)}${pad(c.label, 18)}${c.what}${v}${c.note ? ` — ${c.note}` : ''}`;
    })
    .join('\n');
}
