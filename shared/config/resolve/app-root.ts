// Where an app runs: its working directory and the environment file beside it. Passenger runs an
// app from its app root, mod_wsgi's WSGIDaemonProcess has home=, PM2 has cwd; an app written for
// `node server.js` expects process.cwd() to be its own folder (express.static('public'), dotenv's
// .env, process.loadEnvFile()). Read at startup and on reload, never on the request path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import type { ConfigPath } from '../source.js';
import { type Ctx, statOrUndefined } from './context.js';

/** The nearest folder at or above `module` holding a package.json, else the module's own folder. */
export function appRoot(module: string): string {
  const own = path.dirname(module);
  for (let dir = own; ; dir = path.dirname(dir)) {
    if (statOrUndefined(path.join(dir, 'package.json'))?.isFile()) return dir;
    if (path.dirname(dir) === dir) return own;
  }
}

/** `pool.cwd` (relative to the vhost file's folder; must be a directory), else the app root; undefined when wrong. */
export function appCwd(given: unknown, module: string, p: ConfigPath, ctx: Ctx): string | undefined {
  if (typeof given !== 'string' || given === '') return appRoot(module); // absent, or the schema said why
  const abs = path.resolve(ctx.baseDir, given);
  const st = statOrUndefined(abs);
  if (!st) ctx.problems.add(p, `directory not found: ${abs}`);
  else if (!st.isDirectory()) ctx.problems.add(p, `not a directory: ${abs}`);
  else return abs;
  return undefined;
}

/**
 * `pool.envFile` (relative to the app's working directory), parsed with Node's own dotenv parser
 * (util.parseEnv: what `node --env-file` and process.loadEnvFile() read). A missing file is a
 * config error: an app started without its secrets fails later and far less clearly.
 */
export function readEnvFile(
  given: string,
  cwd: string,
  p: ConfigPath,
  ctx: Ctx,
): { file: string; vars: Record<string, string> } | undefined {
  const file = path.resolve(cwd, given);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot read (${code})`;
    ctx.problems.add(p, `${why}: ${file}`);
    return undefined;
  }
  // A default import: a named one would fail to link on Node 20 before 20.12.
  const parseEnv = (util as { parseEnv?: (text: string) => NodeJS.Dict<string> }).parseEnv;
  if (typeof parseEnv !== 'function') {
    ctx.problems.add(p, `reading an env file needs Node 20.12 or later (this is ${process.version})`);
    return undefined;
  }
  return { file, vars: parseEnv(text) as Record<string, string> };
}
