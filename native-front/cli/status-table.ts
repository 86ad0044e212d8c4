// `hostd status` as a table (passenger-status, `pm2 ls`): one line per mount, grouped by site.
// Reads the /status document loosely (every field optional): this is the CLI of one version
// talking to a hostd that may be older or newer, and a missing figure prints as "-", never as a
// crash. Rows come from `sites[]`, the summary docs/operations.md keeps stable for this client
// (pool figures `workers`, `queue`, `restarts` as one number), with each mount's module or folder
// taken from the detailed `hosts[]`; an older hostd without `sites[]` is read from `hosts[]`
// alone (`threads` live workers, `queued`, `restarts` by reason), its site from the file name.
import path from 'node:path';

interface PoolDoc {
  /** hosts[]: workers running; sites[]: the configured count (workers is the running one). */
  threads?: number;
  workers?: number;
  busy?: number;
  queued?: number;
  queue?: number;
  requests?: number;
  /** hosts[]: by reason; sites[]: the total. */
  restarts?: Record<string, number> | number;
  memoryMb?: number[];
  loadError?: string;
}

interface MountDoc {
  url?: string;
  kind?: string;
  requests?: number;
  module?: string;
  dir?: string;
  pool?: PoolDoc;
}

interface HostDoc {
  site?: string;
  name?: string;
  file?: string;
  listen?: string;
  serverNames?: string[];
  mounts?: MountDoc[];
  hosts?: HostDoc[];
}

export interface StatusDoc {
  state?: string;
  uptimeSeconds?: number;
  generation?: number;
  fronts?: unknown[];
  inFlight?: number;
  hosts?: HostDoc[];
  sites?: HostDoc[];
  memory?: { rssBytes?: number };
}

/** Every vhost with the site it belongs to, whichever of the shapes above the server sent. */
function hostsBySite(s: StatusDoc): Array<{ site: string; host: HostDoc }> {
  const siteOf = (h: HostDoc) => h.name ?? h.site ?? (h.file ? path.basename(h.file, path.extname(h.file)) : '-');
  const hosts = s.hosts ?? [];
  if (!Array.isArray(s.sites)) return hosts.map((h) => ({ site: siteOf(h), host: h }));
  return s.sites.map((g) => {
    const detail = hosts.find((h) => h.file === g.file && h.listen === g.listen);
    const mounts = (g.mounts ?? []).map((m) => {
      const d = detail?.mounts?.find((x) => x.url === m.url);
      return { ...m, module: m.module ?? d?.module, dir: m.dir ?? d?.dir };
    });
    return { site: siteOf(g), host: { ...g, mounts } };
  });
}

function restartCount(r: PoolDoc['restarts']): number | undefined {
  return typeof r === 'number' || r === undefined ? r : sum(Object.values(r));
}

const num = (n: number | undefined) => (n === undefined ? '-' : String(n));
const sum = (ns: number[] | undefined) => (ns === undefined ? undefined : ns.reduce((a, b) => a + b, 0));

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const parts = d ? [`${d}d`, `${h}h`] : h ? [`${h}h`, `${m}m`] : m ? [`${m}m`, `${seconds % 60}s`] : [`${seconds}s`];
  return parts.join(' ');
}

const HEAD = ['SITE', 'LISTEN', 'MOUNT', 'KIND', 'WORKERS', 'BUSY', 'QUEUE', 'MEMORY', 'REQUESTS', 'RESTARTS', 'SERVES'];

/** The table `hostd status` prints, ending in a newline. */
export function statusTable(s: StatusDoc): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { site, host } of hostsBySite(s)) {
    (host.mounts ?? []).forEach((m, i) => {
      const p = m.pool;
      const memory = sum(p?.memoryMb);
      rows.push([
        i === 0 ? site : '',
        i === 0 ? (host.listen ?? '-') : '',
        m.url === '' ? '/' : (m.url ?? '-'),
        m.kind ?? '-',
        num(p === undefined ? undefined : 'workers' in p ? p.workers : p.threads),
        num(p?.busy),
        num(p?.queue ?? p?.queued),
        memory === undefined ? '-' : `${memory} MB`,
        num(p?.requests ?? m.requests),
        num(restartCount(p?.restarts)),
        m.module ?? m.dir ?? '-',
      ]);
      if (p?.loadError) notes.push(`${site} ${m.url || '/'}: ${p.loadError}`);
    });
  }
  const widths = HEAD.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  const rss = s.memory?.rssBytes;
  const summary = [
    `hostd ${s.state ?? 'unknown'}`,
    `up ${duration(s.uptimeSeconds)}`,
    `generation ${num(s.generation)}`,
    `${s.fronts?.length ?? '-'} front${s.fronts?.length === 1 ? '' : 's'}`,
    `${num(s.inFlight)} in flight`,
    `${rss === undefined ? '-' : Math.round(rss / 1048576)} MB resident`,
  ].join(' · ');
  const body = rows.length ? [line(HEAD), ...rows.map(line)] : ['no sites'];
  return [summary, ...body, ...notes.map((n) => `load error: ${n}`)].join('\n') + '\n';
}
