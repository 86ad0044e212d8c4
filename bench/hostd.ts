// hostd as a real process, the way users run it: `node dist/cli.js --sites DIR`, access log off,
// with --no-supervisor so that the process measured (its main thread: front 0) is the one serving.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitForHttp, type Server } from './procs.js';

export function hostdCli(repo: string): string {
  return join(repo, 'dist', 'cli.js');
}

/**
 * Starts hostd and waits until it answers on `port` (probing `probePath`). Uses
 * `--access-log off`; a hostd too old to know "off" gets `--access-log /dev/null` instead.
 */
export async function startHostd(o: {
  repo: string;
  sites: string;
  port: number;
  probePath: string;
  extraArgs?: string[];
  nodeArgs?: string[];
  /** The process's name in the report (default hostd). */
  name?: string;
  /** An access log file; default none (`off`). */
  accessLog?: string;
  /** Pass --no-supervisor (default true; builds older than the supervisor do not know it). */
  supervisorFlag?: boolean;
}): Promise<{ server: Server; accessLog: string }> {
  const cli = hostdCli(o.repo);
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm run bench does it for you)`);
  let lastError: unknown;
  for (const accessLog of o.accessLog ? [o.accessLog] : ['off', '/dev/null']) {
    const server = startServer(
      o.name ?? 'hostd',
      process.execPath,
      [
        ...(o.nodeArgs ?? []),
        cli,
        ...(o.supervisorFlag === false ? [] : ['--no-supervisor']),
        '--sites',
        o.sites,
        '--access-log',
        accessLog,
        ...(o.extraArgs ?? []),
      ],
      { cwd: o.repo },
    );
    try {
      await waitForHttp(server, o.port, o.probePath, 30000);
      return { server, accessLog };
    } catch (err) {
      lastError = err;
      await server.stop();
      // Only retry when it was the "off" value hostd refused; anything else is a real failure.
      if (!(accessLog === 'off' && /access-log|off/i.test(server.output()))) break;
    }
  }
  throw lastError;
}
