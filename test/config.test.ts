// The vhost configuration: loading files, every kind of problem with its exact file:line, the
// resolved form (absolute paths, defaults), and `hostd check`.
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkConflicts,
  describeSites,
  formatProblem,
  loadSites,
  mountSource,
  parseDuration,
  parseListen,
  parseSize,
  resolveMount,
  resolveVhost,
  vhostSchema,
} from '../shared/config/index.js';
import type { ResolvedApp, ResolvedStatic } from '../shared/config/index.js';
import { parseSource } from '../shared/config/source.js';
import { resolveVhostFrom } from '../shared/config/resolve.js';
// test/helpers/host.js is imported only by the `hostd check` tests (it pulls in the whole host).
type RunCli = typeof import('./helpers/host.js').runCli;

// Fixture paths as the user would type them (relative to the working directory), so problems
// read `test/fixtures/config/bad/x.yaml:3: ...`.
const F = path.relative(process.cwd(), fileURLToPath(new URL('./fixtures/config/', import.meta.url)));
const f = (...p: string[]) => path.join(F, ...p);
const abs = (...p: string[]) => path.resolve(F, ...p);
const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

async function problemsOf(paths: string[], opts?: { listen?: string }): Promise<string[]> {
  const r = await loadSites(paths, opts);
  return r.problems.map(formatProblem);
}

