// The in-flight table both ends of a worker's port keep: against a Map as the model, under the
// pattern it serves (growing ids, most deleted soon, a few long-lived) and ids past 2^31.
import { expect } from 'chai';
import fc from 'fast-check';
import { IdTable } from '../shared/id-table.js';

type Op = { kind: 'add'; gap: number } | { kind: 'delete'; pick: number } | { kind: 'get'; pick: number } | { kind: 'miss'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), gap: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('get' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('miss' as const), pick: fc.nat() }),
);

describe('IdTable', () => {
  it('behaves as a Map for any sequence of adds, deletes and lookups', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2 ** 31 - 50, 2 ** 32 - 20, 2 ** 52), fc.array(op, { maxLength: 400 }), (start, ops) => {
        const table = new IdTable<string>(16);
        const model = new Map<number, string>();
        let next = start;
        for (const o of ops) {
          const live = [...model.keys()];
          if (o.kind === 'add') {
            next += o.gap;
            table.set(next, `v${next}`);
            model.set(next, `v${next}`);
          } else if (o.kind === 'delete' && live.length > 0) {
            const id = live[o.pick % live.length];
            expect(table.delete(id)).to.equal(true);
            model.delete(id);
            expect(table.delete(id)).to.equal(false);
          } else if (o.kind === 'get' && live.length > 0) {
            const id = live[o.pick % live.length];
            expect(table.get(id)).to.equal(model.get(id));
          } else if (o.kind === 'miss') {
            const id = start + (o.pick % (next - start + 2));
            expect(table.get(id)).to.equal(model.get(id));
          }
          expect(table.size).to.equal(model.size);
        }
        expect(table.values().sort()).to.deep.equal([...model.values()].sort());
        table.clear();
        expect(table.size).to.equal(0);
        for (const id of model.keys()) expect(table.get(id)).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('overwrites an id set twice without counting it twice', () => {
    const table = new IdTable<number>();
    table.set(7, 1);
    table.set(7, 2);
    expect(table.size).to.equal(1);
    expect(table.get(7)).to.equal(2);
  });
});
