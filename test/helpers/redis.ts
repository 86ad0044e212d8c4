// A throwaway redis-server for a test: loopback, an ephemeral port, nothing saved to disk. CI
// installs redis-server (.ci/run); where it is missing the test fails saying so, rather than skip.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './http.js';
import { withTimeout } from './wait.js';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' ? new Error('redis-server is not installed (apt-get install redis-server; .ci/run installs it in CI)') : err,
      ),
    );
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });
  await withTimeout(ready, 20_000, 'redis-server to accept connections');
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
