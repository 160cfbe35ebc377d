// The deployer's scheduling rules, without Docker: the e2e push test proves the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuildSlots, desiredCounts } from '../deployer/index.js';

const never = new AbortController().signal;

describe('build slots', () => {
  it('one deploy at a time per app: the second waits and is told so', async () => {
    const slots = new BuildSlots(2);
    const told: string[] = [];
    const leave1 = await slots.appTurn('a', never, { waitingForApp: () => told.push('first waits') });
    let secondIn = false;
    const second = slots.appTurn('a', never, { waitingForApp: () => told.push('second waits') }).then((leave) => {
      secondIn = true;
      return leave;
    });
    const other = await slots.appTurn('b', never, { waitingForApp: () => told.push('b waits') });
    await new Promise((r) => setImmediate(r));
    assert.equal(secondIn, false);
    assert.deepEqual(told, ['second waits']);
    leave1();
    (await second)();
    assert.equal(secondIn, true);
    other();
  });

  it('at most N builds at once across apps, first come first served', async () => {
    const slots = new BuildSlots(2);
    const order: number[] = [];
    let waitingNotice = 0;
    const a = await slots.buildSlot(never, { waitingForSlot: () => waitingNotice++ });
    const b = await slots.buildSlot(never, { waitingForSlot: () => waitingNotice++ });
    const c = slots.buildSlot(never, { waitingForSlot: (n) => { waitingNotice++; assert.equal(n, 2); } }).then((f) => (order.push(3), f));
    const d = slots.buildSlot(never, { waitingForSlot: () => waitingNotice++ }).then((f) => (order.push(4), f));
    assert.equal(waitingNotice, 2);
    a();
    (await c)();
    b();
    (await d)();
    assert.deepEqual(order, [3, 4]);
  });

  it('a push that goes away while waiting leaves the line', async () => {
    const slots = new BuildSlots(1);
    const hold = await slots.buildSlot(never, { waitingForSlot: () => {} });
    const gone = new AbortController();
    const waiting = slots.buildSlot(gone.signal, { waitingForSlot: () => {} });
    gone.abort(new Error('push went away'));
    await assert.rejects(waiting, /push went away/);
    hold();
    const next = await slots.buildSlot(never, { waitingForSlot: () => assert.fail('the slot should be free') });
    next();
  });
});

describe('process formation', () => {
  it('runs one of each process type unless scaled, web first', () => {
    assert.deepEqual(desiredCounts({ worker: 'node w.js', web: 'npm start' }, { web: 1 }), [['web', 1], ['worker', 1]]);
    assert.deepEqual(desiredCounts({ web: 'a', clock: 'b' }, { web: 3, clock: 0 }), [['web', 3], ['clock', 0]]);
  });
});
