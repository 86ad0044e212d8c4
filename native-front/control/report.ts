// What /status and /metrics say, built on demand: the control thread's own books (pools,
// configuration) plus every front's counters, summed.
import { mountKey } from '../../shared/config/listen.js';
import type { ResolvedPool } from '../../shared/config/types.js';
import { mountLabel } from '../../shared/log.js';
import type { FrontStats, MountCounters } from '../front/messages.js';
import { residentBytes } from './memory-ceiling.js';
import { LATENCY_BUCKETS_S } from '../front/mount-stats.js';
import type { Host } from './host.js';
import type { Live } from './apply.js';
import { renderWsMetrics, wsStatus } from '../ws/report.js';

/** A pool's settings as /status shows them: env names, never values (they are often secrets). */
function poolConfig(cfg: ResolvedPool): Omit<ResolvedPool, 'env'> & { env: string[] } {
  return { ...cfg, env: Object.keys(cfg.env) };
}

/** Sums counter objects field by field (every front keeps its own). */
function sumFields<T extends object>(all: readonly T[]): T | null {
  if (all.length === 0) return null;
  const out = { ...all[0] } as Record<string, number>;
  for (const c of all.slice(1)) for (const [k, v] of Object.entries(c)) if (typeof v === 'number') out[k] += v;
  return out as T;
}

function sumCounters(all: MountCounters[]): Omit<MountCounters, 'key'> {
  const out = {
    byClass: [0, 0, 0, 0, 0, 0],
    buckets: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0),
    latencySum: 0,
    count: 0,
    bytes: 0,
  };
  for (const c of all) {
    c.byClass.forEach((n, i) => (out.byClass[i] += n));
    c.buckets.forEach((n, i) => (out.buckets[i] += n));
    out.latencySum += c.latencySum;
    out.count += c.count;
    out.bytes += c.bytes;
  }
  const caches = all.flatMap((c) => (c.cache === null ? [] : [c.cache]));
  return { ...out, cache: sumFields(caches) };
}

export function statusJson(host: Host, fronts: FrontStats[], live: Live) {
  const counters = new Map<string, MountCounters[]>();
  for (const f of fronts) for (const m of f.mounts) counters.set(m.key, [...(counters.get(m.key) ?? []), m]);
  const poolFronts = (id: number) => fronts.flatMap((f) => f.pools.filter((p) => p.pool === id));
  const cache = { entries: 0, bytes: 0, hits: 0, misses: 0 };
  for (const f of fronts) {
    cache.entries += f.cache.entries;
    cache.bytes += f.cache.bytes;
    cache.hits += f.cache.hits;
    cache.misses += f.cache.misses;
  }
  const fd = host.fdWatch.report();
  return {
    state: host.draining ? 'draining' : 'serving',
    uptimeSeconds: Math.round((Date.now() - host.startedAt) / 1000),
    generation: host.generation,
    fronts: fronts.map((f) => ({
      index: f.index,
      inFlight: f.inFlight,
      requests: f.mounts.reduce((n, m) => n + m.count, 0) + f.unrouted,
      activeMs: Math.round(f.activeMs),
      cpuMs: Math.round(f.cpuMs),
      websockets: (f.websockets ?? []).reduce((n, c) => n + c.open, 0),
    })),
    inFlight: fronts.reduce((n, f) => n + f.inFlight, 0),
    unrouted: fronts.reduce((n, f) => n + f.unrouted, 0),
    listeners: host.addresses,
    hosts: live.vhosts.map((v) => ({
      site: v.name,
      file: v.file,
      serverNames: v.serverNames,
      listen: `${v.listen.host}:${v.listen.port}`,
      tls: Boolean(v.tls),
      mounts: v.mounts.map((m) => {
        const key = mountKey(v, m.url);
        const { cache: responseCache, ...sums } = sumCounters(counters.get(key) ?? []);
        const base = {
          url: mountLabel(m.url),
          kind: m.kind,
          requests: sums.count,
          counters: sums,
          ...(responseCache ? { cache: responseCache } : {}),
        };
        if (m.kind === 'static') return { ...base, dir: m.dir };
        const lp = live.pools.get(key);
        const ps = lp?.pool.stats();
        const per = lp ? poolFronts(lp.pool.id) : [];
        const busy = new Set(per.flatMap((p) => p.busyWorkers)).size;
        const threads = ps?.threads ?? 0;
        return {
          ...base,
          module: m.module,
          websocket: wsStatus(fronts, key),
          pool: {
            config: poolConfig(m.pool),
            cwd: m.pool.cwd,
            threads,
            busy,
            idle: Math.max(0, threads - busy),
            queued: per.reduce((n, p) => n + p.queued, 0),
            inFlight: per.reduce((n, p) => n + p.inFlight, 0),
            requests: per.reduce((n, p) => n + p.requests, 0),
            restarts: ps?.restarts,
            memoryMb: ps?.memory.map((b) => Math.round(b / 1048576)),
            loadError: ps?.loadError || undefined,
          },
        };
      }),
    })),
    staticCache: cache,
    descriptors: {
      limit: fd.limit,
      open: fd.open,
      acceptPaused: fd.paused,
      pauses: fd.pauses,
      pausedSeconds: Math.round(fd.pausedSeconds * 1000) / 1000,
    },
    memory: { rssBytes: residentBytes(), ...(host.memoryCeiling?.report() ?? { maxBytes: 0, sheds: 0, gaveUp: 0 }) },
    logDroppedLines: host.droppedLogLines,
  };
}

