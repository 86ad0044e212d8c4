// docs/deploy.md "Kubernetes": examples/k8s/hostd.yaml parsed and checked against hostd itself:
// the grace period covers preStop plus hostd's --graceful-timeout (its default read from
// `hostd --help`), the probes point at the --status listener's endpoints, the Service at the
// serving port; then hostd runs with the manifest's own arguments and the probe paths answer.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../shared/config/duration.js';
import { ROOT, runCli, spawnHostd } from './helpers/host.js';

interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  command: string[];
  args: string[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle: { preStop: { exec: { command: string[] } } };
}

const docs = parseAllDocuments(readFileSync(join(ROOT, 'examples/k8s/hostd.yaml'), 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`examples/k8s/hostd.yaml: ${d.errors.map((e) => e.message).join('; ')}`);
  // biome-ignore lint/suspicious/noExplicitAny: a manifest is untyped YAML; the tests below name the fields they read
  return d.toJS() as { kind: string; spec: Record<string, any> };
});
const deployment = docs.find((d) => d.kind === 'Deployment')!;
const service = docs.find((d) => d.kind === 'Service')!;
const pod = deployment.spec.template.spec as { terminationGracePeriodSeconds: number; containers: Container[] };
const container = pod.containers[0];

/** The value after `--flag` in the container's command line, if any. */
function flag(name: string): string | undefined {
  const argv = [...container.command, ...container.args];
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function portNumber(p: number | string): number {
  if (typeof p === 'number') return p;
  const named = container.ports.find((x) => x.name === p);
  if (!named) throw new Error(`no container port named ${p}`);
  return named.containerPort;
}

const portOf = (address: string) => Number(/:(\d+)$/.exec(address)![1]);

describe('deploy: Kubernetes recipe (examples/k8s/hostd.yaml)', () => {
  let defaultGraceful: number;

  before(async () => {
    // hostd's own default, as its CLI states it.
    const help = await runCli(['--help']);
    const m = /--graceful-timeout\s+DURATION\s.*\(default: ([^)]+)\)/.exec(help.stdout);
    expect(m, help.stdout).to.not.equal(null);
    defaultGraceful = parseDuration(m![1])! / 1000;
    expect(defaultGraceful).to.be.above(0);
  });

  it('runs the built CLI as the Dockerfile installs it, with a Deployment and a Service', () => {
    expect(deployment).to.not.equal(undefined);
    expect(service).to.not.equal(undefined);
    expect(container.command).to.deep.equal(['node', '/opt/hostd/dist/cli.js']);
    expect(readFileSync(join(ROOT, 'examples/Dockerfile'), 'utf8')).to.match(/WORKDIR \/opt\/hostd[\s\S]*npm run build/);
  });

  it("terminationGracePeriodSeconds covers preStop plus hostd's graceful timeout, with a small margin", () => {
    const given = flag('--graceful-timeout');
    const graceful = given === undefined ? defaultGraceful : parseDuration(given)! / 1000;
    const pre = container.lifecycle.preStop.exec.command;
    expect(pre[0]).to.equal('sleep');
    const preStop = Number(pre[1]);
    expect(preStop).to.be.above(0);
    const grace = pod.terminationGracePeriodSeconds;
    expect(grace, `grace ${grace} s vs preStop ${preStop} s + graceful ${graceful} s`).to.be.at.least(preStop + graceful);
    expect(grace - (preStop + graceful), 'margin').to.be.within(1, 15);
  });

  it('readiness and startup probe /healthz on the --status port; liveness does not (503 while draining)', () => {
    const statusPort = portOf(flag('--status')!);
    for (const probe of [container.readinessProbe, container.startupProbe!]) {
      expect(probe.httpGet!.path).to.equal('/healthz');
      expect(portNumber(probe.httpGet!.port)).to.equal(statusPort);
    }
    expect(container.livenessProbe!.httpGet!.path).to.not.equal('/healthz');
    expect(portNumber(container.livenessProbe!.httpGet!.port)).to.equal(statusPort);
  });

  it('the Service targets the container port hostd listens on', () => {
    const listenPort = portOf(flag('--listen')!);
    const target = (service.spec.ports as { targetPort: number | string }[])[0].targetPort;
    expect(portNumber(target)).to.equal(listenPort);
  });

  it("hostd started with the manifest's arguments answers the probe paths on its status listener", async function () {
    this.timeout(30_000);
    // The manifest's argv with the addresses moved to loopback ephemeral ports and a test site.
    const argv = [...container.args];
    const swap = (name: string, value: string) => (argv[argv.indexOf(name) + 1] = value);
    swap('--sites', join(ROOT, 'test/fixtures/deploy/site.yaml'));
    swap('--listen', '127.0.0.1:0');
    swap('--status', '127.0.0.1:0');
    swap('--access-log', 'off');
    const hostd = await spawnHostd(argv);
    try {
      await hostd.waitFor(/status endpoint status=http:\/\/127\.0\.0\.1:\d+\//);
      const statusPort = Number(/status endpoint status=http:\/\/127\.0\.0\.1:(\d+)\//.exec(hostd.stderr())![1]);
      for (const probe of [container.readinessProbe, container.startupProbe!, container.livenessProbe!]) {
        const r = await request(`http://127.0.0.1:${statusPort}${probe.httpGet!.path}`);
        await r.body.text();
        expect(r.statusCode, probe.httpGet!.path).to.equal(200);
      }
    } finally {
      await hostd.stop();
    }
  });
});
