// Which file the daemon worker threads run, and with which environment.
import { threadFile } from '../../shared/thread-file.js';

export function workerFilename(): Promise<string> {
  return threadFile('worker');
}

// The workers' environment is built in env.ts (minimal base + passEnv + the pool's env).
export { workerEnv } from './env.js';
