// Routes shared through the store: every router process on one database
// serves the same apps. Store level (two Store instances on one embedded
// server: NOTIFY, resync after a lost connection), in-process (the
// deployer's write-through table and a follower's table), and end to end (a
// `shipoff up` host and a second `shipoff router` process on another port:
// pushes show up there within a second or two, a sleeping app is woken from
// there, and its requests there keep it awake). Real PostgreSQL, real Docker.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type RoutesUpdate, type Store } from '../core/index.js';
import { FollowedRoutes, PublishedRoutes } from '../host/shared-routes.js';
import { RouteTable } from '../router/index.js';
import { getVia } from './helpers/apps.js';
import { startHost, type RunningHost } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';
import { tempDir } from './helpers/temp.js';

const run = `r${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

async function eventually<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const sorted = (m: Map<string, unknown>): Array<[string, unknown]> => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

describe('shared routes: the store', { timeout: 120_000 }, () => {
  const dir = tempDir('routes');
  let a: Store;
  let b: Store;

  before(async () => {
    const settings = { dataDir: dir.path, databaseUrl: undefined };
    a = await openStore(settings);
    b = await openStore(settings);
  });

  after(async () => {
    await b?.close();
    await a?.close();
    dir.remove();
  });

  /** What a listener has seen, applied to a map the way a router applies it. */
  function follow(): { view: Map<string, Array<{ host: string; port: number }>>; updates: RoutesUpdate[] } {
    return { view: new Map(), updates: [] };
  }

  function applyTo(view: Map<string, Array<{ host: string; port: number }>>, updates: RoutesUpdate[]) {
    return (u: RoutesUpdate): void => {
      updates.push(u);
      if (u.kind === 'all') {
        view.clear();
        for (const [app, backends] of u.routes) view.set(app, backends);
      } else if (u.backends.length === 0) view.delete(u.app);
      else view.set(u.app, u.backends);
    };
  }

  it('a route set through one Store reaches a listener on another within a second, and all() agrees', async () => {
    const { view, updates } = follow();
    const listening = await b.routes.listen(applyTo(view, updates));
    try {
      assert.equal(updates[0]?.kind, 'all', 'everything is delivered first');
      const app = `one-${run}`;
      await a.apps.create(app);
      const backends = [{ host: '10.1.2.3', port: 5000 }, { host: '10.1.2.4', port: 5001 }];
      const started = performance.now();
      await a.routes.set(app, backends);
      await eventually('the notification', () => (view.has(app) ? true : undefined), 1_000);
      const ms = performance.now() - started;
      assert.ok(ms < 1_000, `arrived after ${Math.round(ms)} ms`);
      assert.deepEqual(view.get(app), backends);
      assert.deepEqual(sorted(await b.routes.all()), sorted(await a.routes.all()));
      assert.deepEqual(sorted(view), sorted(await a.routes.all()));

      // Emptied: the row goes, the listener hears so.
      await a.routes.set(app, []);
      await eventually('the removal', () => (view.has(app) ? undefined : true), 1_000);
      assert.equal((await a.routes.all()).has(app), false);
      assert.deepEqual(await b.routes.get(app), []);
    } finally {
      await listening.close();
    }
  });

  it('many changes in a burst: the listener ends where the writer ended, in order per app', async () => {
    const { view, updates } = follow();
    const listening = await b.routes.listen(applyTo(view, updates));
    try {
      const apps = [`burst-a-${run}`, `burst-b-${run}`];
      for (const app of apps) await a.apps.create(app);
      const writes: Array<Promise<void>> = [];
      for (let i = 1; i <= 30; i++) for (const app of apps) writes.push(a.routes.set(app, i % 7 === 0 ? [] : [{ host: '10.0.0.1', port: 6000 + i }]));
      await Promise.all(writes);
      // Concurrent writes commit in any order; whatever the table says now is what the listener must end with.
      const truth = await a.routes.all();
      await eventually('the listener to agree', () => (apps.every((app) => JSON.stringify(view.get(app)) === JSON.stringify(truth.get(app))) ? true : undefined), 2_000);
    } finally {
      await listening.close();
    }
  });

  it('an app destroyed or renamed is announced too (its row goes with it)', async () => {
    const { view, updates } = follow();
    const listening = await b.routes.listen(applyTo(view, updates));
    try {
      const gone = `gone-${run}`;
      const old = `old-${run}`;
      await a.apps.create(gone);
      await a.apps.create(old);
      await a.routes.set(gone, [{ host: '10.0.0.9', port: 5000 }]);
      await a.routes.set(old, [{ host: '10.0.0.8', port: 5000 }]);
      await eventually('both routes', () => (view.has(gone) && view.has(old) ? true : undefined), 1_000);
      await a.apps.destroy(gone);
      await eventually('the destroyed app to lose its routes', () => (view.has(gone) ? undefined : true), 1_000);
      const renamed = `new-${run}`;
      await a.apps.rename(old, renamed);
      await eventually('the rename', () => (!view.has(old) && view.has(renamed) ? true : undefined), 1_000);
      assert.deepEqual(view.get(renamed), [{ host: '10.0.0.8', port: 5000 }]);
    } finally {
      await listening.close();
    }
  });

  it('after its connection is killed, the listener connects again and loads everything it missed', async () => {
    const { view, updates } = follow();
    const logs: string[] = [];
    const listening = await b.routes.listen(applyTo(view, updates), { log: (l) => logs.push(l), reconnectMs: 300 });
    try {
      const pid = listening.pid;
      assert.ok(pid, 'the listening connection has a server pid');
      const missed = `missed-${run}`;
      await a.apps.create(missed);
      const killed = await a.db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      assert.equal(killed.rows[0]!.ok, true);
      // Written while nobody listens: the NOTIFY is lost; only the resync can bring it.
      await eventually('the listener to notice', () => (listening.pid === undefined ? true : undefined), 5_000, 5);
      await a.routes.set(missed, [{ host: '10.9.9.9', port: 5000 }]);
      const allsBefore = updates.filter((u) => u.kind === 'all').length;
      await eventually('the resync', () => (view.has(missed) ? true : undefined), 5_000);
      assert.equal(listening.reconnects, 1);
      assert.notEqual(listening.pid, pid);
      assert.ok(updates.filter((u) => u.kind === 'all').length > allsBefore || updates.at(-1)?.kind === 'all', 'it came by a full load');
      assert.ok(logs.some((l) => /lost the database connection/.test(l)), logs.join('\n'));
      assert.deepEqual(sorted(view), sorted(await a.routes.all()));
      // And it keeps listening on the new connection.
      await a.routes.set(missed, [{ host: '10.9.9.9', port: 5001 }]);
      await eventually('a change after the reconnect', () => (view.get(missed)?.[0]?.port === 5001 ? true : undefined), 1_000);
    } finally {
      await listening.close();
    }
  });

  it('wake requests and activity reports reach the listener of the deployer\'s side, which routers can see is there', async () => {
    assert.equal(await b.routes.wakeListenerPresent(), false);
    const wakes: string[] = [];
    const active: string[][] = [];
    const listening = await a.routes.listenRequests({ wake: (app) => wakes.push(app), active: (apps) => active.push(apps) });
    try {
      assert.equal(await b.routes.wakeListenerPresent(), true);
      await b.routes.requestWake('sleepy');
      await eventually('the wake request', () => (wakes.includes('sleepy') ? true : undefined), 1_000);
      const many = Array.from({ length: 400 }, (_, i) => `app-number-${i}-${run}`);
      await b.routes.reportActivity(many);
      await eventually('every activity report', () => (active.flat().length === many.length ? true : undefined), 1_000);
      assert.ok(active.length > 1, 'split below the payload limit');
      assert.deepEqual(active.flat(), many);
    } finally {
      await listening.close();
    }
    await eventually('the listener to be gone', async () => ((await b.routes.wakeListenerPresent()) ? undefined : true), 2_000);
  });

  it('in process: the deployer\'s write-through table and a follower\'s table agree within a second', async () => {
    const app = `inproc-${run}`;
    await a.apps.create(app);
    const log: string[] = [];
    const hostTable = new RouteTable();
    const published = new PublishedRoutes(hostTable, a, (l) => log.push(l));
    const routerTable = new RouteTable();
    const followed = new FollowedRoutes(routerTable, b, (l) => log.push(l), { activityMs: 100 });
    await followed.start();
    try {
      for (let i = 0; i < 20; i++) published.set(app, [{ host: '10.5.5.5', port: 7000 + i }]);
      assert.equal(hostTable.get(app)[0]?.port, 7019, 'the local table changes at once');
      await eventually('the follower', () => (routerTable.get(app)[0]?.port === 7019 ? true : undefined), 1_000);
      published.set(app, []);
      await eventually('the follower to drop it', () => (routerTable.get(app).length === 0 ? true : undefined), 1_000);
      await published.flush();
      assert.deepEqual(log, []);
      // No live release: nothing to wake, answered at once (the router then shows its 404 or 503 page).
      const started = performance.now();
      assert.deepEqual(await followed.wake(app), { ok: false, attempted: false, reason: 'no live release' });
      assert.ok(performance.now() - started < 1_000);
    } finally {
      await followed.close();
      await published.close();
    }
  });
});

// ---------------------------------------------------------------------------

const APP = `shared-${run}`;
const files = (version: number): Record<string, string> => ({
  'package.json': JSON.stringify({ name: 'shared', version: `${version}.0.0`, private: true, scripts: { start: 'node server.js' } }) + '\n',
  'server.js': `require('http').createServer((req, res) => res.end('version ${version}\\n')).listen(process.env.PORT);\n`,
});

const count = (text: string, pattern: RegExp): number => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

describe('shared routes: a second router process', { timeout: 400_000 }, () => {
  let host: PushingHost;
  let router: RunningHost;
  let port: number;
  const via = (urlPath = '/', app = APP) => getVia(port, `${app}.localhost`, urlPath);

  before(async () => {
    host = await startPushingHost('shared');
    const pushed = await host.pushApp(APP, files(1));
    assert.equal(pushed.code, 0, pushed.output);
    port = await freePort();
    router = startHost(['router'], { ...host.env, SHIPOFF_HTTP_PORT: String(port) });
    await router.ready;
  });

  after(async () => {
    await router?.stop();
    await host?.close();
  });

  it('serves an app the host deployed before it started, by host name', async () => {
    const r = await via();
    assert.equal(r.status, 200, `${r.body}\n${router.output()}`);
    assert.equal(r.body, 'version 1\n');
    assert.equal((await via('/', `nope-${run}`)).status, 404);
  });

  it('serves a new version within ~1 s of the push ending', async () => {
    const pushed = await host.pushApp(APP, files(2), 'v2');
    assert.equal(pushed.code, 0, pushed.output);
    const ended = performance.now();
    await eventually('the second router to serve version 2', async () => ((await via()).body === 'version 2\n' ? true : undefined), 2_000, 25);
    const ms = performance.now() - ended;
    console.log(`second router served the new release ${Math.round(ms)} ms after the push ended`);
    assert.ok(ms < 2_000);
    assert.equal((await host.get(APP)).body, 'version 2\n');
  });

  it('its requests keep the app awake, and a request there wakes it once it sleeps', async () => {
    const set = await host.shipoff(['ps:autosleep', APP, '3s']);
    assert.equal(set.code, 0, set.stderr);
    // Traffic only through the second router for 5 s: the freeze comes after 1.5 s of idleness.
    const frozen = count(host.output(), /idle, frozen/);
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      const r = await via();
      assert.equal(r.status, 200, r.body);
      await new Promise((res) => setTimeout(res, 300));
    }
    assert.equal(count(host.output(), /idle, frozen/), frozen, 'not frozen while the second router had requests');

    // Idle everywhere: it sleeps, and the second router learns it has no routes.
    await eventually('the app to be parked', () => (count(host.output(), /idle, asleep/) > 0 ? true : undefined), 30_000, 100);
    const wakes = count(host.output(), /woke from/);
    const answers = await Promise.all(Array.from({ length: 5 }, () => via()));
    for (const a of answers) assert.equal(a.status, 200, `${a.body}\n${router.output()}`);
    for (const a of answers) assert.equal(a.body, 'version 2\n');
    assert.equal(count(host.output(), new RegExp(`${APP}: woke from parked`)), 1, host.output());
    assert.equal(count(host.output(), /woke from/) - wakes, 1, 'exactly one wake');
    const off = await host.shipoff(['ps:autosleep', APP, 'off']);
    assert.equal(off.code, 0, off.stderr);
  });
});
