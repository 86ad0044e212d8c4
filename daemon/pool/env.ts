// The environment app workers start from. Not hostd's own: hostd's environment may hold the
// secrets of every app (or of the machine: cloud credentials, tokens), and each app should see
// only its own. A worker's process.env is:
//   1. the variables of hostd's environment named in BASE_NAMES or matching LC_*: what programs
//      need to find commands, files, a locale and a time zone, nothing that names a secret;
//   2. the variables the pool names in `passEnv` (Apache's PassEnv), taken from hostd's
//      environment when set there;
//   3. the pool's own `env` mapping, which wins over both;
//   4. NODE_ENV=production when none of these set NODE_ENV (frameworks such as Express otherwise
//      put stack traces in error pages).
// NODE_OPTIONS is not passed by default: it tunes hostd's own Node (read once at start), a worker
// thread never reads it, and a child process the app starts would inherit hostd's tuning. A pool
// that wants it names it in passEnv.
//
// This bounds what an app finds in process.env, not what it can read: an app runs inside hostd's
// process and can still read /proc/self/environ (hostd's environment at exec). Keep secrets out
// of hostd's environment where apps must not see them (docs/operations.md, "Environment").

export const BASE_NAMES = ['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'NODE_ENV'] as const;

const isBase = (name: string) => (BASE_NAMES as readonly string[]).includes(name) || name.startsWith('LC_');

export interface PoolEnv {
  env: Record<string, string>;
  passEnv?: readonly string[];
}

/** The process.env of a pool's workers (see above); `from` is hostd's environment. */
export function workerEnv(pool: PoolEnv, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) if (value !== undefined && isBase(name)) env[name] = value;
  for (const name of pool.passEnv ?? []) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, pool.env);
  if (env.NODE_ENV === undefined) env.NODE_ENV = 'production';
  return env;
}
