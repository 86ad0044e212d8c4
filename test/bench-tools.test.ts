// The measuring tools of the bench and the soak, checked against real processes and a real
// WebSocket server: a figure they get wrong would mislead every decision taken from it.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { floodPhase, wsFlood } from '../bench/floods.js';
import { processTree, treeMemory } from '../bench/memory.js';
import { waitFor } from './helpers/wait.js';

const MB = 1024 * 1024;

describe('bench tools', function () {
  this.timeout(30_000);

  it('memory: sums PSS over a process and every process below it (a supervisor, its child, a grandchild)', async () => {
    // The grandchild touches 64 MB: a sum over the root alone, or its children alone, misses it.
    const grandchild = `const b = Buffer.alloc(${64 * MB}, 1); console.log('ready'); setInterval(() => b[0]++, 1000);`;
    const child = `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'inherit' }); setInterval(() => {}, 1000);`;
    const root = spawn(
      process.execPath,
      [
        '-e',
        `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: 'inherit' }); setInterval(() => {}, 1000);`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      },
    );
    try {
      await new Promise<void>((resolve) => root.stdout!.once('data', () => resolve()));
      const pids = processTree(root.pid!);
      expect(pids).to.have.length(3);
      expect(pids[0]).to.equal(root.pid);
      const m = treeMemory(root.pid!);
      expect(m.perProcess).to.have.length(3);
      expect(m.pss).to.equal(m.perProcess.reduce((a, b) => a + b, 0));
      expect(Math.max(...m.perProcess)).to.be.greaterThan(64 * MB);
      expect(m.threads).to.be.greaterThan(3);
    } finally {
      process.kill(-root.pid!, 'SIGKILL');
    }
  });

  it('soak: the WebSocket flood sends well-formed 512 KiB messages a real server reads, and reports RSS', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server, maxPayload: MB });
    const sizes: number[] = [];
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => sizes.push(data.length)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      let enough = false;
      const phase = floodPhase(
        'ws',
        20_000,
        () => process.memoryUsage.rss(),
        (done, counts) => wsFlood(port, '/')(() => enough || done(), counts),
      );
      await waitFor(() => sizes.length >= 4, { what: '4 messages at the server', timeout: 20_000 });
      enough = true;
      const r = await phase;
      expect(new Set(sizes)).to.deep.equal(new Set([512 * 1024]));
      expect(r.counts.connections).to.be.at.least(2);
      expect(r.counts['messages written']).to.be.at.least(sizes.length);
      expect(r.rssBefore).to.be.greaterThan(0);
      expect(r.rssPeak).to.be.at.least(r.rssBefore);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
    }
  });
});
