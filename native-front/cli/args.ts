// Command-line parsing: `hostd [check] [--sites DIR|FILE]... [flags]`, `hostd ./app.mjs`,
// `hostd status`, `hostd reload NAME`. Usage errors exit 2.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { HostdError } from '../../shared/errors.js';
import { LOG_FORMATS, type LogFormat } from '../log/access-log.js';
import { defaultStatusSocket } from '../control/runtime-dir.js';
import { resolveRunAs } from '../control/privileges.js';

export interface CliArgs {
  command: 'serve' | 'check' | 'help' | 'version' | 'status' | 'reload';
  sites: string[];
  /** `hostd ./server.mjs`: serve this one module at / (cli/one-app.ts) instead of --sites. */
  app?: string;
  /** `hostd reload NAME`: the site to reload. */
  site?: string;
  /** `hostd reload NAME --mount /x`: only this mount of it. */
  mount?: string;
  /** `hostd status --json`: the raw /status document. */
  json: boolean;
  listen?: string;
  /** The status listener's address; undefined with --status off. */
  status?: string;
  /** `status` is the default socket (no --status given). */
  statusDefault: boolean;
  accessLog?: string;
  logFormat: LogFormat;
  errorLog?: string;
  gracefulTimeout?: string;
  trustProxy?: string;
  statusTokenFile?: string;
  fronts?: number;
  /** --max-memory SIZE: the process-wide memory ceiling. */
  maxMemory?: string;
  /** false with --no-supervisor: serve in this process instead of under the supervisor. */
  supervisor: boolean;
  /** --user NAME[:GROUP]: the serving process drops from root to it after binding (control/privileges.ts). */
  user?: string;
}

export const USAGE = `Usage: hostd [check] [options]
       hostd ./server.mjs [--listen PORT]
       hostd status [--json] | hostd reload NAME [--mount /x]

Serve (or with "check", validate) one virtual host per file.

Commands:
  (none)                      serve every virtual host
  check                       validate the configuration, print hosts, mounts and pools;
                              exit 1 with "file:line: message" for each problem
  ./server.mjs                serve this one app at / as \`node server.mjs\` would, with the
                              directories of ./public beside it as static mounts; listens on
                              --listen, else $PORT, else 3000
  status                      a table of the running hostd's sites, mounts, workers, memory,
                              requests, restarts and queues (--json: the /status document)
  reload NAME                 restart the pools of one site (--mount /x: of one mount)
                              (status and reload reach hostd on its status listener: the
                              default socket, or --status and --status-token-file)

Options:
  --sites DIR|FILE            vhost files (*.yaml, *.yml, *.json); repeatable; default ./sites
  --listen PORT|HOST:PORT     override every vhost's listen address
  --status HOST:PORT|PATH|off internal listener with /metrics, /status, /healthz and
                              POST /reload?site=NAME (a path: a Unix socket); default: the
                              Unix socket hostd.sock in the runtime directory ($HOSTD_RUNTIME_DIR,
                              /run/hostd as root, else $XDG_RUNTIME_DIR/hostd or /tmp/hostd-UID)
  --status-token-file FILE    the status listener requires "Authorization: Bearer <token in FILE>"
  --fronts N                  front threads accepting connections (default: a quarter of
                              the cores, at least 1)
  --max-memory SIZE           over this resident memory (e.g. 2g), replace the largest worker
                              of the pool using the most memory (default: no ceiling)
  --access-log FILE|-|off     access log destination (default: - = stdout)
  --log-format FORMAT         access log format: combined, vhost_combined (site:port first)
                              or json (default: combined)
  --error-log FILE|-          error log destination (default: - = stderr)
  --graceful-timeout DURATION how long SIGTERM lets requests finish (default: 30s)
  --trust-proxy CIDR[,CIDR]   believe X-Forwarded-For/-Proto from these peers
  --no-supervisor             serve in this process; by default a small parent process runs
                              the server as its child and restarts it if it dies
  --user NAME[:GROUP]         started as root: bind the listeners, open the logs and the
                              status socket, then serve as this user (and its group, or
                              GROUP) before any app loads; the supervisor stays root
  -h, --help                  show this help
  -v, --version               print the version

Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the configuration (a site whose file
is broken keeps its previous one); SIGUSR1 reopens logs.
(The supervisor forwards them to the server.)
Exit codes: 0 success, 1 configuration or runtime error, 2 usage error.`;

