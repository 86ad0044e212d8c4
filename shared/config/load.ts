// `--sites DIR|FILE ...`: read every vhost file, resolve each, check them against each other.
import type { Stats } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkConflicts } from './conflicts.js';
import { resolveVhostFrom } from './resolve.js';
import { parseSource } from './source.js';
import type { ConfigProblem, ResolvedVhost } from './types.js';

export const SITE_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface LoadSitesOptions {
  /** --listen PORT|HOST:PORT: overrides every vhost's listen. */
  listen?: string;
  /**
   * Also run checkConflicts over the loaded vhosts (default true). Pass false when the caller
   * runs checkConflicts itself over a larger set (files plus objects), so nothing is reported twice.
   */
  conflicts?: boolean;
}

export interface LoadedSites {
  /** The vhosts of the files that had no problem of their own. */
  vhosts: ResolvedVhost[];
  /** Every problem in every file, in file order and line order; empty = good to serve. */
  problems: ConfigProblem[];
  /** Every vhost file read, as named in problems (the given path joined with the file name). */
  files: string[];
}

/**
 * Load vhost files. Each path is a directory (every *.yaml, *.yml, *.json in it, sorted,
 * not recursive) or a file. Never throws for a bad configuration: everything is in `problems`.
 */
export async function loadSites(paths: string[], opts: LoadSitesOptions = {}): Promise<LoadedSites> {
  const problems: ConfigProblem[] = [];
  const files: string[] = [];
  const seen = new Set<string>();
  for (const given of paths) {
    let st: Stats;
    try {
      st = await stat(given);
    } catch (err) {
      problems.push({ file: given, line: 0, message: fsReason(err, 'no such file or directory') });
      continue;
    }
    let found: string[];
    if (st.isDirectory()) {
      try {
        const entries = await readdir(given, { withFileTypes: true });
        found = [];
        for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
          if (!SITE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) continue;
          const full = path.join(given, e.name);
          // Symlinked files count; subdirectories (even named x.yaml) do not.
          if (e.isFile() || (e.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isFile())) found.push(full);
        }
      } catch (err) {
        problems.push({ file: given, line: 0, message: fsReason(err, 'cannot read the directory') });
        continue;
      }
      if (found.length === 0) {
        problems.push({
          file: given,
          line: 0,
          message: `no vhost files (${SITE_EXTENSIONS.map((x) => '*' + x).join(', ')}) in this directory`,
        });
      }
    } else {
      found = [given];
    }
    for (const f of found) {
      const key = path.resolve(f);
      if (seen.has(key)) continue;
      seen.add(key);
      files.push(f);
    }
  }

  const vhosts: ResolvedVhost[] = [];
  for (const file of files) {
    const r = await loadSiteFile(file, opts);
    problems.push(...r.problems);
    if (r.vhost) vhosts.push(r.vhost);
  }
  // A bad --listen is reported once, not once per file.
  const deduped = problems.filter(
    (p, i) => p.file !== 'command line' || problems.findIndex((q) => q.file === p.file && q.message === p.message) === i,
  );
  if (opts.conflicts !== false) deduped.push(...checkConflicts(vhosts));
  return { vhosts, problems: deduped, files };
}

/** One vhost file -> its vhost, or its problems (sorted by line). */
export async function loadSiteFile(
  file: string,
  opts: LoadSitesOptions = {},
): Promise<{ vhost?: ResolvedVhost; problems: ConfigProblem[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { problems: [{ file, line: 0, message: fsReason(err, 'cannot read the file') }] };
  }
  const json = path.extname(file).toLowerCase() === '.json';
  const parsed = parseSource(text, json);
  if (!parsed.ok) return { problems: [{ file, line: parsed.line, message: parsed.message }] };
  if (parsed.value === null || parsed.value === undefined) {
    return { problems: [{ file, line: 1, message: 'the file is empty: expected a vhost (serverName, listen, static, apps, ...)' }] };
  }
  const r = resolveVhostFrom(parsed.value, {
    file,
    baseDir: path.dirname(path.resolve(file)),
    listen: opts.listen,
    lineOf: parsed.lineOf,
  });
  // In line order (stable: problems on one line keep the order they were found in); a bad
  // --listen ("command line") first.
  const own = r.problems.filter((p) => p.file === file).sort((a, b) => a.line - b.line);
  return { vhost: r.vhost, problems: [...r.problems.filter((p) => p.file !== file), ...own] };
}

function fsReason(err: unknown, fallback: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return fallback + (code ? ` (${code})` : '');
}