/**
 * The /status document with `sites`: one entry per site (its name, file and mounts, each app
 * mount's pool in the figures `hostd status` prints), beside the detailed `hosts`. The shape is
 * documented in docs/operations.md ("The /status document") and is what CLI clients rely on.
 */
export function statusWithSites(host: Host, fronts: FrontStats[], live: Live) {
  const s = statusJson(host, fronts, live);
  const sites = s.hosts.map((h) => ({
    name: h.site,
    file: h.file,
    serverNames: h.serverNames,
    listen: h.listen,
    mounts: h.mounts.map((m) => ({
      url: m.url,
      kind: m.kind,
      requests: m.requests,
      ...('pool' in m
        ? {
            pool: {
              threads: m.pool.config.threads,
              workers: m.pool.threads,
              busy: m.pool.busy,
              memoryMb: m.pool.memoryMb ?? [],
              requests: m.pool.requests,
              restarts: Object.values(m.pool.restarts ?? {}).reduce((n, k) => n + k, 0),
              queue: m.pool.queued,
              cwd: m.pool.cwd,
              ...(m.pool.loadError ? { loadError: m.pool.loadError } : {}),
            },
          }
        : {}),
    })),
  }));
  return { ...s, sites };
}

export type StatusJson = ReturnType<typeof statusWithSites>;

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (site: string, vhost: string, url: string) => `site="${esc(site)}",vhost="${esc(vhost)}",mount="${esc(url)}"`;

