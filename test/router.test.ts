// The router in front of real upstream HTTP servers, over a real store.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../core/index.js';
import { createRouter, labelUnder, RouteTable, type RouterServer } from '../router/index.js';
import { getVia } from './helpers/apps.js';
import { tempDir } from './helpers/temp.js';

function upstream(name: string, delayMs = 0): Promise<{ server: http.Server; port: number }> {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      setTimeout(() => res.end(`${name} ${req.headers['x-forwarded-for'] ? 'fwd' : 'direct'}\n`), delayMs);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

describe('router', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let router: RouterServer;
  let port: number;
  const routes = new RouteTable();
  const servers: http.Server[] = [];

  before(async () => {
    dir = tempDir('router');
    store = await openStore({ dataDir: dir.path, databaseUrl: undefined });
    await store.apps.create('idle');
    router = createRouter({
      store,
      settings: { httpPort: 0, domain: 'localhost' },
      routes,
      hostHandlers: { git: (_req, res) => res.end('git handler\n') },
    });
    port = (await router.listen('127.0.0.1')).port;
  });

  after(async () => {
    await router.close(100);
    for (const s of servers) s.close();
    await store.close();
    dir.remove();
  });

  it('finds the app from the first label under the domain', () => {
    assert.equal(labelUnder('web.localhost', 'localhost'), 'web');
    assert.equal(labelUnder('a.b.localhost', 'localhost'), undefined);
    assert.equal(labelUnder('localhost', 'localhost'), undefined);
    assert.equal(labelUnder('web.example.com', 'localhost'), undefined);
  });

  it('proxies by host name, round robin, with X-Forwarded-For', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    servers.push(a.server, b.server);
    routes.set('web', [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }]);
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await getVia(port, `web.localhost:${port}`)).body);
    assert.deepEqual([...bodies].sort(), ['a fwd\n', 'b fwd\n']);
  });

  it('hands host names it keeps for itself to their handlers', async () => {
    assert.equal((await getVia(port, 'git.localhost')).body, 'git handler\n');
  });

  it('says 404 for an unknown app and 503 for an app with nothing running', async () => {
    const unknown = await getVia(port, 'nope.localhost');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /SHIPOFF_NO_SUCH_APP/);
    const idle = await getVia(port, 'idle.localhost');
    assert.equal(idle.status, 503);
    assert.match(idle.body, /App idle is not running/);
  });

  it('says 502 when the backend refuses', async () => {
    const gone = await upstream('gone');
    const goneport = gone.port;
    await new Promise((r) => gone.server.close(r));
    routes.set('dead', [{ host: '127.0.0.1', port: goneport }]);
    const r = await getVia(port, 'dead.localhost');
    assert.equal(r.status, 502);
    assert.match(r.body, /SHIPOFF_BAD_GATEWAY/);
  });

  it('a swap sends new requests to the new backend and lets in-flight ones finish', async () => {
    const old = await upstream('old', 400);
    const fresh = await upstream('new');
    servers.push(old.server, fresh.server);
    routes.set('swap', [{ host: '127.0.0.1', port: old.port }]);
    const slow = getVia(port, 'swap.localhost');
    await new Promise((r) => setTimeout(r, 100));
    const previous = [...routes.get('swap')];
    assert.equal(routes.inFlightTo(previous[0]!), 1);
    routes.set('swap', [{ host: '127.0.0.1', port: fresh.port }]);
    assert.equal((await getVia(port, 'swap.localhost')).body, 'new fwd\n');
    const drained = routes.drained(previous, 5_000);
    assert.equal((await slow).body, 'old fwd\n');
    assert.equal(await drained, true);
    assert.equal(routes.inFlightTo(previous[0]!), 0);
  });
});
