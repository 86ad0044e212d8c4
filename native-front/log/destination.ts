// A log destination: stdout/stderr or a file, written asynchronously through sonic-boom (pino's
// writer: buffers while a write is in flight, so a busy second becomes a few large writes) and
// reopenable on SIGUSR1 after logrotate renamed the file.
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS: Node's ESM import sees only its module.exports.
const { SonicBoom } = sonicBoom;

export interface Destination {
  write(line: string): void;
  reopen(): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function openDestination(target: string, fd: 1 | 2): Destination {
  const toFd = target === '-' || target === '';
  const boom = toFd ? new SonicBoom({ fd, sync: false }) : new SonicBoom({ dest: target, mkdir: true, append: true, sync: false });
  boom.on('error', (err: Error) => process.stderr.write(`hostd: log ${target}: ${err.message}\n`));
  let closed = false;
  return {
    write(line) {
      if (!closed) boom.write(line);
    },
    reopen() {
      if (!toFd && !closed) boom.reopen();
    },
    flush() {
      return new Promise((resolve) => (closed ? resolve() : boom.flush(() => resolve())));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => {
        if (toFd) return boom.flush(() => resolve());
        boom.once('close', () => resolve());
        boom.end();
      });
    },
  };
}
