// docs/deploy.md quotes every recipe file in examples/deploy and examples/k8s whole, in a fenced
// block: the tests run those files, so the page cannot drift from what was tested.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/host.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('deploy: docs/deploy.md quotes the tested recipe files verbatim', () => {
  const doc = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
  const blocks = [...doc.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const recipes = [...filesUnder(join(ROOT, 'examples/deploy')), ...filesUnder(join(ROOT, 'examples/k8s'))];

  it('there are recipe files for nginx, HAProxy, Varnish and Kubernetes', () => {
    const names = recipes.map((f) => relative(ROOT, f)).sort();
    expect(names).to.include.members([
      'examples/deploy/haproxy/haproxy.cfg',
      'examples/deploy/nginx/hostd.conf',
      'examples/deploy/varnish/hostd.vcl',
      'examples/k8s/hostd.yaml',
    ]);
  });

  for (const file of recipes) {
    it(relative(ROOT, file), () => {
      const text = readFileSync(file, 'utf8');
      expect(
        blocks.some((b) => b === text),
        `docs/deploy.md has no code block equal to ${relative(ROOT, file)}`,
      ).to.equal(true);
    });
  }
});
