// The whole configuration of a host, validated at once: vhost files, vhost objects and mounts
// added with host.mount(), every problem collected.
import type { AppMountConfig, ConfigProblem, ResolvedVhost, StaticMountConfig, VhostConfig } from '../../shared/config/types.js';
import { checkConflicts, loadSites, resolveMount, resolveVhost } from '../../shared/config/index.js';
import { formatListen } from '../../shared/config/listen.js';

export interface ExtraMount {
  vhost: VhostConfig;
  mount: StaticMountConfig | AppMountConfig;
}

export async function resolveSites(
  sites: ReadonlyArray<VhostConfig | string>,
  extraMounts: readonly ExtraMount[],
  opts: { baseDir: string; listen?: string; conflicts?: boolean },
): Promise<{ vhosts: ResolvedVhost[]; problems: ConfigProblem[] }> {
  const problems: ConfigProblem[] = [];
  const vhosts: ResolvedVhost[] = [];
  const paths = sites.filter((s): s is string => typeof s === 'string');
  if (paths.length) {
    const loaded = await loadSites(paths, { listen: opts.listen, conflicts: false });
    vhosts.push(...loaded.vhosts);
    problems.push(...loaded.problems);
  }
  sites.forEach((site, i) => {
    if (typeof site === 'string') return;
    // Objects without `name` are named by position: site-1, site-2, ... (docs/config.md, "name").
    const r = resolveVhost(site, { file: `<sites[${i}]>`, baseDir: opts.baseDir, listen: opts.listen, name: `site-${i + 1}` });
    if (r.vhost) vhosts.push(r.vhost);
    problems.push(...r.problems);
  });
  extraMounts.forEach(({ vhost, mount }, i) => {
    const file = `<mount[${i}]>`;
    const r = resolveMount(mount, { file, baseDir: opts.baseDir });
    problems.push(...r.problems);
    if (!r.mount) return;
    // A mount on a vhost of its own: named like the objects, continuing their numbering.
    const name = `site-${sites.length + i + 1}`;
    const v = resolveVhost({ ...vhost, static: [], apps: [] }, { file, baseDir: opts.baseDir, listen: opts.listen, name });
    problems.push(...v.problems);
    if (!v.vhost) return;
    const same = vhosts.find(
      (x) => formatListen(x.listen) === formatListen(v.vhost!.listen) && x.serverNames.join() === v.vhost!.serverNames.join(),
    );
    if (same) same.mounts.push(r.mount);
    else vhosts.push({ ...v.vhost, mounts: [r.mount] });
  });
  // conflicts: false when the caller checks them itself (site-reload.ts: per site).
  if (opts.conflicts !== false) problems.push(...checkConflicts(vhosts));
  return { vhosts, problems };
}
