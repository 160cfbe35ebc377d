// Static releases are served by the router itself from the release's files:
// pushed end to end to a running host, no web container, and every answer
// read through the router (content types, caching, compression, ranges,
// SPA fallback, 404s, traversal attempts, an atomic swap on re-push).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { spaApp } from './helpers/node-samples.js';
import { startHost } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';
import { STATIC_SITE, STATIC_SPA } from './helpers/static-samples.js';

const run = `s${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWD = /root:.*:0:0:/;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, app: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers: { host: `${app}.localhost`, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Sends REQUEST_LINE as is (no URL normalisation by a client) and returns the whole raw answer. */
function rawRequest(port: number, app: string, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: ${app}.localhost\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
  });
}

function containersOf(app: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function assertLive(r: { code: number | null; output: string }, app: string): void {
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, new RegExp(`remote: =====> ${app} v\\d+ is live`));
}

async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('static releases are served by the router from their files', { timeout: 900_000 }, () => {
  let host: PushingHost;
  const site = `site-${run}`;

  before(async () => {
    host = await startPushingHost('staticrel');
  });

  after(async () => {
    await host?.close();
  });

  it('a static site: no web container, content types, 304s, caching, gzip and br, ranges, 404s', async () => {
    const r = await host.pushApp(site, { ...STATIC_SITE, 'passwd-link': { symlink: '/etc/passwd' }, 'etc-link': { symlink: '/etc' } });
    assertLive(r, site);
    assert.match(r.output, /no web container/);
    assert.deepEqual(containersOf(site), [], 'no container runs for the static site');
    const v1 = path.join(host.dataDir, 'static', site, 'v1');
    assert.ok(fs.existsSync(path.join(v1, 'index.html')), 'the release is extracted under the data dir');
    assert.ok(fs.lstatSync(path.join(v1, 'passwd-link')).isSymbolicLink(), 'the committed symlink is in the release (and must not be followed)');

    const port = host.httpPort;
    const index = await request(port, site, '/');
    assert.equal(index.status, 200);
    assert.match(index.body.toString(), /Hello from a static site/);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.ok(index.headers['last-modified']);
    assert.ok(index.headers['x-request-id'], 'a request id, as for proxied requests');
    const etag = index.headers.etag!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await request(port, site, '/', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal((await request(port, site, '/', { 'if-modified-since': index.headers['last-modified']! })).status, 304);

    const types: Record<string, string> = {
      '/css/style.css': 'text/css; charset=utf-8',
      '/js/plain.js': 'text/javascript; charset=utf-8',
      '/data.json': 'application/json; charset=utf-8',
      '/logo.svg': 'image/svg+xml',
      '/robots.txt': 'text/plain; charset=utf-8',
    };
    for (const [p, type] of Object.entries(types)) {
      const a = await request(port, site, p);
      assert.equal(a.status, 200, p);
      assert.equal(a.headers['content-type'], type, p);
    }
    assert.equal((await request(port, site, '/js/app.3f2a1b9c.js')).headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal((await request(port, site, '/js/plain.js')).headers['cache-control'], 'no-cache');
    assert.match((await request(port, site, '/docs/')).body.toString(), /Docs index/);

    const css = STATIC_SITE['css/style.css']!;
    const gz = await request(port, site, '/css/style.css', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), css);
    const br = await request(port, site, '/css/style.css', { 'accept-encoding': 'br, gzip' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), css);
    assert.ok(br.body.length < css.length);

    const range = await request(port, site, '/css/style.css', { range: 'bytes=10-29' });
    assert.equal(range.status, 206);
    assert.equal(range.headers['content-range'], `bytes 10-29/${Buffer.byteLength(css)}`);
    assert.equal(range.body.toString(), css.slice(10, 30));
    assert.equal((await request(port, site, '/css/style.css', { range: 'bytes=999999-' })).status, 416);

    const missing = await request(port, site, '/no/such/page');
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /404 Not Found/);
    assert.equal((await request(port, site, '/.env')).status, 404, 'dotfiles are not served');
    assert.equal((await request(port, site, '/.shipoff/static-server.js')).status, 404);
    assert.equal((await request(port, site, '/', {}, 'POST')).status, 405);
    const head = await request(port, site, '/css/style.css', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it('no path leaves the release: "..", encoded dots and slashes, symlinks', async () => {
    const port = host.httpPort;
    for (const target of ['/../../etc/passwd', '/../../../../../../etc/passwd', '/css/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', '/css%2f..%2f..%2f..%2fetc%2fpasswd', '/..%5c..%5cetc%5cpasswd', '/passwd-link', '/etc-link/passwd', '/etc-link/']) {
      const raw = await rawRequest(port, site, target);
      assert.match(raw, /^HTTP\/1\.1 (400|404) /, `${target}: ${raw.slice(0, 80)}`);
      assert.doesNotMatch(raw, PASSWD, target);
    }
  });

  it('a static SPA and a Node-built SPA: fallback to index.html, headers from static.json, no web container', async () => {
    const spa = `spa-${run}`;
    assertLive(await host.pushApp(spa, STATIC_SPA), spa);
    assert.deepEqual(containersOf(spa), []);
    const deep = await request(host.httpPort, spa, '/settings/profile');
    assert.equal(deep.status, 200);
    assert.match(deep.body.toString(), /single page app shell/);
    const asset = await request(host.httpPort, spa, '/assets/index-BMeW2T3d.js');
    assert.equal(asset.headers['x-served-by'], 'shipoff-static');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.doesNotMatch((await request(host.httpPort, spa, '/src/main.js')).body.toString(), /the source/, 'outside the root: the fallback');

    const vite = `vite-${run}`;
    assertLive(await host.pushApp(vite, spaApp()), vite);
    assert.deepEqual(containersOf(vite), [], 'no web container for the built SPA');
    const route = await request(host.httpPort, vite, '/some/client/route');
    assert.equal(route.status, 200);
    assert.match(route.body.toString(), /<div id="app">/);
    const script = /src="(\/assets\/index-[0-9a-f]{8}\.js)"/.exec(route.body.toString());
    assert.ok(script, route.body.toString());
    const js = await request(host.httpPort, vite, script[1]!);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(js.body.toString(), /Hello from the sample SPA/);
  });

  it('a re-push swaps to the new files at once (no failed request), and the old files go after the grace', async () => {
    const port = host.httpPort;
    let stop = false;
    const seen = new Set<string>();
    const failures: string[] = [];
    let requests = 0;
    const loop = (async () => {
      while (!stop) {
        requests++;
        try {
          const a = await request(port, site, '/');
          const body = a.body.toString();
          if (a.status !== 200) failures.push(`status ${a.status}`);
          else if (/Hello from a static site/.test(body)) seen.add('v1');
          else if (/Second version/.test(body)) seen.add('v2');
          else failures.push(`unexpected body ${body.slice(0, 60)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const r = await host.pushApp(site, { ...STATIC_SITE, 'index.html': '<!doctype html>\n<h1>Second version</h1>\n' }, 'second');
    assertLive(r, site);
    await new Promise((res) => setTimeout(res, 300));
    stop = true;
    await loop;
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
    assert.match((await request(port, site, '/')).body.toString(), /Second version/);
    assert.deepEqual(containersOf(site), []);
    const appDir = path.join(host.dataDir, 'static', site);
    await eventually('v1 removed', () => !fs.existsSync(path.join(appDir, 'v1')));
    assert.deepEqual(fs.readdirSync(appDir), ['v2']);
  });

  it('a second router on the same data dir (shipoff router) serves the static app from the published route', async () => {
    const port = await freePort();
    const router = startHost(['router'], { ...host.env, SHIPOFF_HTTP_PORT: String(port) });
    try {
      await router.ready;
      const a = await request(port, site, '/');
      assert.equal(a.status, 200);
      assert.match(a.body.toString(), /Second version/);
      assert.equal((await request(port, site, '/css/style.css', { 'accept-encoding': 'br' })).headers['content-encoding'], 'br');
      assert.doesNotMatch(await rawRequest(port, site, '/../../etc/passwd'), PASSWD);
    } finally {
      await router.stop();
    }
    assert.deepEqual(containersOf(site), [], 'nothing was woken');
  });

  it('after a host restart the static app is served again (extracted anew when its files went), and what a cut-short extraction left is removed', async () => {
    const staticDir = path.join(host.dataDir, 'static', site);
    const live = fs.readdirSync(staticDir).find((n) => /^v\d+$/.test(n))!;
    fs.rmSync(path.join(staticDir, live), { recursive: true, force: true });
    // What a host killed mid-extraction leaves: a half-written directory and the reading container.
    const half = path.join(staticDir, `${live}.tmp-1-abc`);
    fs.mkdirSync(half);
    fs.writeFileSync(path.join(half, 'partial.html'), 'half');
    const leftover = execFileSync('docker', ['create', '--label', 'shipoff.static-extract=' + site, '--label', `shipoff.host=${hostLabel(host.dataDir)}`, imageOf(site), 'true'], { encoding: 'utf8' }).trim();
    await host.restart();
    const page = await request(host.httpPort, site, '/');
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /Second version/);
    assert.ok(fs.existsSync(path.join(staticDir, live, 'index.html')), 'extracted again');
    assert.ok(!fs.existsSync(half), 'the half-written directory is gone');
    assert.equal(execFileSync('docker', ['ps', '-aq', '--filter', `id=${leftover}`], { encoding: 'utf8' }).trim(), '', 'the reading container is gone');
    assert.deepEqual(containersOf(site), [], 'still no web container');
  });
});

/** The label a host puts on what it makes: a hash of its data dir (host/roles.ts). */
function hostLabel(dataDir: string): string {
  return createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
}

function imageOf(app: string): string {
  return execFileSync('docker', ['images', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n')[0]!;
}
