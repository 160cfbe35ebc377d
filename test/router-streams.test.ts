// Bodies through the router, both ways, with the router in a process of its
// own so its memory can be read from /proc: a 100 MB upload and a 100 MB
// download to a slow reader must not be buffered in the router, and a slow
// chunked response must reach the client chunk by chunk.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

const MB = 1024 * 1024;
const ROUTER_MODULE = new URL('../router/index.js', import.meta.url).href;

/** The router in a child process, with a stub store; routes app NAME to 127.0.0.1:PORT for each NAME=PORT. */
const CHILD = `
import { createRouter, RouteTable } from ${JSON.stringify(ROUTER_MODULE)};
const store = { backend: 'embedded', ping: async () => {}, apps: { find: async () => undefined } };
const routes = new RouteTable();
for (const arg of process.argv.slice(1)) {
  const [app, port] = arg.split('=');
  routes.set(app, [{ host: '127.0.0.1', port: Number(port) }]);
}
const router = createRouter({ store, settings: { httpPort: 0, domain: 'localhost' }, routes });
const { port } = await router.listen('127.0.0.1');
console.log(port);
process.stdin.resume().on('end', () => process.exit(0));
`;

function startRouter(routes: Record<string, number>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...Object.entries(routes).map(([a, p]) => `${a}=${p}`)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve({ child, port: Number(String(d).trim()) }));
    child.once('exit', (code) => reject(new Error(`router child exited with ${code}`)));
  });
}

/** Peak and current resident memory of a process, in bytes. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** 100 MB of a repeated 64 KiB buffer, produced only as fast as it is consumed. */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('router streams', { timeout: 60_000 }, () => {
  let upstream: http.Server;
  let router: { child: ChildProcess; port: number };
  const chunkTimes: number[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === '/upload') {
        let bytes = 0;
        req.on('data', (d: Buffer) => (bytes += d.length));
        req.on('end', () => res.end(JSON.stringify({ bytes, chunked: req.headers['transfer-encoding'] === 'chunked' })));
        return;
      }
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(100 * MB) });
        generated(100 * MB).pipe(res);
        return;
      }
      if (req.url === '/slow') {
        // Five chunks, 150 ms apart, no content-length: chunked.
        let n = 0;
        res.writeHead(200, { 'content-type': 'text/plain' });
        const tick = (): void => {
          n++;
          chunkTimes.push(Date.now());
          if (n < 5) {
            res.write(`chunk ${n}\n`);
            setTimeout(tick, 150);
          } else res.end(`chunk ${n}\n`);
        };
        tick();
        return;
      }
      res.end('ok\n');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    router = await startRouter({ big: (upstream.address() as AddressInfo).port });
    // Warm up: modules loaded, pools made, JIT done for the plain path.
    for (let i = 0; i < 20; i++) await get('/');
  });

  after(async () => {
    router.child.stdin!.end();
    router.child.kill();
    upstream.closeAllConnections();
    upstream.close();
  });

  function get(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: router.port, path, headers: { host: 'big.localhost' }, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  }

  it('streams a 100 MB upload without holding it in memory', async () => {
    // The first 100 MB sets the level the garbage collector lets the router's
    // memory reach (it grows by ~50 MB before a collection, whatever the size);
    // a router that buffered would grow by another 100 MB with each upload after.
    let base = memoryOf(router.child.pid!);
    const framings = ['content-length', 'content-length', 'chunked'] as const;
    for (const [i, framing] of framings.entries()) {
      if (i === 1) base = memoryOf(router.child.pid!);
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: router.port,
            path: '/upload',
            method: 'POST',
            headers: { host: 'big.localhost', ...(framing === 'content-length' ? { 'content-length': String(100 * MB) } : {}) },
            agent: false,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
          },
        );
        req.on('error', reject);
        generated(100 * MB).pipe(req);
      });
      const result = JSON.parse(body) as { bytes: number; chunked: boolean };
      assert.equal(result.bytes, 100 * MB);
      assert.equal(result.chunked, framing === 'chunked');
    }
    const grew = memoryOf(router.child.pid!).peak - base.peak;
    assert.ok(grew < 30 * MB, `the router's peak memory grew by ${(grew / MB).toFixed(1)} MB for 2 × 100 MB uploaded`);
  });

  it('streams a 100 MB download to a slow reader with backpressure', async () => {
    // A fast download first, for the same reason as above.
    assert.equal(await download(0), 100 * MB);
    const base = memoryOf(router.child.pid!);
    assert.equal(await download(1_000), 100 * MB);
    const grew = memoryOf(router.child.pid!).peak - base.peak;
    assert.ok(grew < 30 * MB, `the router's peak memory grew by ${(grew / MB).toFixed(1)} MB for 100 MB downloaded slowly`);
  });

  /** Downloads /download, reading nothing for PAUSEMS first; the bytes received. */
  async function download(pauseMs: number): Promise<number> {
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: router.port, path: '/download', headers: { host: 'big.localhost' }, agent: false }, (res) => {
          assert.equal(res.headers['content-length'], String(100 * MB));
          // While the client reads nothing, a router without backpressure would take in all 100 MB.
          res.pause();
          setTimeout(() => {
            res.on('data', (d: Buffer) => (received += d.length));
            res.on('end', resolve);
            res.resume();
          }, pauseMs);
        })
        .on('error', reject);
    });
    return received;
  }

  it('passes a slow chunked response on as each chunk arrives', async () => {
    chunkTimes.length = 0;
    const arrivals: Array<{ at: number; text: string }> = [];
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: router.port, path: '/slow', headers: { host: 'big.localhost' }, agent: false }, (res) => {
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          res.setEncoding('utf8');
          res.on('data', (text: string) => arrivals.push({ at: Date.now(), text }));
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    assert.equal(arrivals.map((a) => a.text).join(''), [1, 2, 3, 4, 5].map((n) => `chunk ${n}\n`).join(''));
    assert.equal(arrivals.length, 5, 'each chunk should arrive on its own');
    // Each chunk reaches the client long before the upstream sends the next one.
    for (let i = 0; i < 4; i++) {
      assert.ok(arrivals[i]!.at < chunkTimes[i + 1]!, `chunk ${i + 1} arrived only after chunk ${i + 2} was sent`);
      assert.ok(arrivals[i]!.at - chunkTimes[i]! < 100, `chunk ${i + 1} took ${arrivals[i]!.at - chunkTimes[i]!} ms`);
    }
    await sleep(0);
  });
});
