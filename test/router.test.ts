// The router in front of real upstream HTTP servers, over a real store: real
// sockets on port 0, nothing mocked. Streaming and memory are in
// router-streams.test.ts (with the router in a process of its own).
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { openStore, type Store } from '../core/index.js';
import { createRouter, labelUnder, RouteTable, type AccessRecord, type RouterServer } from '../router/index.js';
import { tempDir } from './helpers/temp.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request through its own connection (no agent, so nothing is pooled on the client side). */
function request(port: number, host: string, opts: { path?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

interface Upstream {
  server: http.Server;
  port: number;
  /** Raw headers of every request it got, in order. */
  seen: Array<{ url: string; rawHeaders: string[]; headers: http.IncomingHttpHeaders }>;
  /** TCP connections it accepted in all. */
  accepted: number;
  open(): Promise<number>;
}

function listen(server: http.Server | net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** An HTTP upstream; HANDLER answers (default: its NAME and a newline). */
async function upstream(name: string, handler?: http.RequestListener): Promise<Upstream> {
  const u: Partial<Upstream> & { seen: Upstream['seen']; accepted: number } = { seen: [], accepted: 0 };
  const server = http.createServer((req, res) => {
    u.seen.push({ url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers });
    if (handler) return handler(req, res);
    res.end(`${name}\n`);
  });
  server.on('connection', () => u.accepted++);
  u.server = server;
  u.port = await listen(server);
  u.open = () => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  return u as Upstream;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('router', { timeout: 60_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let router: RouterServer;
  let port: number;
  const routes = new RouteTable();
  const closers: Array<() => unknown> = [];
  const access: AccessRecord[] = [];
  const local = (b: { port: number }): { host: string; port: number } => ({ host: '127.0.0.1', port: b.port });
  const track = <T extends { server: http.Server | net.Server }>(u: T): T => {
    closers.push(() => {
      (u.server as http.Server).closeAllConnections?.();
      u.server.close();
    });
    return u;
  };

  before(async () => {
    dir = tempDir('router');
    store = await openStore({ dataDir: dir.path, databaseUrl: undefined });
    await store.apps.create('idle');
    router = createRouter({
      store,
      settings: { httpPort: 0, domain: 'localhost' },
      routes,
      hostHandlers: { git: (_req, res) => res.end('git handler\n') },
      onAccess: (r) => {
        access.push(r);
        if (r.app === 'garbage') throw new Error('the access log consumer failed');
      },
    });
    port = (await router.listen('127.0.0.1')).port;
  });

  after(async () => {
    await router.close(100);
    for (const close of closers) close();
    await store.close();
    dir.remove();
  });

  it('finds the app from the first label under the domain', () => {
    assert.equal(labelUnder('web.localhost', 'localhost'), 'web');
    assert.equal(labelUnder('a.b.localhost', 'localhost'), undefined);
    assert.equal(labelUnder('localhost', 'localhost'), undefined);
    assert.equal(labelUnder('web.example.com', 'localhost'), undefined);
  });

  it('proxies by host name; with nothing in flight, requests take turns', async () => {
    const a = track(await upstream('a'));
    const b = track(await upstream('b'));
    routes.set('web', [local(a), local(b)]);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await request(port, `web.localhost:${port}`)).body);
    assert.deepEqual(bodies.slice().sort(), ['a\n', 'a\n', 'b\n', 'b\n']);
    assert.notEqual(bodies[0], bodies[1]);
  });

  it('hands host names it keeps for itself to their handlers', async () => {
    assert.equal((await request(port, 'git.localhost')).body, 'git handler\n');
  });

  it('sets X-Forwarded-* itself, overwriting what the client sent', async () => {
    const u = track(await upstream('fwd'));
    routes.set('fwd', [local(u)]);
    await request(port, `fwd.localhost:${port}`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'X-Forwarded-Proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '443' },
    });
    const { rawHeaders } = u.seen.at(-1)!;
    const all = (name: string): string[] => {
      const out: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) out.push(rawHeaders[i + 1]!);
      return out;
    };
    assert.deepEqual(all('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(all('x-forwarded-proto'), ['http']);
    assert.deepEqual(all('x-forwarded-host'), [`fwd.localhost:${port}`]);
    assert.deepEqual(all('x-forwarded-port'), [String(port)]);
    assert.deepEqual(all('host'), [`fwd.localhost:${port}`]);
  });

  it('passes X-Request-Id up and back: a sane client value is kept, anything else replaced', async () => {
    const u = track(await upstream('rid', (req, res) => res.end(String(req.headers['x-request-id']))));
    routes.set('rid', [local(u)]);
    const generated = await request(port, 'rid.localhost');
    assert.match(generated.body, /^[0-9a-f-]{36}$/);
    assert.equal(generated.headers['x-request-id'], generated.body);
    const other = await request(port, 'rid.localhost');
    assert.notEqual(other.body, generated.body);

    const sane = 'abcDEF0123456789+/=_-xyz';
    const kept = await request(port, 'rid.localhost', { headers: { 'x-request-id': sane } });
    assert.equal(kept.body, sane);
    assert.equal(kept.headers['x-request-id'], sane);
    for (const bad of ['short-id', 'x'.repeat(201), 'has spaces in it and is long enough', 'semicolon;injection-attempt-here']) {
      const r = await request(port, 'rid.localhost', { headers: { 'x-request-id': bad } });
      assert.notEqual(r.body, bad);
      assert.match(r.body, /^[0-9a-f-]{36}$/);
      assert.equal(r.headers['x-request-id'], r.body);
    }
    // The router's own pages carry it too.
    const page = await request(port, 'nope.localhost', { headers: { 'x-request-id': sane } });
    assert.equal(page.headers['x-request-id'], sane);
  });

  it('removes hop-by-hop headers in both directions (RFC 9110 §7.6.1)', async () => {
    const u = track(
      await upstream('hop', (_req, res) => {
        res.writeHead(200, [
          ['Connection', 'keep-alive, X-Resp-Hop'],
          ['X-Resp-Hop', 'secret'],
          ['Keep-Alive', 'timeout=99'],
          ['Proxy-Authenticate', 'Basic realm="up"'],
          ['Proxy-Connection', 'keep-alive'],
          ['Trailer', 'X-Checksum'],
          ['Upgrade', 'h2c'],
          ['X-Kept', 'yes'],
        ].flat());
        res.end('hop\n');
      }),
    );
    routes.set('hop', [local(u)]);
    const r = await request(port, 'hop.localhost', {
      method: 'POST',
      headers: {
        Connection: 'keep-alive, X-Req-Hop',
        'X-Req-Hop': 'secret',
        'Keep-Alive': 'timeout=42',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        Trailer: 'X-Checksum',
        Upgrade: 'h2c',
        'Proxy-Authorization': 'Basic dXNlcjpwYXNz',
        'Transfer-Encoding': 'chunked',
        'X-Custom': 'stays',
      },
      body: 'payload',
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hop\n');
    const got = u.seen.at(-1)!.headers;
    for (const name of ['x-req-hop', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']) {
      assert.equal(got[name], undefined, `${name} reached the upstream`);
    }
    // The router's own hop to the app is keep-alive; the body arrived, re-framed by the router.
    assert.equal(got['x-custom'], 'stays');
    assert.doesNotMatch(String(got.connection ?? ''), /x-req-hop/i);
    for (const name of ['x-resp-hop', 'proxy-authenticate', 'proxy-connection', 'trailer', 'upgrade']) {
      assert.equal(r.headers[name], undefined, `${name} reached the client`);
    }
    assert.doesNotMatch(String(r.headers['keep-alive'] ?? ''), /99/);
    assert.doesNotMatch(String(r.headers.connection ?? ''), /x-resp-hop/i);
    assert.equal(r.headers['x-kept'], 'yes');
  });

  it('sends each request to the backend with the fewest in flight', async () => {
    const held: http.ServerResponse[] = [];
    const hold = (name: string): http.RequestListener => (req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end(`${name}\n`);
    };
    const a = track(await upstream('a', hold('a')));
    const b = track(await upstream('b', hold('b')));
    routes.set('least', [local(a), local(b)]);
    const slow = request(port, 'least.localhost', { path: '/hold' });
    await until('the held request to arrive', () => held.length === 1);
    const busy = a.seen.length === 1 ? 'a\n' : 'b\n';
    // Round robin would send every other request to the busy one; least connections sends none.
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await request(port, 'least.localhost')).body);
    assert.equal(bodies.filter((x) => x === busy).length, 0, `requests went to the busy backend: ${bodies.join('')}`);
    // Two held on distinct backends: then both have one in flight and the next ones alternate.
    const slow2 = request(port, 'least.localhost', { path: '/hold' });
    await until('the second held request', () => held.length === 2);
    assert.equal(a.seen.filter((s) => s.url === '/hold').length, 1);
    assert.equal(b.seen.filter((s) => s.url === '/hold').length, 1);
    for (const res of held) res.end('released\n');
    assert.equal((await slow).body, 'released\n');
    assert.equal((await slow2).body, 'released\n');
    assert.equal(routes.inFlightTo(local(a)) + routes.inFlightTo(local(b)), 0);
  });

  it('keeps upstream connections alive, closes idle ones, and drops a removed backend’s pool', async () => {
    const u = track(await upstream('ka'));
    routes.set('ka', [local(u)]);
    for (let i = 0; i < 5; i++) assert.equal((await request(port, 'ka.localhost')).body, 'ka\n');
    assert.equal(u.accepted, 1, 'five sequential requests should share one upstream connection');
    assert.equal(await u.open(), 1);
    const next = track(await upstream('next'));
    routes.set('ka', [local(next)]);
    await until('the old backend’s connections to close', async () => (await u.open()) === 0, 2_000);
    assert.equal((await request(port, 'ka.localhost')).body, 'next\n');

    // Idle connections close on their own below the app's keep-alive timeout.
    const short = createRouter({ store, settings: { httpPort: 0, domain: 'localhost' }, routes: new RouteTable(), upstreamKeepAliveMs: 300 });
    const shortPort = (await short.listen('127.0.0.1')).port;
    try {
      const v = track(await upstream('idle-close'));
      short.routes.set('x', [local(v)]);
      await request(shortPort, 'x.localhost');
      assert.equal(await v.open(), 1);
      const t0 = Date.now();
      await until('the idle upstream connection to close', async () => (await v.open()) === 0, 3_000);
      assert.ok(Date.now() - t0 < 2_000);
    } finally {
      await short.close(100);
    }
  });

  it('proxies WebSocket upgrades both ways', async () => {
    const u = track(await upstream('ws'));
    const wss = new WebSocketServer({ server: u.server });
    let upgradeHeaders: http.IncomingHttpHeaders | undefined;
    wss.on('connection', (socket, req) => {
      upgradeHeaders = req.headers;
      socket.on('message', (data, isBinary) => socket.send(isBinary ? data : `echo: ${data.toString()}`, { binary: isBinary }));
    });
    closers.push(() => wss.close());
    routes.set('ws', [local(u)]);
    const client = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'ws.localhost', 'x-forwarded-for': '6.6.6.6' } });
    const messages: Array<string | Buffer> = [];
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    client.on('message', (data, isBinary) => messages.push(isBinary ? (data as Buffer) : data.toString()));
    client.send('hello');
    const big = Buffer.alloc(200_000, 7);
    client.send(big);
    await until('two echoes', () => messages.length === 2);
    assert.equal(messages[0], 'echo: hello');
    assert.ok(Buffer.isBuffer(messages[1]) && (messages[1] as Buffer).equals(big));
    assert.equal(upgradeHeaders?.['x-forwarded-for'], '127.0.0.1');
    assert.match(String(upgradeHeaders?.['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(routes.inFlightTo(local(u)), 1);
    client.close();
    await until('the upstream socket to close', async () => (await u.open()) === 0);
    await until('the in-flight count to drop', () => routes.inFlightTo(local(u)) === 0);
  });

  it('relays a refused upgrade and leaks no socket on either side', async () => {
    // No 'upgrade' listener: the app answers the upgrade request as a plain request.
    const u = track(await upstream('no-ws', (_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('no websockets here\n')));
    routes.set('nows', [local(u)]);
    for (let i = 0; i < 20; i++) {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: 'nows.localhost' } });
      const status = await new Promise<number>((resolve, reject) => {
        client.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        client.once('open', () => reject(new Error('upgraded')));
        client.once('error', reject);
      });
      assert.equal(status, 426);
    }
    await until('the upstream sockets to close', async () => (await u.open()) === 0);
    await until('the in-flight count to drop', () => routes.inFlightTo(local(u)) === 0);

    // An upgrade to a backend that refuses connections gets the 502 page.
    const gone = await upstream('gone');
    await new Promise((r) => gone.server.close(r));
    routes.set('wsdead', [local(gone)]);
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: 'wsdead.localhost' } });
    const status = await new Promise<number>((resolve, reject) => {
      client.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      client.once('error', reject);
    });
    assert.equal(status, 502);
    // And an upgrade to an unknown app, the 404 page.
    const nobody = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: 'nosuch.localhost' } });
    assert.equal(await new Promise<number>((resolve, reject) => {
      nobody.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      nobody.once('error', reject);
    }), 404);
  });

  it('1,000 requests whose clients leave mid-response leave no upstream socket open', { timeout: 30_000 }, async () => {
    const u = track(
      await upstream('abort', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk\n'); // …and never ends
      }),
    );
    routes.set('abort', [local(u)]);
    const before = access.length;
    const one = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'abort.localhost' }, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
      });
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, one));
    assert.equal(u.seen.length, 1000);
    await until('every upstream socket to close', async () => (await u.open()) === 0, 5_000);
    await until('the in-flight count to drop', () => routes.inFlightTo(local(u)) === 0);
    const routerConnections = await new Promise<number>((r) => router.server.getConnections((_e, n) => r(n)));
    assert.ok(routerConnections < 5, `${routerConnections} client connections still open`);
    await until('1,000 access records', () => access.filter((r) => r.app === 'abort').length === 1000);
    assert.ok(access.length - before >= 1000);
    // The router still serves.
    assert.equal((await request(port, 'localhost', { path: '/healthz' })).status, 200);
  });

  it('survives upstream errors of every kind without crashing or leaking', async () => {
    // Cut mid-response: the client's connection is cut too.
    const cut = track(await upstream('cut', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    }));
    // Not HTTP at all.
    const garbage = net.createServer((s) => s.on('data', () => s.end('NOT HTTP AT ALL\r\n\r\n')));
    const garbagePort = await listen(garbage);
    // Reset on connect.
    const reset = net.createServer((s) => s.resetAndDestroy());
    const resetPort = await listen(reset);
    // A header Node would refuse to send (a control character in its value).
    const badHeader = net.createServer((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok', 'latin1')));
    const badHeaderPort = await listen(badHeader);
    track({ server: garbage });
    track({ server: reset });
    track({ server: badHeader });
    routes.set('badheader', [{ host: '127.0.0.1', port: badHeaderPort }]);
    routes.set('cut', [local(cut)]);
    routes.set('garbage', [{ host: '127.0.0.1', port: garbagePort }]);
    routes.set('reset', [{ host: '127.0.0.1', port: resetPort }]);

    await assert.rejects(request(port, 'cut.localhost'), /aborted|socket hang up|ECONNRESET/);
    for (let i = 0; i < 3; i++) {
      assert.equal((await request(port, 'garbage.localhost')).status, 502);
      assert.equal((await request(port, 'reset.localhost')).status, 502);
      assert.equal((await request(port, 'badheader.localhost')).status, 502);
    }
    // (The access records of 'garbage' made the onAccess consumer throw: logged, not fatal.)
    assert.ok(access.some((r) => r.app === 'garbage' && r.status === 502 && r.upstreamError === 'protocol'));
    // A broken client request never reaches an app and never takes the router down.
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('THIS IS NOT HTTP\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d)).on('close', () => resolve(got));
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    // A client that resets mid-upload.
    const sink = track(await upstream('sink', (req, res) => req.resume().on('end', () => res.end('ok'))));
    routes.set('sink', [local(sink)]);
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('POST / HTTP/1.1\r\nHost: sink.localhost\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000));
        setTimeout(() => {
          s.resetAndDestroy();
          resolve();
        }, 50);
      });
    });
    await until('the aborted upload’s upstream socket to close', async () => (await sink.open()) === 0);
    await until('nothing in flight', () => routes.inFlightTo(local(sink)) + routes.inFlightTo(local(cut)) === 0);
    assert.equal((await request(port, 'localhost', { path: '/healthz' })).status, 200);
    assert.equal(await cut.open(), 0);
  });

  it('answers with pages: 404 unknown, 503 nothing running, 502 refused, 504 too slow', async () => {
    const unknown = await request(port, 'nope.localhost');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /SHIPOFF_NO_SUCH_APP/);
    const bare = await request(port, '127.0.0.1');
    assert.equal(bare.status, 404);

    const idle = await request(port, 'idle.localhost');
    assert.equal(idle.status, 503);
    assert.match(idle.body, /App idle is not running/);
    assert.equal(idle.headers['retry-after'], '5');

    const gone = await upstream('gone');
    await new Promise((r) => gone.server.close(r));
    routes.set('dead', [local(gone)]);
    const dead = await request(port, 'dead.localhost', { headers: { accept: 'application/json' } });
    assert.equal(dead.status, 502);
    assert.equal(JSON.parse(dead.body).error.code, 'SHIPOFF_BAD_GATEWAY');
    assert.equal(dead.headers['content-type'], 'application/json');

    const quick = createRouter({ store, settings: { httpPort: 0, domain: 'localhost' }, routes: new RouteTable(), upstreamTimeoutMs: 300 });
    const quickPort = (await quick.listen('127.0.0.1')).port;
    try {
      const silent = track(await upstream('silent', () => {})); // never answers
      quick.routes.set('slow', [local(silent)]);
      const t0 = Date.now();
      const slow = await request(quickPort, 'slow.localhost');
      const took = Date.now() - t0;
      assert.equal(slow.status, 504);
      assert.match(slow.body, /SHIPOFF_UPSTREAM_TIMEOUT/);
      assert.match(slow.body, /did not answer within 300 ms/);
      assert.ok(took >= 290 && took < 3_000, `504 after ${took} ms`);
      await until('the timed-out upstream socket to close', async () => (await silent.open()) === 0);
      const m = await request(quickPort, 'localhost', { path: '/metrics' });
      assert.match(m.body, /shipoff_upstream_errors_total\{app="slow",kind="timeout"\} 1\n/);
      assert.match(m.body, /shipoff_http_requests_total\{app="slow",code="5xx"\} 1\n/);
    } finally {
      await quick.close(100);
    }
  });

  it('serves /metrics on the host’s own names only, in Prometheus text format', async () => {
    const u = track(await upstream('metrics-app', (req, res) => res.end(`app sees ${req.url}\n`)));
    routes.set('m', [local(u)]);
    for (let i = 0; i < 3; i++) await request(port, 'm.localhost');
    await request(port, 'm.localhost', { path: '/missing' });
    const viaApp = await request(port, 'm.localhost', { path: '/metrics' });
    assert.equal(viaApp.body, 'app sees /metrics\n');

    const r = await request(port, '127.0.0.1', { path: '/metrics' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /# TYPE shipoff_http_requests_total counter\n/);
    assert.match(r.body, /shipoff_http_requests_total\{app="m",code="2xx"\} 5\n/);
    assert.match(r.body, /shipoff_http_request_duration_seconds_bucket\{app="m",le="0\.005"\} \d+\n/);
    assert.match(r.body, /shipoff_http_request_duration_seconds_bucket\{app="m",le="\+Inf"\} 5\n/);
    assert.match(r.body, /shipoff_http_request_duration_seconds_count\{app="m"\} 5\n/);
    assert.match(r.body, /shipoff_http_requests_in_flight\{app="m"\} 0\n/);
    assert.match(r.body, /shipoff_upstream_errors_total\{app="dead",kind="refused"\} 1\n/);
    assert.match(r.body, /shipoff_http_requests_total\{app="idle",code="5xx"\} \d+\n/);
    assert.match(r.body, /process_resident_memory_bytes \d+\n/);
    // An unknown app name gets no series of its own.
    assert.doesNotMatch(r.body, /app="nope"/);
    // Every sample line parses: name{labels} value.
    for (const line of r.body.trim().split('\n')) {
      if (!line.startsWith('#')) assert.match(line, /^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? (\d+(\.\d+)?(e[+-]\d+)?|\+Inf)$/, line);
    }
    assert.equal((await request(port, 'localhost', { path: '/metrics', method: 'HEAD' })).status, 200);
  });

  it('reports one access record per request, with what the app’s log needs', async () => {
    const u = track(await upstream('log', (_req, res) => res.end('twelve bytes')));
    routes.set('log', [local(u)]);
    const before = access.length;
    const r = await request(port, 'log.localhost', { path: '/a/b?c=d', method: 'POST', body: 'x' });
    await until('the record', () => access.length > before);
    const rec = access.at(-1)!;
    assert.equal(rec.app, 'log');
    assert.equal(rec.method, 'POST');
    assert.equal(rec.path, '/a/b?c=d');
    assert.equal(rec.status, 200);
    assert.equal(rec.bytes, 12);
    assert.equal(rec.backend, `127.0.0.1:${u.port}`);
    assert.equal(rec.requestId, r.headers['x-request-id']);
    assert.ok(rec.durationMs >= 0 && rec.durationMs < 5_000);
    assert.ok(Math.abs(Date.parse(rec.time) - Date.now()) < 5_000);
    await request(port, 'idle.localhost');
    await until('the 503 record', () => access.at(-1)?.app === 'idle');
    assert.equal(access.at(-1)!.status, 503);
    assert.equal(access.at(-1)!.backend, undefined);
  });

  it('a swap sends new requests to the new backend and lets in-flight ones finish', async () => {
    const old = track(await upstream('old', (_req, res) => setTimeout(() => res.end('old\n'), 400)));
    const fresh = track(await upstream('new'));
    routes.set('swap', [local(old)]);
    const slow = request(port, 'swap.localhost');
    await sleep(100);
    const previous = [...routes.get('swap')];
    assert.equal(routes.inFlightTo(previous[0]!), 1);
    routes.set('swap', [local(fresh)]);
    assert.equal((await request(port, 'swap.localhost')).body, 'new\n');
    const drained = routes.drained(previous, 5_000);
    assert.equal((await slow).body, 'old\n');
    assert.equal(await drained, true);
    assert.equal(routes.inFlightTo(previous[0]!), 0);
  });
});
