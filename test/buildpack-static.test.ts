// The static buildpack and its server (buildpacks/static/server.js) against
// the real Docker engine and the real stack image: each sample site is built
// with buildRelease(), its release image runs as the runtime runs it (the
// image's own command, PORT set), and real HTTP requests go to it, including
// raw ones no well-behaved client would send. No mocks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { assertFailed, assertOk, buildHead, commitTree, oneOff, rawRequest, removeAppsFromDocker, request, startRelease, type Outcome, type Response } from './helpers/builds.js';
import { freePort } from './helpers/ports.js';
import { STATIC_BAD_CONFIG, STATIC_CLEAN_URLS, STATIC_SITE, STATIC_SPA } from './helpers/static-samples.js';
import { tempDir } from './helpers/temp.js';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const APP = `bpstatic-${suffix}`;
// A real 1x1 PNG, to check a binary file goes out byte for byte.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** Builds HEAD of `repo` as app APP. */
function build(repo: string, version: number, cacheDir: string): Promise<Outcome> {
  return buildHead(repo, { app: APP, version, cacheDir });
}

const ETC_PASSWD = /root:x:0:0|daemon:x:1:1/;

describe('static server on this Node, as an ES module', () => {
  it('runs where package.json says "type": "module" (a Vite app built by the Node.js buildpack)', async () => {
    const dir = tempDir('bpstatic-esm');
    const files: Record<string, string> = {
      'package.json': '{"name": "vite-app", "private": true, "type": "module"}\n',
      ...STATIC_SPA,
    };
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir.path, name)), { recursive: true });
      fs.writeFileSync(path.join(dir.path, name), text);
    }
    fs.mkdirSync(path.join(dir.path, '.shipoff'));
    fs.copyFileSync(new URL('../../buildpacks/static/server.js', import.meta.url), path.join(dir.path, '.shipoff', 'static-server.js'));
    const port = await freePort();
    const server = spawn(process.execPath, ['.shipoff/static-server.js'], { cwd: dir.path, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      let res: Response | undefined;
      for (let i = 0; i < 50 && !res; i++) {
        res = await request(port, '/some/route').catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(res, `the server never answered:\n${log}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), STATIC_SPA['dist/index.html']);
      assert.match(log, /serving dist\/ on port/);
    } finally {
      server.kill();
      dir.remove();
    }
  });
});

describe('static buildpack and server (real Docker, stack image)', { timeout: 240_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let cacheDir: string;
  const containers: string[] = [];

  before(() => {
    dir = tempDir('bpstatic');
    cacheDir = path.join(dir.path, 'cache');
  });

  after(async () => {
    await removeAppsFromDocker([APP]);
    dir?.remove();
  });

  describe('a plain site', () => {
    let port: number;
    let build1: Outcome;

    before(async () => {
      const repo = path.join(dir.path, 'site');
      commitTree(repo, {
        ...STATIC_SITE,
        'img/pixel.png': PNG,
        'passwd': { symlink: '/etc/passwd' },
        'etc-link': { symlink: '/etc' },
        'styles': { symlink: 'css' },
      });
      build1 = await build(repo, 1, cacheDir);
      const result = assertOk(build1);
      console.log(`static site build: ${result.durationMs} ms`);
      const started = await startRelease(result.image, APP);
      containers.push(started.name);
      port = started.port;
    });

    it('is detected, copies the server into the app and runs it as the web process', async () => {
      const result = build1.result!;
      assert.match(build1.output, /^-----> Static site app detected$/m);
      assert.equal(result.buildpack, 'Static site');
      assert.deepEqual(result.processTypes, { web: 'node .shipoff/static-server.js' });
      assert.equal(await oneOff(result.image, ['cat', '/app/.shipoff/static-server.js']), fs.readFileSync(new URL('../../buildpacks/static/server.js', import.meta.url), 'utf8'));
    });

    it('serves files with the right Content-Type, byte for byte', async () => {
      const expected: Array<[string, RegExp, string | Buffer]> = [
        ['/', /^text\/html; charset=utf-8$/, STATIC_SITE['index.html']!],
        ['/index.html', /^text\/html/, STATIC_SITE['index.html']!],
        ['/about.html', /^text\/html/, STATIC_SITE['about.html']!],
        ['/css/style.css', /^text\/css; charset=utf-8$/, STATIC_SITE['css/style.css']!],
        ['/js/plain.js', /^text\/javascript; charset=utf-8$/, STATIC_SITE['js/plain.js']!],
        ['/data.json', /^application\/json/, STATIC_SITE['data.json']!],
        ['/logo.svg', /^image\/svg\+xml$/, STATIC_SITE['logo.svg']!],
        ['/robots.txt', /^text\/plain; charset=utf-8$/, STATIC_SITE['robots.txt']!],
        ['/img/pixel.png', /^image\/png$/, PNG],
        ['/docs/', /^text\/html/, STATIC_SITE['docs/index.html']!],
        ['/styles/style.css', /^text\/css/, STATIC_SITE['css/style.css']!],
      ];
      for (const [requestPath, type, body] of expected) {
        const res = await request(port, requestPath);
        assert.equal(res.status, 200, requestPath);
        assert.match(String(res.headers['content-type']), type, requestPath);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.deepEqual(res.body, Buffer.from(body), requestPath);
      }
      const dirNoSlash = await request(port, '/docs?x=1');
      assert.equal(dirNoSlash.status, 301);
      assert.equal(dirNoSlash.headers.location, '/docs/?x=1');
    });

    it('answers HEAD with the headers only, and other methods with 405', async () => {
      const head = await request(port, '/css/style.css', {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers['content-length']), Buffer.byteLength(STATIC_SITE['css/style.css']!));
      assert.equal(head.body.length, 0);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await request(port, '/index.html', {}, method);
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.allow, 'GET, HEAD');
      }
    });

    it('revalidates with ETag and Last-Modified: 304', async () => {
      const first = await request(port, '/css/style.css');
      const etag = String(first.headers.etag);
      const lastModified = String(first.headers['last-modified']);
      assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
      assert.ok(!Number.isNaN(Date.parse(lastModified)));
      const byEtag = await request(port, '/css/style.css', { 'If-None-Match': etag });
      assert.equal(byEtag.status, 304);
      assert.equal(byEtag.body.length, 0);
      assert.equal(byEtag.headers.etag, etag);
      assert.equal((await request(port, '/css/style.css', { 'If-Modified-Since': lastModified })).status, 304);
      assert.equal((await request(port, '/css/style.css', { 'If-None-Match': '"other"' })).status, 200);
      assert.equal((await request(port, '/css/style.css', { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
      // The compressed representation has its own ETag, and it revalidates too.
      const br = await request(port, '/css/style.css', { 'Accept-Encoding': 'br' });
      assert.notEqual(br.headers.etag, etag);
      assert.equal((await request(port, '/css/style.css', { 'Accept-Encoding': 'br', 'If-None-Match': String(br.headers.etag) })).status, 304);
    });

    it('compresses with brotli or gzip as Accept-Encoding allows', async () => {
      const original = Buffer.from(STATIC_SITE['css/style.css']!);
      const br = await request(port, '/css/style.css', { 'Accept-Encoding': 'gzip, deflate, br' });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.equal(br.headers.vary, 'Accept-Encoding');
      assert.ok(br.body.length < original.length, 'smaller than the file');
      assert.deepEqual(zlib.brotliDecompressSync(br.body), original);

      const gzip = await request(port, '/css/style.css', { 'Accept-Encoding': 'gzip' });
      assert.equal(gzip.headers['content-encoding'], 'gzip');
      assert.deepEqual(zlib.gunzipSync(gzip.body), original);

      const refused = await request(port, '/css/style.css', { 'Accept-Encoding': 'br;q=0, gzip;q=0' });
      assert.equal(refused.headers['content-encoding'], undefined);
      assert.deepEqual(refused.body, original);
      const png = await request(port, '/img/pixel.png', { 'Accept-Encoding': 'br, gzip' });
      assert.equal(png.headers['content-encoding'], undefined, 'images are not recompressed');
    });

    it('serves byte ranges: 206, and 416 when out of range', async () => {
      const text = STATIC_SITE['css/style.css']!;
      const size = Buffer.byteLength(text);
      const part = await request(port, '/css/style.css', { Range: 'bytes=5-14', 'Accept-Encoding': 'br' });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 5-14/${size}`);
      assert.equal(part.headers['content-encoding'], undefined);
      assert.equal(part.body.toString(), text.slice(5, 15));
      const tail = await request(port, '/css/style.css', { Range: 'bytes=-7' });
      assert.equal(tail.status, 206);
      assert.equal(tail.body.toString(), text.slice(-7));
      const open = await request(port, '/css/style.css', { Range: `bytes=${size - 3}-` });
      assert.equal(open.body.toString(), text.slice(-3));
      const beyond = await request(port, '/css/style.css', { Range: `bytes=${size}-` });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers['content-range'], `bytes */${size}`);
      const stale = await request(port, '/css/style.css', { Range: 'bytes=0-3', 'If-Range': '"stale"' });
      assert.equal(stale.status, 200, 'If-Range that does not match: the whole file');
    });

    it('caches hashed asset names for a year and revalidates everything else', async () => {
      assert.equal((await request(port, '/js/app.3f2a1b9c.js')).headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal((await request(port, '/index.html')).headers['cache-control'], 'no-cache');
      assert.equal((await request(port, '/js/plain.js')).headers['cache-control'], 'no-cache');
    });

    it('answers 404 for missing files and never serves dotfiles', async () => {
      const missing = await request(port, '/nope.html');
      assert.equal(missing.status, 404);
      assert.match(missing.body.toString(), /Not Found/);
      for (const requestPath of ['/.env', '/.git/config', '/.shipoff/static-server.js', '/css/../.env']) {
        const res = await request(port, requestPath);
        assert.ok(res.status === 404 || res.status === 400, `${requestPath}: ${res.status}`);
        assert.doesNotMatch(res.body.toString(), /do-not-serve|\[core\]|createServer/, requestPath);
      }
    });

    it('never serves anything outside the root: traversal, encodings, symlinks', async () => {
      const attempts = [
        '/../../../../etc/passwd',
        '/css/../../../etc/passwd',
        '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        '/%2E%2E/%2E%2E/etc/passwd',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/css%2f..%2f..%2f..%2fetc%2fpasswd',
        '/%252e%252e/%252e%252e/etc/passwd',
        '/..\\..\\..\\etc\\passwd',
        '/%5c..%5c..%5cetc%5cpasswd',
        '/passwd',
        '/etc-link/passwd',
        '//etc/passwd',
        '/./etc/passwd',
      ];
      for (const attempt of attempts) {
        const res = await request(port, attempt);
        assert.ok([400, 404].includes(res.status), `${attempt}: ${res.status}`);
        assert.doesNotMatch(res.body.toString(), ETC_PASSWD, attempt);
      }
      for (const line of [
        'GET /../../../../etc/passwd HTTP/1.1',
        'GET /css/../../../../etc/passwd HTTP/1.0',
        'GET /%00/../etc/passwd HTTP/1.1',
        'GET /index.html%00.png HTTP/1.1',
        'GET http://localhost/../../etc/passwd HTTP/1.1',
        'GET ../../etc/passwd HTTP/1.1',
      ]) {
        const answer = await rawRequest(port, line);
        assert.match(answer, /^HTTP\/1\.[01] (400|404)/, `${line}: ${answer.split('\r\n')[0]}`);
        assert.doesNotMatch(answer, ETC_PASSWD, line);
      }
      // A symlink that stays inside the root is followed as usual.
      assert.equal((await request(port, '/styles/style.css')).status, 200);
    });
  });

  describe('a single-page app with static.json', () => {
    let port: number;
    let outcome: Outcome;

    before(async () => {
      const repo = path.join(dir.path, 'spa');
      commitTree(repo, STATIC_SPA);
      outcome = await build(repo, 2, cacheDir);
      const started = await startRelease(assertOk(outcome).image, APP);
      containers.push(started.name);
      port = started.port;
    });

    it('is detected by static.json alone and checked at build time', () => {
      assert.match(outcome.output, /^-----> Static site app detected$/m);
      assert.match(outcome.output, /static\.json is valid; serving dist\//);
    });

    it('serves the root from dist/ and sends unknown paths to index.html', async () => {
      const shell = STATIC_SPA['dist/index.html']!;
      for (const requestPath of ['/', '/dashboard', '/users/42/settings?tab=x']) {
        const res = await request(port, requestPath);
        assert.equal(res.status, 200, requestPath);
        assert.match(String(res.headers['content-type']), /^text\/html/);
        assert.equal(res.body.toString(), shell, requestPath);
      }
      const asset = await request(port, '/assets/index-BMeW2T3d.js');
      assert.equal(asset.body.toString(), STATIC_SPA['dist/assets/index-BMeW2T3d.js']);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(asset.headers['x-served-by'], 'shipoff-static', 'headers from static.json');
      const source = await request(port, '/src/main.js');
      assert.equal(source.body.toString(), shell, 'outside the root: the SPA shell, not the file');
      const config = await request(port, '/static.json');
      assert.doesNotMatch(config.body.toString(), /"routes"/);
      const traversal = await rawRequest(port, 'GET /../static.json HTTP/1.1');
      assert.match(traversal, /^HTTP\/1\.1 400/);
    });
  });

  describe('clean URLs and a custom error page', () => {
    let port: number;

    before(async () => {
      const repo = path.join(dir.path, 'clean');
      commitTree(repo, STATIC_CLEAN_URLS);
      const started = await startRelease(assertOk(await build(repo, 3, cacheDir)).image, APP);
      containers.push(started.name);
      port = started.port;
    });

    it('serves /pricing from pricing.html and redirects /pricing.html there', async () => {
      const page = await request(port, '/pricing');
      assert.equal(page.status, 200);
      assert.equal(page.body.toString(), STATIC_CLEAN_URLS['pricing.html']);
      const redirect = await request(port, '/pricing.html');
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.location, '/pricing');
    });

    it('answers unknown paths with error_page and status 404', async () => {
      const res = await request(port, '/missing');
      assert.equal(res.status, 404);
      assert.equal(res.body.toString(), STATIC_CLEAN_URLS['404.html']);
      assert.equal(res.headers['cache-control'], 'no-cache');
    });
  });

  it('fails the build when static.json is not valid JSON', async () => {
    const repo = path.join(dir.path, 'bad');
    commitTree(repo, STATIC_BAD_CONFIG);
    const outcome = await build(repo, 4, cacheDir);
    assertFailed(outcome, /static\.json is not valid JSON/);
  });

  it('fails the build when static.json names a root that does not exist', async () => {
    const repo = path.join(dir.path, 'noroot');
    commitTree(repo, { 'static.json': '{"root": "build/"}\n' });
    const outcome = await build(repo, 5, cacheDir);
    assertFailed(outcome, /"root": build\/ does not exist/);
  });
});
