// What /status and /metrics say: built on demand from the host's live counters.
import type { Host } from '../host.js';
import type { MountRoute } from '../front.js';
import { LATENCY_BUCKETS_S } from './mount-stats.js';

/** The pool counters an app mount reports (see daemon pool); static mounts have none. */
export interface PoolStatsLike {
  threads?: number;
  busy?: number;
  idle?: number;
  queued?: number;
  inFlight?: number;
  requests?: number;
  restarts?: Record<string, number>;
}

function poolStats(route: MountRoute): PoolStatsLike | undefined {
  const h = route.handler as { stats?: () => PoolStatsLike; loadError?: string };
  return typeof h.stats === 'function' ? h.stats() : undefined;
}

export function statusJson(host: Host) {
  return {
    state: host.draining ? 'draining' : 'serving',
    uptimeSeconds: Math.round((Date.now() - host.startedAt) / 1000),
    generation: host.generation,
    inFlight: host.inFlight,
    listeners: host.addresses,
    hosts: host.config.map((v) => ({
      file: v.file,
      serverNames: v.serverNames,
      listen: `${v.listen.host}:${v.listen.port}`,
      tls: Boolean(v.tls),
      mounts: v.mounts.map((m) => {
        const route = host.routes.find((r) => r.mount === m);
        const base = { url: m.url || '/', kind: m.kind, requests: route?.stats.count ?? 0 };
        if (m.kind === 'static') return { ...base, dir: m.dir };
        const loadError = (route?.handler as { loadError?: string } | undefined)?.loadError;
        return { ...base, module: m.module, pool: { config: m.pool, ...(route && poolStats(route)), loadError } };
      }),
    })),
    staticCache: host.cache.stats(),
  };
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition format 0.0.4. */
export function renderMetrics(host: Host): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const routes = host.routes;
  const labels = (r: MountRoute) => `vhost="${esc(r.stats.vhost)}",mount="${esc(r.stats.mount)}"`;

  family('hostd_requests_total', 'counter', 'Responses by virtual host, mount and status class (aborted = client went away).');
  const classes = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'];
  for (const r of routes)
    r.stats.byClass.forEach((n, i) => out.push(`hostd_requests_total{${labels(r)},kind="${r.stats.kind}",status="${classes[i]}"} ${n}`));
  out.push(`hostd_requests_total{vhost="",mount="",kind="none",status="unrouted"} ${host.unrouted}`);

  family('hostd_request_duration_seconds', 'histogram', 'Time from request arrival to response end.');
  for (const r of routes) {
    let cumulative = 0;
    LATENCY_BUCKETS_S.forEach((le, i) => {
      cumulative += r.stats.buckets[i];
      out.push(`hostd_request_duration_seconds_bucket{${labels(r)},le="${le}"} ${cumulative}`);
    });
    cumulative += r.stats.buckets[LATENCY_BUCKETS_S.length];
    out.push(`hostd_request_duration_seconds_bucket{${labels(r)},le="+Inf"} ${cumulative}`);
    out.push(`hostd_request_duration_seconds_sum{${labels(r)}} ${r.stats.latencySum}`);
    out.push(`hostd_request_duration_seconds_count{${labels(r)}} ${r.stats.count}`);
  }

  family('hostd_response_bytes_total', 'counter', 'Response body bytes sent.');
  for (const r of routes) out.push(`hostd_response_bytes_total{${labels(r)}} ${r.stats.bytes}`);

  family('hostd_requests_in_flight', 'gauge', 'Requests being served now.');
  out.push(`hostd_requests_in_flight ${host.inFlight}`);

  const pools = routes.map((r) => [r, poolStats(r)] as const).filter((p): p is [MountRoute, PoolStatsLike] => p[1] !== undefined);
  family('hostd_pool_queue_depth', 'gauge', 'Requests waiting for a worker.');
  for (const [r, p] of pools) out.push(`hostd_pool_queue_depth{${labels(r)}} ${p.queued ?? 0}`);
  family('hostd_pool_workers', 'gauge', 'Worker threads by state.');
  for (const [r, p] of pools) {
    out.push(`hostd_pool_workers{${labels(r)},state="busy"} ${p.busy ?? 0}`);
    out.push(`hostd_pool_workers{${labels(r)},state="idle"} ${p.idle ?? 0}`);
  }
  family('hostd_pool_worker_restarts_total', 'counter', 'Workers replaced, by reason.');
  for (const [r, p] of pools)
    for (const [reason, n] of Object.entries(p.restarts ?? {})) out.push(`hostd_pool_worker_restarts_total{${labels(r)},reason="${esc(reason)}"} ${n}`);

  const cache = host.cache.stats();
  family('hostd_static_cache_hits_total', 'counter', 'Static files served from the memory cache.');
  out.push(`hostd_static_cache_hits_total ${cache.hits}`);
  family('hostd_static_cache_misses_total', 'counter', 'Static files read from disk.');
  out.push(`hostd_static_cache_misses_total ${cache.misses}`);
  family('hostd_static_cache_bytes', 'gauge', 'Bytes held by the static file cache.');
  out.push(`hostd_static_cache_bytes ${cache.bytes}`);

  family('hostd_config_generation', 'gauge', 'Configuration generation (increments on every reload).');
  out.push(`hostd_config_generation ${host.generation}`);
  family('hostd_uptime_seconds', 'gauge', 'Seconds since start.');
  out.push(`hostd_uptime_seconds ${Math.round((Date.now() - host.startedAt) / 1000)}`);
  return out.join('\n') + '\n';
}
