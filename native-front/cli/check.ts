// `hostd check`: every problem of every vhost file at once, its apps' load failures included.
//
// A file with a configuration problem yields no vhost (loadSites), but the app mounts in it that
// are themselves well formed are still loaded, once each in a throwaway worker: a typo in
// `listen` must not hide that the module beside it throws at import. Problems are printed per
// file, in line order, config and load failures together.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeSites, formatProblem, loadSites, mountSource, resolveMount } from '../../shared/config/index.js';
import type { ConfigProblem, ResolvedApp } from '../../shared/config/index.js';
import { parseSource } from '../../shared/config/source.js';
import { checkApp } from '../../daemon/pool/check.js';
import type { CliArgs } from './args.js';
import { setDropTarget } from '../../shared/config/resolve/accounts.js';
import { resolveRunAs } from '../control/privileges.js';

/** An app mount to load, and where a load failure is reported. */
interface AppToCheck {
  app: ResolvedApp;
  file: string;
  line: number;
  /** "apps[0]" */
  path: string;
}

export interface CheckStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Runs `hostd check`; resolves with the exit code (0: all good, 1: problems were printed). */
export async function check(args: Pick<CliArgs, 'sites' | 'listen' | 'user'>, io: CheckStreams = process): Promise<number> {
  // `hostd check --user NAME` reports what that drop rules out (pool.user, pool.group).
  if (args.user !== undefined) setDropTarget(resolveRunAs(args.user).user);
  const { vhosts, problems, files } = await loadSites(args.sites, { listen: args.listen });
  const apps: AppToCheck[] = [];
  for (const v of vhosts) {
    for (const m of v.mounts) {
      if (m.kind !== 'app') continue;
      const src = mountSource(m);
      apps.push({ app: m, file: v.file, line: src?.line('module') ?? 0, path: src?.path ?? 'apps' });
    }
  }
  const good = new Set(vhosts.map((v) => v.file));
  for (const file of files) if (!good.has(file)) apps.push(...(await wellFormedApps(file)));

  const failures = await Promise.all(
    apps.map(async ({ app, file, line, path: where }): Promise<ConfigProblem | undefined> => {
      const error = await checkApp(app, { onOutput: (text) => io.stderr.write(`${app.module}: ${text}\n`) });
      return error === undefined ? undefined : { file, line, message: `${where}.module: ${error}` };
    }),
  );
  const all = [...problems, ...failures.filter((p): p is ConfigProblem => p !== undefined)];
  if (all.length > 0) {
    io.stderr.write(inFileOrder(all, files).map(formatProblem).join('\n') + '\n');
    return 1;
  }
  io.stdout.write(describeSites(vhosts));
  return 0;
}

/**
 * The app mounts of a file that has problems elsewhere and are well formed themselves, each
 * resolved on its own (their own problems, if any, are already in loadSites' list).
 */
async function wellFormedApps(file: string): Promise<AppToCheck[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return []; // already reported
  }
  const parsed = parseSource(text, path.extname(file).toLowerCase() === '.json');
  if (!parsed.ok) return [];
  const list = (parsed.value as { apps?: unknown } | null)?.apps;
  if (!Array.isArray(list)) return [];
  const baseDir = path.dirname(path.resolve(file));
  const out: AppToCheck[] = [];
  list.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || !('module' in entry)) return;
    const { mount } = resolveMount(entry, { file, baseDir });
    if (mount?.kind !== 'app') return;
    out.push({ app: mount, file, line: parsed.lineOf(['apps', i, 'module'], 'key'), path: `apps[${i}]` });
  });
  return out;
}

/**
 * Problems grouped by file in the order the files were read, each file's in line order; those
 * not tied to a vhost file (the command line, a missing --sites path) first. Stable otherwise.
 */
function inFileOrder(problems: ConfigProblem[], files: string[]): ConfigProblem[] {
  const rank = (p: ConfigProblem) => files.indexOf(p.file);
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.p.line - b.p.line || a.i - b.i)
    .map(({ p }) => p);
}
