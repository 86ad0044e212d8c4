// `hostd status` as a table (passenger-status, `pm2 ls`): one line per mount, grouped by site.
// Reads the /status document loosely (every field optional): this is the CLI of one version
// talking to a hostd that may be older or newer, and a missing figure prints as "-", never as a
// crash. Sites come from `hosts[].site` (or `name`), or from a `sites[]` grouping when the
// server sends one, else the vhost file's name.
import path from 'node:path';

interface PoolDoc {
  threads?: number;
  busy?: number;
  queued?: number;
  requests?: number;
  restarts?: Record<string, number>;
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
  const siteOf = (h: HostDoc, group?: HostDoc) =>
    h.site ?? h.name ?? group?.name ?? group?.site ?? (h.file ? path.basename(h.file, path.extname(h.file)) : '-');
  if (Array.isArray(s.sites))
    return s.sites.flatMap((g) =>
      Array.isArray(g.hosts) ? g.hosts.map((h) => ({ site: siteOf(h, g), host: h })) : [{ site: siteOf(g), host: g }],
    );
  return (s.hosts ?? []).map((h) => ({ site: siteOf(h), host: h }));
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
        num(p?.threads),
        num(p?.busy),
        num(p?.queued),
        memory === undefined ? '-' : `${memory} MB`,
        num(p?.requests ?? m.requests),
        num(p?.restarts === undefined ? undefined : sum(Object.values(p.restarts))),
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
