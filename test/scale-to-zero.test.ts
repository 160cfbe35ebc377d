// Scale to zero on a running host: a pushed app goes idle, is frozen, then
// parked (its container stopped); concurrent requests wake it exactly once and
// are all answered; an open streaming response keeps it awake; a wake that
// cannot work answers 503 and is recorded. Real Docker, real HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `z${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `sleepy-${run}`;

// No dependencies: the app itself is what wakes.
const SERVER_JS = `const http = require('http');
let served = 0;
http.createServer((req, res) => {
  served++;
  if (req.url === '/stream') {
    let n = 0;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const t = setInterval(() => { res.write('tick ' + n + '\\n'); if (++n === 8) { clearInterval(t); res.end(); } }, 500);
    return;
  }
  res.end('awake ' + served + ' pid ' + process.pid + '\\n');
}).listen(process.env.PORT);
`;
const FILES = {
  'package.json': JSON.stringify({ name: 'sleepy', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
  'server.js': SERVER_JS,
};

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

function webContainers(): Array<{ id: string; state: string }> {
  return docker('ps', '-a', '--filter', `label=shipoff.app=${APP}`, '--filter', 'label=shipoff.process=web', '--format', '{{.ID}} {{.State}}')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, state] = line.split(' ');
      return { id: id!, state: state! };
    });
}

async function eventually<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function get(port: number, path = '/'): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: `${APP}.localhost` }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.setTimeout(40_000, () => req.destroy(new Error('timeout')));
  });
}

const count = (text: string, pattern: RegExp): number => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

describe('scale to zero', { timeout: 300_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('sleep');
    const r = await host.pushApp(APP, FILES);
    assert.equal(r.code, 0, r.output);
  });

  after(async () => {
    await host?.close();
  });

  it('a second host on the same Docker engine leaves this host\'s instances alone', async () => {
    const running = webContainers();
    assert.equal(running[0]?.state, 'running');
    const other = await startPushingHost('other');
    try {
      // Its start-up recovery has run: strays of its own would be stopped by now.
      assert.deepEqual(webContainers(), running);
      assert.equal((await get(host.httpPort)).status, 200);
    } finally {
      await other.close();
    }
  });

  it('ps:autosleep takes durations and off, and refuses anything else without changing a thing', async () => {
    for (const bad of ['soon', '-1', '0s', '8d', '1.5m', '10 m']) {
      const r = await host.shipoff(['ps:autosleep', APP, bad]);
      assert.equal(r.code, 64, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, bad.startsWith('-') ? /Usage: shipoff ps:autosleep APP DURATION/ : /is not a duration like 30s, 15m or 1h/);
    }
    const off = await host.shipoff(['ps:autosleep', APP, 'off']);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /off: it never sleeps/);
    const missing = await host.shipoff(['ps:autosleep', `nope-${run}`, '1m']);
    assert.equal(missing.code, 66);
    assert.match(missing.stderr, /App nope-.* does not exist/);
  });

  it('an idle app is frozen, then parked; 20 concurrent requests wake it once and all get 200', async () => {
    const set = await host.shipoff(['ps:autosleep', APP, '3s']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /after 3s without a request/);
    // A request restarts the idle clock (it may wake the app, idle since its deploy).
    assert.equal((await get(host.httpPort)).status, 200);
    const frozen = count(host.output(), /idle, frozen/);
    const before = webContainers();
    assert.equal(before.length, 1);

    await eventually('the app to be frozen', () => (count(host.output(), /idle, frozen/) > frozen ? true : undefined));
    assert.equal(docker('inspect', '--format', '{{.State.Paused}}', before[0]!.id), 'true');
    await eventually('the app to be parked', () => (/idle, asleep/.test(host.output()) ? true : undefined));
    assert.equal(webContainers()[0]?.state, 'exited');

    const wakesBefore = count(host.output(), /woke from/);
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(host.httpPort)));
    for (const a of answers) assert.equal(a.status, 200, a.body);
    assert.equal(new Set(answers.map((a) => a.body.split(' pid ')[1])).size, 1, 'one process answered them all');
    const after = webContainers();
    assert.deepEqual(after.map((c) => c.id), before.map((c) => c.id), 'the same container, started again: no second one');
    assert.equal(after[0]!.state, 'running');
    assert.equal(count(host.output(), /woke from parked/) - 0, 1);
    assert.equal(count(host.output(), /woke from/) - wakesBefore, 1, 'exactly one wake');
    const metrics = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: host.httpPort, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.match(metrics, new RegExp(`^shipoff_wakeups_total\\{app="${APP}",result="ok"\\} [1-9]`, 'm'));
    assert.match(metrics, new RegExp(`^shipoff_wake_duration_seconds_count\\{app="${APP}"\\} [1-9]`, 'm'));
    assert.match(metrics, new RegExp(`^shipoff_web_instances\\{app="${APP}"\\} 1$`, 'm'));
    const first = Math.min(...answers.map((a) => a.ms));
    console.log(`wake from parked: first answer after ${Math.round(first)} ms, last after ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms`);
  });

  it('a request to a frozen app wakes it from the warm tier', async () => {
    await eventually('the app to be frozen again', () => (count(host.output(), /idle, frozen/) >= 2 ? true : undefined));
    const r = await get(host.httpPort);
    assert.equal(r.status, 200);
    assert.match(host.output(), /woke from frozen in \d+ ms/);
    console.log(`wake from frozen: answered after ${Math.round(r.ms)} ms`);
  });

  it('never sleeps while a streaming response is open', async () => {
    const frozenBefore = count(host.output(), /idle, frozen/);
    const r = await get(host.httpPort, '/stream'); // 4 s of ticks, longer than the 3 s timeout
    assert.equal(r.status, 200);
    assert.equal(count(r.body, /tick/), 8);
    assert.equal(count(host.output(), /idle, frozen/), frozenBefore, 'not frozen while the response streamed');
  });

  it('a wake that cannot work answers 503 to every waiting request and is recorded', async () => {
    await eventually('the app to be parked again', () => (count(host.output(), /idle, asleep/) >= 2 ? true : undefined));
    // Take away what it would wake: its container and its image.
    const image = docker('inspect', '--format', '{{.Config.Image}}', webContainers()[0]!.id);
    docker('rm', '-f', webContainers()[0]!.id);
    docker('rmi', '-f', image);
    const answers = await Promise.all(Array.from({ length: 3 }, () => get(host.httpPort)));
    for (const a of answers) {
      assert.equal(a.status, 503, a.body);
      assert.match(a.body, /is not running/);
    }
    assert.match(host.output(), new RegExp(`${APP}: could not wake`));
  });
});
