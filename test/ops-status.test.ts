// --status HOST:PORT: /metrics (strictly parsed Prometheus text), /status (JSON) and /healthz on
// an internal listener of a real hostd, and none of it on the public port.
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import {
  type AppEcho,
  getJson,
  getText,
  type HostdProcess,
  makeSite,
  parsePrometheus,
  poolIn,
  readStatus,
  type Sample,
  type Site,
  type StatusJson,
  spawnHostd,
  statusBase,
  waitFor,
} from './helpers/index.js';

describe('ops: status listener', function () {
  this.timeout(30_000);
  let site: Site;
  let hostd: HostdProcess;
  let origin: string;
  let status: string;
  let notFoundBytes = 0;

  before(async () => {
    site = await makeSite();
    hostd = await spawnHostd(['--sites', site.sites, '--access-log', 'off', '--status', '127.0.0.1:0']);
    origin = `http://127.0.0.1:${hostd.port}`;
    status = await statusBase(hostd);
    for (let i = 0; i < 5; i++) await getText(`${origin}/`);
    for (let i = 0; i < 3; i++) await getJson<AppEcho>(`${origin}/app/x`);
    notFoundBytes = Buffer.byteLength((await getText(`${origin}/nope.txt`)).text);
  });
  after(async () => {
    if (hostd) expect(await hostd.stop()).to.equal(0);
    if (site) await rm(site.root, { recursive: true, force: true });
  });

  async function metrics() {
    const res = await getText(`${status}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(res.text);
  }
  const one = (samples: Sample[], name: string, labels: Record<string, string>) => {
    const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(found, `${name} ${JSON.stringify(labels)}`).to.have.length(1);
    return found[0].value;
  };

  it('/metrics is valid Prometheus text with requests, latency, bytes, pools and cache', async () => {
    const { samples, types } = await metrics();
    // Every sample belongs to a declared family (histograms through _bucket/_sum/_count).
    for (const s of samples) {
      const family = s.name.replace(/_(bucket|sum|count)$/, '');
      expect(types[s.name] ?? types[family], `TYPE for ${s.name}`).to.be.a('string');
    }
    const root = { vhost: '*', mount: '/' };
    const app = { vhost: '*', mount: '/app' };
    expect(one(samples, 'hostd_requests_total', { ...root, status: '2xx' })).to.equal(5);
    expect(one(samples, 'hostd_requests_total', { ...root, status: '4xx' })).to.equal(1);
    expect(one(samples, 'hostd_requests_total', { ...app, status: '2xx' })).to.equal(3);
    expect(one(samples, 'hostd_requests_total', { ...app, status: '5xx' })).to.equal(0);

    expect(types.hostd_request_duration_seconds).to.equal('histogram');
    const buckets = samples.filter((s) => s.name === 'hostd_request_duration_seconds_bucket' && s.labels.mount === '/app');
    expect(buckets.length).to.be.greaterThan(5);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).to.be.at.least(buckets[i - 1].value);
    expect(buckets.at(-1)!.labels.le).to.equal('+Inf');
    expect(buckets.at(-1)!.value).to.equal(one(samples, 'hostd_request_duration_seconds_count', app));
    expect(one(samples, 'hostd_request_duration_seconds_sum', app)).to.be.greaterThan(0);

    expect(one(samples, 'hostd_response_bytes_total', root)).to.equal(5 * 13 + notFoundBytes);
    expect(one(samples, 'hostd_pool_queue_depth', app)).to.equal(0);
    const busy = one(samples, 'hostd_pool_workers', { ...app, state: 'busy' });
    const idle = one(samples, 'hostd_pool_workers', { ...app, state: 'idle' });
    expect(busy + idle).to.equal(2);
    expect(one(samples, 'hostd_static_cache_hits_total', {})).to.be.at.least(4);
    expect(one(samples, 'hostd_config_generation', {})).to.equal(1);
    expect(one(samples, 'hostd_requests_in_flight', {})).to.equal(0);
  });

  it('counts worker restarts by reason and the config generation across a reload', async () => {
    hostd.proc.kill('SIGHUP');
    await hostd.waitFor(/reloaded generation=2/);
    const { samples } = await metrics();
    expect(one(samples, 'hostd_pool_worker_restarts_total', { mount: '/app', reason: 'roll' })).to.equal(2);
    expect(one(samples, 'hostd_pool_worker_restarts_total', { mount: '/app', reason: 'oom' })).to.equal(0);
    expect(one(samples, 'hostd_config_generation', {})).to.equal(2);
    // Counters survive the reload.
    expect(one(samples, 'hostd_requests_total', { mount: '/app', status: '2xx' })).to.equal(3);
  });

  it('/status is JSON with hosts, mounts, pools, workers, queues, uptime and generation', async () => {
    await waitFor(async () => poolIn(await readStatus(status), '/app').threads === 2, { what: 'old workers gone' });
    const { status: code, json } = await getJson<StatusJson>(`${status}/status`);
    expect(code).to.equal(200);
    expect(json).to.include({ state: 'serving', generation: 2, inFlight: 0 });
    expect(json.uptimeSeconds).to.be.a('number');
    expect(json.listeners).to.deep.equal([{ host: '127.0.0.1', port: hostd.port, secure: false }]);
    expect(json.hosts).to.have.length(1);
    const [host] = json.hosts;
    expect(host.serverNames).to.deep.equal(['*']);
    expect(host.mounts.map((m) => `${m.kind} ${m.url}`)).to.deep.equal(['static /', 'app /app']);
    const pool = poolIn(json, '/app');
    expect(pool).to.include({ threads: 2, queued: 0 });
    expect(pool.busy + pool.idle).to.equal(2);
    expect(pool.config.threads).to.equal(2);
    expect(pool.restarts.roll).to.equal(2);
    expect(json.staticCache.hits).to.be.at.least(4);
  });

  it('/healthz answers 200 while serving; other paths 404', async () => {
    const h = await getText(`${status}/healthz`);
    expect(h.status).to.equal(200);
    expect(h.text).to.equal('ok\n');
    expect((await getText(`${status}/other`)).status).to.equal(404);
  });

  it('serves none of it on the public port', async () => {
    for (const path of ['/metrics', '/status', '/healthz']) {
      const res = await getText(`${origin}${path}`);
      expect(res.status, path).to.equal(404);
      expect(res.text).to.not.match(/hostd_|"generation"|^ok/);
    }
  });
});