/** Prometheus text exposition format 0.0.4. */
export function renderMetrics(s: StatusJson): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  // Every series names its site: two catch-all vhosts on two ports share vhost="*",mount="/",
  // and only the site (unique across the host) keeps their series apart.
  const mounts = s.hosts.flatMap((h) => h.mounts.map((m) => ({ l: labels(h.site, h.serverNames[0] ?? '*', m.url), m })));

  family('hostd_requests_total', 'counter', 'Responses by virtual host, mount and status class (aborted = client went away).');
  const classes = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'];
  for (const { l, m } of mounts)
    m.counters.byClass.forEach((n, i) => out.push(`hostd_requests_total{${l},kind="${m.kind}",status="${classes[i]}"} ${n}`));
  out.push(`hostd_requests_total{site="",vhost="",mount="",kind="none",status="unrouted"} ${s.unrouted}`);

  family('hostd_request_duration_seconds', 'histogram', 'Time from request arrival to response end.');
  for (const { l, m } of mounts) {
    let cumulative = 0;
    LATENCY_BUCKETS_S.forEach((le, i) => {
      cumulative += m.counters.buckets[i];
      out.push(`hostd_request_duration_seconds_bucket{${l},le="${le}"} ${cumulative}`);
    });
    cumulative += m.counters.buckets[LATENCY_BUCKETS_S.length];
    out.push(`hostd_request_duration_seconds_bucket{${l},le="+Inf"} ${cumulative}`);
    out.push(`hostd_request_duration_seconds_sum{${l}} ${m.counters.latencySum}`);
    out.push(`hostd_request_duration_seconds_count{${l}} ${m.counters.count}`);
  }

  family('hostd_response_bytes_total', 'counter', 'Response body bytes sent.');
  for (const { l, m } of mounts) out.push(`hostd_response_bytes_total{${l}} ${m.counters.bytes}`);

  family('hostd_requests_in_flight', 'gauge', 'Requests being served now.');
  out.push(`hostd_requests_in_flight ${s.inFlight}`);

  const pools = mounts.flatMap(({ l, m }) => ('pool' in m && m.pool ? [{ l, p: m.pool }] : []));
  family('hostd_pool_queue_depth', 'gauge', 'Requests waiting for a worker.');
  for (const { l, p } of pools) out.push(`hostd_pool_queue_depth{${l}} ${p.queued}`);
  family('hostd_pool_workers', 'gauge', 'Worker threads by state.');
  for (const { l, p } of pools) {
    out.push(`hostd_pool_workers{${l},state="busy"} ${p.busy}`);
    out.push(`hostd_pool_workers{${l},state="idle"} ${p.idle}`);
  }
  family('hostd_pool_worker_restarts_total', 'counter', 'Workers replaced, by reason.');
  for (const { l, p } of pools)
    for (const [reason, n] of Object.entries(p.restarts ?? {}))
      out.push(`hostd_pool_worker_restarts_total{${l},reason="${esc(reason)}"} ${n}`);

  // WebSockets, per app mount (native-front/ws/report.ts).
  renderWsMetrics(
    mounts.flatMap(({ l, m }) => ('websocket' in m && m.websocket ? [{ labels: l, ws: m.websocket }] : [])),
    family,
    out,
  );

  const caches = mounts.flatMap(({ l, m }) => ('cache' in m && m.cache ? [{ l, c: m.cache }] : []));
  const cacheFamilies: Array<[string, string, string, (c: NonNullable<(typeof caches)[number]['c']>) => number]> = [
    ['hostd_cache_hits_total', 'counter', 'App responses answered from the response cache.', (c) => c.hits],
    ['hostd_cache_misses_total', 'counter', 'Requests the response cache sent to the app.', (c) => c.misses],
    ['hostd_cache_stale_total', 'counter', 'Answers from stale entries (stale-while-revalidate, stale-if-error).', (c) => c.staleServes],
    [
      'hostd_cache_coalesced_total',
      'counter',
      'Requests that waited for another request fetching the same entry.',
      (c) => c.coalescedWaits,
    ],
    ['hostd_cache_bytes', 'gauge', 'Bytes held by the response cache.', (c) => c.bytes],
    ['hostd_cache_entries', 'gauge', 'Entries in the response cache.', (c) => c.entries],
  ];
  for (const [name, type, help, get] of cacheFamilies) {
    family(name, type, help);
    for (const { l, c } of caches) out.push(`${name}{${l}} ${get(c)}`);
  }

  family('hostd_static_cache_hits_total', 'counter', 'Static files served from the memory cache.');
  out.push(`hostd_static_cache_hits_total ${s.staticCache.hits}`);
  family('hostd_static_cache_misses_total', 'counter', 'Static files read from disk.');
  out.push(`hostd_static_cache_misses_total ${s.staticCache.misses}`);
  family('hostd_static_cache_bytes', 'gauge', 'Bytes held by the static file caches of all fronts.');
  out.push(`hostd_static_cache_bytes ${s.staticCache.bytes}`);

  family(
    'hostd_accept_paused_total',
    'counter',
    'Times the fronts stopped accepting for lack of file descriptors (the kernel refuses connections meanwhile).',
  );
  out.push(`hostd_accept_paused_total ${s.descriptors.pauses}`);
  family('hostd_accept_paused_seconds_total', 'counter', 'Seconds spent not accepting for lack of file descriptors.');
  out.push(`hostd_accept_paused_seconds_total ${s.descriptors.pausedSeconds}`);
  family('hostd_open_fds', 'gauge', 'File descriptors open in the hostd process.');
  out.push(`hostd_open_fds ${s.descriptors.open}`);
  family('hostd_resident_memory_bytes', 'gauge', 'Resident memory of the hostd (serving) process.');
  out.push(`hostd_resident_memory_bytes ${s.memory.rssBytes}`);
  family('hostd_max_memory_bytes', 'gauge', 'The --max-memory ceiling (0: none).');
  out.push(`hostd_max_memory_bytes ${s.memory.maxBytes}`);
  family('hostd_memory_ceiling_sheds_total', 'counter', 'Workers replaced because the process was over --max-memory.');
  out.push(`hostd_memory_ceiling_sheds_total ${s.memory.sheds}`);
  family('hostd_log_dropped_lines_total', 'counter', 'Log lines dropped because the destination could not keep up.');
  out.push(`hostd_log_dropped_lines_total ${s.logDroppedLines}`);

  family('hostd_fronts', 'gauge', 'Front threads serving.');
  out.push(`hostd_fronts ${s.fronts.length}`);
  family('hostd_config_generation', 'gauge', 'Configuration generation (increments on every reload).');
  out.push(`hostd_config_generation ${s.generation}`);
  family('hostd_uptime_seconds', 'gauge', 'Seconds since start.');
  out.push(`hostd_uptime_seconds ${s.uptimeSeconds}`);
  return out.join('\n') + '\n';
}
