// Text for people: one problem per line, and the resolved sites for `hostd check`.
import { mountLabel } from '../log.js';
import { formatDuration, formatSize } from './duration.js';
import { formatListen } from './listen.js';
import type { ConfigProblem, ResolvedMount, ResolvedPool, ResolvedVhost, ResolvedWebSocket } from './types.js';

/** `file:line: message`; `file: message` when there is no line (0). */
export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/**
 * The resolved hosts grouped by listen address, each with its mounts in routing order (longest
 * prefix first) and each app's pool; env values are not shown (secrets), only their names.
 */
export function describeSites(vhosts: ResolvedVhost[]): string {
  const lines: string[] = [];
  const byAddress = new Map<string, ResolvedVhost[]>();
  for (const v of vhosts) {
    const key = formatListen(v.listen);
    byAddress.set(key, [...(byAddress.get(key) ?? []), v]);
  }
  let mounts = 0;
  let statics = 0;
  let apps = 0;
  for (const [address, list] of byAddress) {
    const tls = list.some((v) => v.tls);
    lines.push(`${address}${tls ? ' (tls)' : ''}${address.endsWith(':0') ? ' (ephemeral port)' : ''}`);
    for (const v of list) {
      const names = v.serverNames.map((n) => (n === '*' ? '* (catch-all)' : n)).join(', ');
      const extras: string[] = [];
      if (v.tls) extras.push(`cert ${v.tls.cert}`);
      if (v.redirectHttps !== undefined) extras.push(`redirects to https port ${v.redirectHttps}`);
      lines.push(`  host ${names}  site ${v.name}  [${v.file}]${extras.length ? '  ' + extras.join(', ') : ''}`);
      if (v.mounts.length === 0) lines.push('    (no mounts)');
      const ordered = [...v.mounts].sort((a, b) => b.url.length - a.url.length || (a.url < b.url ? -1 : 1));
      const width = Math.max(1, ...ordered.map((m) => mountLabel(m.url).length));
      for (const m of ordered) {
        mounts++;
        if (m.kind === 'static') statics++;
        else apps++;
        lines.push(...describeMount(m, width).map((l) => '    ' + l));
      }
    }
  }
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  lines.push(
    `${plural(vhosts.length, 'host', 'hosts')}, ${plural(mounts, 'mount', 'mounts')} (${statics} static, ${plural(apps, 'app', 'apps')}), ` +
      `${plural(apps, 'pool', 'pools')}, on ${plural(byAddress.size, 'address', 'addresses')}`,
  );
  return lines.join('\n') + '\n';
}

function describeMount(m: ResolvedMount, width: number): string[] {
  const url = mountLabel(m.url).padEnd(width);
  if (m.kind === 'static') {
    const opts = [
      m.maxAge !== undefined ? `maxAge ${m.maxAge}s` : 'no maxAge',
      m.immutable ? 'immutable' : '',
      m.index === false ? 'no index' : `index ${m.index}`,
      m.dotfiles ? 'dotfiles' : '',
      m.followSymlinks ? 'followSymlinks' : '',
      m.precompressed ? 'precompressed' : 'no precompressed',
    ].filter(Boolean);
    return [`${url}  static  ${m.dir}  (${opts.join(', ')})`];
  }
  const opts = [`interface ${m.interface}`, `maxBodySize ${formatSize(m.maxBodySize)}`];
  if (m.watch) opts.push('watch');
  if (m.touchFile) opts.push(`touchFile ${m.touchFile}`);
  return [
    `${url}  app     ${m.module}  (${opts.join(', ')})`,
    `${' '.repeat(width)}  pool    ${describePool(m.pool)}`,
    `${' '.repeat(width)}  cwd     ${m.pool.cwd}${m.pool.envFile ? `  (envFile ${m.pool.envFile})` : ''}`,
    `${' '.repeat(width)}  ws      ${describeWebSocket(m.websocket)}`,
  ];
}

function describeWebSocket(w: ResolvedWebSocket): string {
  return [
    `maxPayload ${formatSize(w.maxPayload)}`,
    `idleTimeout ${w.idleTimeoutMs === 0 ? 'never' : formatDuration(w.idleTimeoutMs)}`,
    `maxBackpressure ${formatSize(w.maxBackpressure)}`,
    `maxPendingBytes ${formatSize(w.maxPendingBytes)}`,
    `compression ${w.compression ? 'on' : 'off'}`,
    `maxConnections ${w.maxConnections === 0 ? 'unlimited' : w.maxConnections}`,
  ].join(', ');
}

function describePool(p: ResolvedPool): string {
  const never = (ms: number) => (ms === 0 ? 'never' : formatDuration(ms));
  const parts = [
    `threads ${p.threads}${p.minThreads !== p.threads ? ` (min ${p.minThreads})` : ''}`,
    `concurrency ${p.concurrency}`,
    `maxRequests ${p.maxRequests === 0 ? 'unlimited' : p.maxRequests + (p.maxRequestsJitter ? ` (+0..${p.maxRequestsJitter})` : '')}`,
    `requestTimeout ${formatDuration(p.requestTimeoutMs)}`,
    `queue ${p.queueSize} (timeout ${formatDuration(p.queueTimeoutMs)})`,
    `idleTimeout ${never(p.idleTimeoutMs)}`,
    `memoryLimit ${p.memoryLimitMb !== undefined ? p.memoryLimitMb + ' MB' : 'none'}`,
  ];
  const env = Object.keys(p.env);
  if (env.length) parts.push(`env ${env.join(', ')}`);
  if (p.passEnv?.length) parts.push(`passEnv ${p.passEnv.join(', ')}`);
  if (p.sticky?.cookie) parts.push(`sticky cookie ${p.sticky.cookie}`);
  if (p.sticky?.query) parts.push(`sticky query ${p.sticky.query}`);
  return parts.join(', ');
}