const OPTIONS = {
  sites: { type: 'string', multiple: true },
  listen: { type: 'string' },
  status: { type: 'string' },
  'status-token-file': { type: 'string' },
  fronts: { type: 'string' },
  'max-memory': { type: 'string' },
  'access-log': { type: 'string' },
  'log-format': { type: 'string' },
  'error-log': { type: 'string' },
  'graceful-timeout': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'no-supervisor': { type: 'boolean' },
  user: { type: 'string' },
  json: { type: 'boolean' },
  mount: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** parseArgs with hostd's options; its errors become usage errors (exit 2). */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw new HostdError('HOSTD_USAGE', (err as Error).message);
  }
}

/** A positional that names a module to serve (`hostd ./server.mjs`) rather than a command. */
const MODULE = /\.(?:[cm]?js|[cm]?ts|tsx|jsx)$/;

/** The command, and its operand, from the positionals. */
function command(positionals: string[]): Pick<CliArgs, 'command' | 'app' | 'site'> {
  const [first, ...rest] = positionals;
  if (first === 'reload') {
    if (rest.length !== 1) throw new HostdError('HOSTD_USAGE', 'reload takes one site name: hostd reload NAME [--mount /x]');
    return { command: 'reload', site: rest[0] };
  }
  if (rest.length > 0) throw new HostdError('HOSTD_USAGE', `unexpected "${rest.join(' ')}" after "${first}"`);
  if (first === undefined) return { command: 'serve' };
  if (first === 'check' || first === 'status') return { command: first };
  if (MODULE.test(first)) return { command: 'serve', app: first };
  throw new HostdError(
    'HOSTD_USAGE',
    `unknown command "${first}" (commands: check, status, reload NAME; or a module to serve: hostd ./server.mjs)`,
  );
}

export function parseCli(argv: string[]): CliArgs {
  const { values: v, positionals } = parse(argv);
  const { command: cmd, app, site } = command(positionals);
  if (app !== undefined && v.sites) throw new HostdError('HOSTD_USAGE', `serve either one module (${app}) or --sites, not both`);
  if (v.mount !== undefined && cmd !== 'reload') throw new HostdError('HOSTD_USAGE', '--mount goes with reload NAME');
  if (v.json && cmd !== 'status') throw new HostdError('HOSTD_USAGE', '--json goes with status');
  const format = (v['log-format'] ?? 'combined') as LogFormat;
  if (!LOG_FORMATS.includes(format))
    throw new HostdError('HOSTD_USAGE', `--log-format must be ${LOG_FORMATS.map((f) => `"${f}"`).join(', ')}, not "${format}"`);
  let fronts: number | undefined;
  if (v.fronts !== undefined) {
    fronts = Number(v.fronts);
    if (!/^\d+$/.test(v.fronts) || fronts < 1)
      throw new HostdError('HOSTD_USAGE', `--fronts must be a whole number of threads, at least 1, not "${v.fronts}"`);
  }
  if (v.user !== undefined) {
    if (cmd !== 'serve' && cmd !== 'check') throw new HostdError('HOSTD_USAGE', '--user goes with serving (or check)');
    resolveRunAs(v.user); // not root, or no such user: a usage error before anything starts
  }
  let sites = v.sites ?? [];
  const needsSites = (cmd === 'serve' && app === undefined) || cmd === 'check';
  if (sites.length === 0 && needsSites && !v.help && !v.version) {
    if (!existsSync('sites')) throw new HostdError('HOSTD_USAGE', 'no --sites given and no ./sites directory here');
    sites = ['sites'];
  }
  return {
    command: v.help ? 'help' : v.version ? 'version' : cmd,
    sites,
    app,
    site,
    mount: v.mount,
    json: v.json ?? false,
    listen: v.listen,
    // On by default (hostd status, hostd reload NAME find it with no options); --status off: none.
    status: v.status === 'off' ? undefined : (v.status ?? defaultStatusSocket()),
    statusDefault: v.status === undefined,
    accessLog: v['access-log'],
    logFormat: format,
    errorLog: v['error-log'],
    gracefulTimeout: v['graceful-timeout'],
    trustProxy: v['trust-proxy'],
    statusTokenFile: v['status-token-file'],
    fronts,
    maxMemory: v['max-memory'],
    supervisor: !v['no-supervisor'],
    user: v.user,
  };
}
