// Which vhosts a reload makes the running ones, when sites are reloaded one at a time or a file
// is broken. hostd serves many people's sites: one site's broken file or reload must not touch
// the others (issue 19). Pure functions over resolved vhosts; host.ts applies what they return.
import path from 'node:path';
import { checkConflicts } from '../../shared/config/index.js';
import type { ConfigProblem, ResolvedVhost } from '../../shared/config/types.js';

/**
 * SIGHUP: the freshly read vhosts, with every site whose file (or folder) has a problem kept at
 * its running configuration. A fresh vhost that conflicts with another (same name, same server
 * name on an address, two catch-alls) goes back to its running configuration too, or is left out
 * when it is new. `kept` lists the problems of the sites that kept their previous configuration;
 * `unresolved`: conflicts remain that no putting back solves (then `kept` lists them).
 */
export function keepBroken(
  running: readonly ResolvedVhost[],
  fresh: readonly ResolvedVhost[],
  problems: readonly ConfigProblem[],
): { vhosts: ResolvedVhost[]; kept: ConfigProblem[]; keptSites: Set<string>; unresolved: boolean } {
  const bad = new Set(problems.map((p) => p.file));
  const broken = (file: string) => bad.has(file) || bad.has(path.dirname(file));
  const previous = new Map(running.map((v) => [v.file, v]));
  // Kept (running) vhosts first: conflicts are reported on the later vhost, naming the earlier,
  // so they land on fresh ones, and the running ones never conflicted with each other.
  let vhosts = [...running.filter((v) => broken(v.file)), ...fresh.filter((v) => !broken(v.file))];
  const kept = [...problems];
  const keptFiles = new Set(running.filter((v) => broken(v.file)).map((v) => v.file));
  // A fresh vhost reported in a conflict is put back; each round puts back at least one file.
  for (let conflicts = checkConflicts(vhosts); conflicts.length > 0; conflicts = checkConflicts(vhosts)) {
    const fixable = conflicts.filter((c) => !keptFiles.has(c.file));
    // Left only between kept vhosts (cannot be, as they ran together): the caller refuses the reload.
    if (fixable.length === 0) return { vhosts, kept: conflicts, keptSites: new Set(), unresolved: true };
    for (const c of fixable) {
      keptFiles.add(c.file);
      kept.push(c);
      vhosts = vhosts.filter((v) => v.file !== c.file);
      const old = previous.get(c.file);
      if (old) vhosts.unshift(old);
    }
  }
  const keptSites = new Set(vhosts.filter((v) => keptFiles.has(v.file)).map((v) => v.name));
  return { vhosts, kept, keptSites, unresolved: false };
}

/**
 * POST /reload?site=NAME: the running vhosts with the site `site` (found by its running name)
 * replaced by its freshly read vhost (found by its file: the file may rename it). Problems of
 * that file, or conflicts it now has with the others, leave everything as it runs.
 */
export function replaceSite(
  running: readonly ResolvedVhost[],
  site: ResolvedVhost,
  fresh: readonly ResolvedVhost[],
  problems: readonly ConfigProblem[],
): { vhosts: ResolvedVhost[]; problems: ConfigProblem[] } {
  const own = problems.filter((p) => p.file === site.file);
  if (own.length) return { vhosts: [...running], problems: own };
  const next = fresh.find((v) => v.file === site.file);
  // The file gone (deleted since it was loaded): that is a problem of this reload, not a removal.
  if (!next)
    return {
      vhosts: [...running],
      problems: [{ file: site.file, line: 0, message: 'no such vhost file any more (deleted or renamed since it was loaded)' }],
    };
  const vhosts = running.map((v) => (v === site ? next : v));
  // The running configuration has no conflict: any there is now comes with this file.
  return { vhosts, problems: checkConflicts(vhosts) };
}