describe('config: problems in vhost files', () => {
  const cases: { name: string; paths: string[]; expected: string[] }[] = [
    {
      name: 'unknown key, with the closest known key',
      paths: [f('bad/unknown-key.yaml')],
      expected: [`${f('bad/unknown-key.yaml')}:3: unknown key "statc" (did you mean "static"?)`],
    },
    {
      name: 'wrong types',
      paths: [f('bad/wrong-type.yaml')],
      expected: [
        `${f('bad/wrong-type.yaml')}:2: listen: expected a port number or "host:port", got true`,
        `${f('bad/wrong-type.yaml')}:7: apps[0].pool.threads: expected a whole number of threads, at least 1, got "four"`,
      ],
    },
    {
      name: 'missing static dir',
      paths: [f('bad/missing-dir.yaml')],
      expected: [`${f('bad/missing-dir.yaml')}:5: static[0].dir: directory not found: ${abs('bad/no-such-dir')}`],
    },
    {
      name: 'bad duration',
      paths: [f('bad/bad-duration.yaml')],
      expected: [`${f('bad/bad-duration.yaml')}:8: apps[0].pool.requestTimeout: "30 sec" is not a duration (use 500ms, 30s, 2m, 1h)`],
    },
    {
      name: 'broken YAML',
      paths: [f('bad/broken.yaml')],
      expected: [
        `${f('bad/broken.yaml')}:5: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ],
    },
    {
      name: 'broken JSON (a trailing comma YAML would accept)',
      paths: [f('bad/broken.json')],
      expected: [`${f('bad/broken.json')}:5: JSON syntax error: trailing comma before "}"`],
    },
    {
      name: 'several problems in one file, all reported in line order',
      paths: [f('bad/several.yaml')],
      expected: [
        `${f('bad/several.yaml')}:2: serverName[1]: "bad name!" is not a valid server name (letters, digits, "-" and "." only)`,
        `${f('bad/several.yaml')}:3: listen: expected a port number or "host:port", got "localhost:99999"`,
        `${f('bad/several.yaml')}:4: tls: missing required key "key"`,
        `${f('bad/several.yaml')}:4: tls.cert: file not found: ${abs('bad/missing.pem')}`,
        `${f('bad/several.yaml')}:6: static[0].url: "assets" must start with "/"`,
        `${f('bad/several.yaml')}:8: static[0]: unknown key "dri" (did you mean "dir"?)`,
        `${f('bad/several.yaml')}:11: apps[0].module: file not found: ${abs('bad/missing.ts')}`,
        `${f('bad/several.yaml')}:12: apps[0].interface: expected "fetch", "node" or "auto", got "wsgi"`,
        `${f('bad/several.yaml')}:13: apps[0].maxBodySize: "10 megs" is not a size (use 512k, 10mb, 1gb or bytes)`,
        `${f('bad/several.yaml')}:14: apps[0]: unknown key "threads" (did you mean "pool.threads"?)`,
        `${f('bad/several.yaml')}:16: apps[0].pool.queueTimeout: must be above 0`,
        `${f('bad/several.yaml')}:17: apps[0].pool.minThreads: 3 is more than threads (default 1); raise threads too`,
      ],
    },
    {
      name: 'JSON: unknown key and bad value on their own lines',
      paths: [f('bad/json-keys.json')],
      expected: [
        `${f('bad/json-keys.json')}:3: unknown key "listn" (did you mean "listen"?)`,
        `${f('bad/json-keys.json')}:8: apps[0].pool.threads: must be at least 1, got 0`,
        `${f('bad/json-keys.json')}:9: apps[0].pool.requestTimeout: "soon" is not a duration (use 500ms, 30s, 2m, 1h)`,
      ],
    },
    {
      name: 'same serverName (any case) twice on one address, across two files',
      paths: [f('conflict/a.yaml'), f('conflict/b.yaml')],
      expected: [`${f('conflict/b.yaml')}:3: serverName: "example.com" on 0.0.0.0:8080 is already served by ${f('conflict/a.yaml')}:1`],
    },
    {
      name: 'two catch-alls (default: true and "*") on one address',
      paths: [f('conflict/d.yml'), f('conflict/e.yml')],
      expected: [
        `${f('conflict/e.yml')}:1: a second catch-all ("*" or default: true) on 0.0.0.0:8080; ${f('conflict/d.yml')}:1 is already the catch-all there`,
      ],
    },
    {
      name: 'TLS and plain vhosts on one address',
      paths: [f('conflict/a.yaml'), f('conflict/f.json')],
      expected: [
        `${f('conflict/f.json')}:4: tls: 0.0.0.0:8080 is plain HTTP for ${f('conflict/a.yaml')}:2; TLS and plain vhosts cannot share one address (use another port)`,
      ],
    },
    {
      name: 'the same name on another port is no conflict',
      paths: [f('conflict/a.yaml'), f('conflict/c.yaml')],
      expected: [],
    },
    {
      name: 'a missing --sites path',
      paths: [f('no-such-dir')],
      expected: [`${f('no-such-dir')}: no such file or directory`],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      expect(await problemsOf(c.paths)).to.deep.equal(c.expected);
    });
  }

  it('reports every problem of every file in a directory at once, in file order', async () => {
    const r = await loadSites([f('bad')]);
    const lines = r.problems.map(formatProblem);
    const perFile = await Promise.all(r.files.map((file) => problemsOf([file])));
    expect(r.files.map((x) => path.basename(x))).to.deep.equal([
      'bad-duration.yaml',
      'broken.json',
      'broken.yaml',
      'json-keys.json',
      'missing-dir.yaml',
      'several.yaml',
      'unknown-key.yaml',
      'wrong-type.yaml',
    ]);
    expect(lines).to.deep.equal(perFile.flat());
    expect(lines.length).to.be.greaterThan(15);
    expect(r.vhosts).to.deep.equal([]);
    for (const l of lines) expect(l).to.match(/^test\/fixtures\/config\/bad\/[\w-]+\.(yaml|json):\d+: \S/);
  });

  it('reports the remaining odd inputs with a line and no exception', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hostd-config-'));
    try {
      const files: Record<string, string> = {
        'a-empty.yaml': '',
        'b-list.yaml': '- serverName: x\n',
        'c-two-docs.yaml': 'serverName: x\n---\nserverName: y\n',
        'd-dup.yaml': 'serverName: a\nlisten: 1\nserverName: b\n',
        'e-comment.json': '{\n  "serverName": "x" // no comments in JSON\n}\n',
        'f-noname.yaml': 'listen: 0\n',
        'g-port-in-name.yaml': 'serverName: "x.example:80"\n',
        'h-dup-url.yaml': `serverName: x\nstatic:\n  - { url: /a, dir: ${abs('good/public')} }\n  - { url: /a/, dir: ${abs('good/public')} }\n`,
        // A short relative path: the problem quotes the value as written (long values are cut).
        'i-not-a-module.yaml': 'serverName: x\napps:\n  - url: /\n    module: ./page.html\n',
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
      writeFileSync(path.join(dir, 'page.html'), '<p>not a module</p>\n');
      const lines = (await problemsOf([dir])).map((l) => l.slice(dir.length + 1));
      expect(lines).to.deep.equal([
        'a-empty.yaml:1: the file is empty: expected a vhost (serverName, listen, static, apps, ...)',
        'b-list.yaml:1: expected a mapping of vhost settings (serverName, listen, static, apps, ...), got a list',
        'c-two-docs.yaml:2: YAML syntax error: a second document ("---"): a vhost file holds one vhost; put the next one in its own file',
        'd-dup.yaml:3: YAML syntax error: a key appears twice in one mapping',
        'e-comment.json:2: JSON syntax error: expected "," or "}", found "/"',
        'f-noname.yaml:1: missing required key "serverName" (or set default: true for the catch-all)',
        'g-port-in-name.yaml:1: serverName: "x.example:80": a server name has no port (the port goes in listen)',
        'h-dup-url.yaml:4: static[1].url: "/a" is already mounted by static[0] of this vhost',
        'i-not-a-module.yaml:4: apps[0].module: "./page.html" is not a JavaScript or TypeScript module (.js .mjs .cjs .ts .mts .cts .tsx .jsx)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('websocket.maxPendingBytes: a bad size, or one below maxPayload, is a problem naming the key and its line', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hostd-config-'));
    try {
      const app = (ws: string) => `serverName: x\napps:\n  - url: /\n    module: ${abs('good/app/api.mjs')}\n    websocket:\n${ws}`;
      writeFileSync(path.join(dir, 'a.yaml'), app('      maxPayload: 2mb\n      maxPendingBytes: 1mb\n'));
      writeFileSync(path.join(dir, 'b.yaml'), app('      maxPendingBytes: lots\n'));
      writeFileSync(path.join(dir, 'c.yaml'), app('      maxPayload: 2mb\n'));
      const lines = (await problemsOf([dir])).map((l) => l.slice(dir.length + 1));
      expect(lines).to.deep.equal([
        'a.yaml:7: apps[0].websocket.maxPendingBytes: 1 MiB is less than maxPayload (2 MiB): a whole message must fit',
        'b.yaml:6: apps[0].websocket.maxPendingBytes: "lots" is not a size (use 512k, 10mb, 1gb or bytes)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty directory is a problem', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hostd-config-'));
    try {
      expect(await problemsOf([dir])).to.deep.equal([`${dir}: no vhost files (*.yaml, *.yml, *.json) in this directory`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: resolved vhosts', () => {
  it('resolves a valid YAML, YML and JSON site: absolute paths, defaults filled', async () => {
    const r = await loadSites([f('good')]);
    expect(r.problems).to.deep.equal([]);
    expect(r.files).to.deep.equal([f('good/api.json'), f('good/catchall.yml'), f('good/example.yaml')]);
    const [api, catchAll, example] = r.vhosts;
    const good = await realpath(abs('good'));

    expect(example).to.deep.equal({
      name: 'example', // the file's name
      file: f('good/example.yaml'),
      serverNames: ['example.com', '*.example.com'],
      isDefault: false,
      listen: { host: '127.0.0.1', port: 0 },
      mounts: [
        {
          kind: 'static',
          url: '/assets',
          dir: path.join(good, 'public/assets'),
          maxAge: 31536000,
          immutable: true,
          index: 'index.html',
          dotfiles: false,
          followSymlinks: false,
          precompressed: true,
        },
        {
          kind: 'static',
          url: '',
          dir: path.join(good, 'public'),
          immutable: false,
          index: 'index.html',
          dotfiles: false,
          followSymlinks: false,
          precompressed: true,
        },
        {
          kind: 'app',
          url: '/app',
          module: abs('good/app/server.ts'),
          interface: 'auto',
          maxBodySize: 10 * 1024 * 1024,
          stripPrefix: true,
          bufferBody: 64 * 1024,
          bodyTimeoutMs: 30_000,
          maxUrlLength: 16 * 1024,
          watch: false,
          touchFile: abs('good/restart.txt'),
          pool: {
            threads: 4,
            minThreads: 4,
            concurrency: 64,
            maxRequests: 10000,
            maxRequestsJitter: 0,
            requestTimeoutMs: 30_000,
            queueSize: 100,
            queueTimeoutMs: 1500,
            idleTimeoutMs: 0,
            startTimeoutMs: 30_000,
            memoryLimitMb: 512,
            env: { DATABASE_URL: 'postgres://db/app', DEBUG: 'true', PORT: '5432' },
            cwd: REPO, // the app root: the nearest package.json above the module is this repository's
            sticky: { cookie: 'connect.sid' },
            isolation: 'thread',
            processes: 1,
          },
          websocket: {
            maxPayload: 64 * 1024,
            idleTimeoutMs: 30_000,
            maxBackpressure: 256 * 1024,
            maxPendingBytes: 1024 * 1024,
            compression: true,
            maxConnections: 500,
          },
        },
      ],
    });
    expect(api.serverNames).to.deep.equal(['api.example.com']);
    const app = api.mounts[0] as ResolvedApp;
    expect(app).to.deep.equal({
      kind: 'app',
      url: '',
      module: abs('good/app/api.mjs'),
      interface: 'fetch',
      maxBodySize: 100 * 1024 * 1024,
      stripPrefix: true,
      bufferBody: 64 * 1024,
      bodyTimeoutMs: 30_000,
      maxUrlLength: 16 * 1024,
      watch: false,
      pool: {
        threads: 1,
        minThreads: 1,
        concurrency: 64,
        maxRequests: 0,
        maxRequestsJitter: 0,
        requestTimeoutMs: 60_000,
        queueSize: 1024,
        queueTimeoutMs: 30_000,
        idleTimeoutMs: 0,
        startTimeoutMs: 30_000,
        env: {},
        cwd: REPO,
        isolation: 'thread',
        processes: 1,
      },
      // The defaults for public sites (docs/config.md).
      websocket: {
        maxPayload: 1024 * 1024,
        idleTimeoutMs: 120_000,
        maxBackpressure: 1024 * 1024,
        maxPendingBytes: 4 * 1024 * 1024,
        compression: false,
        maxConnections: 10_000,
      },
    });
    expect(catchAll.serverNames).to.deep.equal(['*']);
    expect(catchAll.isDefault).to.equal(true);
    const st = catchAll.mounts[0] as ResolvedStatic;
    expect([st.index, st.dotfiles, st.precompressed]).to.deep.equal([false, true, false]);
  });

  it('mountSource names the file, key path and line of a resolved mount', async () => {
    const r = await loadSites([f('good/example.yaml')]);
    const app = r.vhosts[0].mounts[2];
    const src = mountSource(app)!;
    expect([src.file, src.path, src.line(), src.line('module')]).to.deep.equal([f('good/example.yaml'), 'apps[0]', 12, 13]);
    expect(mountSource(r.vhosts[0].mounts[1])!.path).to.equal('static[1]');
  });

  it('--listen overrides every vhost; a bad --listen is one problem', async () => {
    const r = await loadSites([f('good')], { listen: '[::1]:9099' });
    expect(r.problems).to.deep.equal([]);
    expect(r.vhosts.map((v) => v.listen)).to.deep.equal(Array(3).fill({ host: '::1', port: 9099 }));
    expect(await problemsOf([f('good')], { listen: 'port80' })).to.deep.equal([
      'command line: --listen: expected a port number or "host:port", got "port80"',
    ]);
  });

  it('resolves a plain object (programmatic API) with line-less problems', () => {
    const baseDir = abs('good');
    const ok = resolveVhost(
      { serverName: 'A.Example', listen: '8081', tls: { cert: 'app/api.mjs', key: 'app/api.mjs' }, redirectHttps: true },
      { file: '<api>', baseDir },
    );
    expect(ok.problems).to.deep.equal([]);
    expect(ok.vhost).to.deep.equal({
      name: '<api>', // no name: and no name option: the "file" as given
      file: '<api>',
      serverNames: ['a.example'],
      isDefault: false,
      listen: { host: '0.0.0.0', port: 8081 },
      tls: { cert: abs('good/app/api.mjs'), key: abs('good/app/api.mjs') },
      redirectHttps: 443,
      mounts: [],
    });
    const def = resolveVhost({ default: true }, { file: '<api>', baseDir });
    expect(def.vhost?.serverNames).to.deep.equal(['*']);
    expect(def.vhost?.listen).to.deep.equal({ host: '0.0.0.0', port: 8080 });

    const bad = resolveVhost(
      { serverName: ['ok', 3], static: [{ url: '/', dir: 'nope', maxAge: -1 }], extra: 1 },
      { file: '<api>', baseDir },
    );
    expect(bad.vhost).to.equal(undefined);
    expect(bad.problems.map(formatProblem)).to.deep.equal([
      '<api>: unknown key "extra" (known keys: name, serverName, default, listen, tls, redirectHttps, static, apps, compression)',
      '<api>: serverName[1]: expected a host name, got 3',
      '<api>: static[0].maxAge: must be at least 0, got -1',
      `<api>: static[0].dir: directory not found: ${abs('good/nope')}`,
    ]);
    expect(bad.problems.every((p) => p.line === 0)).to.equal(true);
  });

  it('resolves one mount for host.mount()', () => {
    const baseDir = abs('good');
    const app = resolveMount(
      { url: '/api/', module: './app/api.mjs', pool: { threads: 3, idleTimeout: '2m', minThreads: 1 } },
      { file: '<mount>', baseDir },
    );
    expect(app.problems).to.deep.equal([]);
    expect(app.mount).to.include({ kind: 'app', url: '/api', module: abs('good/app/api.mjs') });
    expect((app.mount as ResolvedApp).pool).to.include({ threads: 3, minThreads: 1, idleTimeoutMs: 120_000 });
    const st = resolveMount({ url: '/', dir: 'public' }, { file: '<mount>', baseDir });
    expect(st.mount).to.include({ kind: 'static', url: '' });
    expect(resolveMount({ url: '/x' }, { file: '<mount>', baseDir }).problems.map(formatProblem)).to.deep.equal([
      '<mount>: expected a static mount (url, dir) or an app mount (url, module), got a mapping',
    ]);
    expect(
      resolveMount({ url: '/x', dir: 'public', indx: 'a.html' }, { file: '<mount>', baseDir }).problems.map(formatProblem),
    ).to.deep.equal(['<mount>: unknown key "indx" (did you mean "index"?)']);
  });

  it('checkConflicts works on vhosts from objects too (line 0)', () => {
    const baseDir = abs('good');
    const a = resolveVhost({ serverName: 'x.test', listen: 0 }, { file: '<a>', baseDir }).vhost!;
    const b = resolveVhost({ serverName: 'X.TEST', listen: 0 }, { file: '<b>', baseDir }).vhost!;
    expect(checkConflicts([a, b]).map(formatProblem)).to.deep.equal(['<b>: serverName: "x.test" on 0.0.0.0:0 is already served by <a>']);
  });

  it('describeSites lists hosts, mounts and pools', async () => {
    const r = await loadSites([f('good')]);
    const text = describeSites(r.vhosts);
    expect(text).to.include('127.0.0.1:0');
    expect(text).to.include('host example.com, *.example.com');
    expect(text).to.include('host * (catch-all)');
    expect(text).to.match(/\/assets +static +\S+public\/assets +\(maxAge 31536000s, immutable/);
    expect(text).to.include('threads 4, concurrency 64, maxRequests 10000, requestTimeout 30s, queue 100 (timeout 1.5s)');
    expect(text).to.include('env DATABASE_URL, DEBUG, PORT');
    expect(text).not.to.include('postgres://'); // env values may be secrets
    expect(text).to.match(/3 hosts, 5 mounts \(3 static, 2 apps\), 2 pools, on 1 address\n$/);
  });

  it('the schema documents every key with a description', () => {
    const walk = (s: Record<string, unknown>, where: string): string[] => {
      const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
      return Object.entries(props).flatMap(([k, v]) => {
        return v.description ? [] : [`${where}${k}`];
      });
    };
    const defs = vhostSchema.$defs as Record<string, Record<string, unknown>>;
    expect([
      ...walk(vhostSchema as Record<string, unknown>, ''),
      ...walk(defs.staticMount, 'static.'),
      ...walk(defs.appMount, 'apps.'),
      ...walk(defs.pool, 'pool.'),
      ...walk(defs.websocket, 'websocket.'),
      ...walk(defs.sticky, 'sticky.'),
    ]).to.deep.equal([]);
  });
});

describe('config: never throws', () => {
  const keys = [
    'serverName',
    'default',
    'listen',
    'tls',
    'redirectHttps',
    'static',
    'apps',
    'url',
    'dir',
    'module',
    'pool',
    'threads',
    'env',
    'requestTimeout',
    'index',
  ];
  // JSON-ish values biased towards real keys, so the checks below the schema get exercised too.
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.jsonValue({ maxDepth: 1 }),
      fc.dictionary(fc.constantFrom(...keys), tie('v'), { maxKeys: 5 }),
      fc.array(tie('v'), { maxLength: 3 }),
    ),
  })).v;

  it('resolveVhost and resolveMount return problems, never throw, for any value', () => {
    const baseDir = abs('good');
    fc.assert(
      fc.property(value, (v) => {
        const r = resolveVhost(v, { file: '<api>', baseDir });
        expect(Boolean(r.vhost) !== r.problems.length > 0).to.equal(true);
        for (const p of r.problems) expect(formatProblem(p)).to.match(/^<api>: \S/);
        resolveMount(v, { file: '<api>', baseDir });
      }),
      { numRuns: 400 },
    );
  });

  it('any file text gives a vhost or problems with a line, never an exception', () => {
    const sample =
      '{"serverName": "x", "listen": 0, "static": [{"url": "/", "dir": "public"}]}\nserverName: [a, b]\nlisten: "1:2"\n- url: /\n  pool: {threads: 1}\n';
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.array(fc.constantFrom(...sample.split('')), { maxLength: 120 }).map((a) => a.join('')),
      fc.tuple(fc.nat(sample.length), fc.nat(sample.length)).map(([a, b]) => sample.slice(Math.min(a, b), Math.max(a, b))),
    );
    fc.assert(
      fc.property(text, fc.boolean(), (t, json) => {
        const parsed = parseSource(t, json);
        if (!parsed.ok) {
          expect(parsed.line).to.be.at.least(1);
          expect(parsed.message).to.match(/^(YAML|JSON) syntax error: \S/);
          return;
        }
        const r = resolveVhostFrom(parsed.value, { file: 'x.yaml', baseDir: abs('good'), lineOf: parsed.lineOf });
        for (const p of r.problems) expect(p.line).to.be.at.least(1);
      }),
      { numRuns: 400 },
    );
  });
});

describe('config: durations and sizes', () => {
  it('parseDuration', () => {
    const table: [unknown, number | undefined][] = [
      ['30s', 30_000],
      ['500ms', 500],
      ['2m', 120_000],
      ['1h', 3_600_000],
      ['1.5s', 1500],
      [250, 250],
      ['250', 250],
      ['0', 0],
      ['30 sec', undefined],
      ['-1s', undefined],
      [-5, undefined],
      ['s', undefined],
      ['', undefined],
      [true, undefined],
      [null, undefined],
    ];
    for (const [v, ms] of table) expect(parseDuration(v), JSON.stringify(v)).to.equal(ms);
  });
  it('parseSize', () => {
    const table: [unknown, number | undefined][] = [
      ['10mb', 10 * 1024 * 1024],
      ['512k', 512 * 1024],
      ['1gb', 1024 ** 3],
      ['100', 100],
      [4096, 4096],
      ['2KiB', 2048],
      ['1.5m', 1.5 * 1024 * 1024],
      ['10 megs', undefined],
      ['mb', undefined],
      [-1, undefined],
      [1.5, undefined],
      [false, undefined],
    ];
    for (const [v, n] of table) expect(parseSize(v), JSON.stringify(v)).to.equal(n);
  });
  it('parseListen', () => {
    expect(parseListen(8080)).to.deep.equal({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseListen('[::1]:443')).to.deep.equal({ host: '::1', port: 443 });
    expect(parseListen('localhost:80')).to.deep.equal({ host: 'localhost', port: 80 });
    for (const bad of ['70000', ':80', 'host:', '::1:80', '[zz]:80', 'a b:80', 1.5, -1, true])
      expect(parseListen(bad), String(bad)).to.equal(undefined);
  });
});

describe('config: hostd check', () => {
  let runCli: RunCli;
  before(async () => {
    ({ runCli } = await import('./helpers/host.js'));
  });

  it('exits 1 with file:line: message lines on stderr and no stack trace', async () => {
    const r = await runCli(['check', '--sites', f('bad'), '--sites', f('conflict/a.yaml'), '--sites', f('conflict/b.yaml')]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).to.include(`${f('bad/unknown-key.yaml')}:3: unknown key "statc" (did you mean "static"?)`);
    expect(lines).to.include(`${f('bad/broken.json')}:5: JSON syntax error: trailing comma before "}"`);
    expect(lines).to.include(
      `${f('conflict/b.yaml')}:3: serverName: "example.com" on 0.0.0.0:8080 is already served by ${f('conflict/a.yaml')}:1`,
    );
    for (const l of lines) expect(l).to.match(/^test\/fixtures\/config\/[\w/.-]+:\d+: \S/);
    expect(r.stderr).not.to.match(/\n\s+at /);
  });

  it('exits 0 and prints hosts, mounts and pools for a good directory', async () => {
    const r = await runCli(['check', '--sites', f('good')]);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('host example.com, *.example.com');
    expect(r.stdout).to.include('host api.example.com');
    expect(r.stdout).to.match(/\/app +app +\S+server\.ts/);
    expect(r.stdout).to.include('pool    threads 4');
    expect(r.stdout).to.include('3 hosts, 5 mounts');
  });

  it('loads an app that only calls listen(), in the environment pool workers get; what the app prints goes to stderr', async () => {
    const r = await runCli(['check', '--sites', f('listen')], { env: { NODE_ENV: undefined } });
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('host solo.example').and.not.include('listening on');
    expect(r.stderr).to.match(/listen-only\.mjs: listening on 3997 \(NODE_ENV=production\)\n$/);
  });

  it('exits 1 for a missing --sites path', async () => {
    const r = await runCli(['check', '--sites', f('no-such-dir')]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`${f('no-such-dir')}: no such file or directory\n`);
  });
});
