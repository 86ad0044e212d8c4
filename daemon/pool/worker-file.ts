// Which file the daemon worker threads run, and with which environment.
import { threadFile } from '../../shared/thread-file.js';

export function workerFilename(): Promise<string> {
  return threadFile('worker');
}

/**
 * The workers' process.env: hostd's own, then the pool's. NODE_ENV defaults to "production"
 * (frameworks such as Express otherwise put stack traces in error pages) unless either sets it.
 */
export function workerEnv(poolEnv: Record<string, string>): Record<string, string> {
  const env = { ...process.env, ...poolEnv } as Record<string, string>;
  if (env.NODE_ENV === undefined) env.NODE_ENV = 'production';
  return env;
}
