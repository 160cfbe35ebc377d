// `logs APP` over SSH with the stock OpenSSH client: the app's own output with
// timestamps and instance names, the router's lines, -n, --process, --json,
// and -t following what the app prints after the command started.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `l${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `logs-${run}`;
const STAMP = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

/** Resolves once the child's stdout matches, or rejects after the timeout. */
function waitFor(child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!pattern.test(output())) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve();
    };
    const timer = setTimeout(() => {
      child.stdout!.off('data', check);
      reject(new Error(`no ${pattern} within ${timeoutMs} ms; got:\n${output()}`));
    }, timeoutMs);
    child.stdout!.on('data', check);
    check();
  });
}

/** Runs `logs ARGS` in the background and collects what it prints. */
function follower(host: PushingHost, args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = host.sshSpawn(['logs', ...args]);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

describe('logs over SSH', { timeout: 180_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('sshlogs');
    const r = await host.pushApp(APP, {
      'package.json': JSON.stringify({ name: 'l', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
      'server.js':
        "require('http').createServer((q, s) => { console.log('hit ' + q.url); s.end('ok'); })" +
        ".listen(process.env.PORT, () => { console.log('started on ' + process.env.PORT + ' mark ' + (process.env.MARK || 1)); console.error('a line on stderr'); });\n",
    });
    assert.equal(r.code, 0, r.output);
    assert.equal((await host.get(APP, '/before')).status, 200);
  });

  after(async () => {
    await host?.close();
  });

  it('shows the app\'s output with timestamps and instance names, and the router\'s lines', async () => {
    const r = await host.ssh(['logs', APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${STAMP} app\\[web\\.1\\]: started on \\d+ mark 1$`, 'm'));
    assert.match(r.stdout, new RegExp(`^${STAMP} app\\[web\\.1\\]: a line on stderr$`, 'm'));
    assert.match(r.stdout, new RegExp(`^${STAMP} app\\[web\\.1\\]: hit /before$`, 'm'));
    assert.match(r.stdout, new RegExp(`^${STAMP} shipoff\\[router\\]: at=info method=GET path="/before" status=200 `, 'm'));
    const stamps = r.stdout.trim().split('\n').map((l) => l.slice(0, 24));
    assert.deepEqual(stamps, [...stamps].sort(), 'oldest first');
  });

  it('-n 1 prints exactly one line, --process worker none, --json parses', async () => {
    const one = await host.ssh(['logs', APP, '-n', '1']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout.trim().split('\n').length, 1, one.stdout);

    const worker = await host.ssh(['logs', APP, '--process', 'worker']);
    assert.equal(worker.code, 0, worker.stderr);
    assert.equal(worker.stdout, '');

    const json = await host.ssh(['logs', APP, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { at: string; source: string; text: string });
    assert.ok(lines.some((l) => l.source === 'web.1' && /^started on/.test(l.text)));
    assert.ok(lines.some((l) => l.source === 'router' && /path="\/before"/.test(l.text)));
    for (const l of lines) assert.ok(!Number.isNaN(Date.parse(l.at)), l.at);
  });

  it('-t shows a line the app prints after the command started, and stops when the client goes', async () => {
    const f = follower(host, [APP, '-t', '-n', '5']);
    await waitFor(f.child, f.out, /started on/, 5_000).catch(() => {}); // the recent lines first
    const unique = `/after-${Date.now().toString(36)}`;
    assert.equal((await host.get(APP, unique)).status, 200);
    await waitFor(f.child, f.out, new RegExp(`app\\[web\\.1\\]: hit ${unique}$`, 'm'), 8_000);
    await waitFor(f.child, f.out, new RegExp(`shipoff\\[router\\]: at=info method=GET path="${unique}"`), 8_000);

    // A new release's instances start after the follower did: their output comes too.
    const set = await host.ssh(['config:set', APP, 'MARK=2']);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(f.child, f.out, /app\[web\.1\]: started on \d+ mark 2$/m, 10_000);
    f.child.kill('SIGTERM');
    await f.exited;

    // The host is fine, and a second follower (this time until -t is cut short) works too.
    const again = follower(host, [APP, '--tail', '-n', '1']);
    await waitFor(again.child, again.out, /\S/, 5_000);
    const second = `/again-${Date.now().toString(36)}`;
    assert.equal((await host.get(APP, second)).status, 200);
    await waitFor(again.child, again.out, new RegExp(`hit ${second}$`, 'm'), 8_000);
    again.child.kill('SIGTERM');
    await again.exited;
    assert.equal((await host.ssh(['logs', APP, '-n', '1'])).code, 0);
  });

  it('refuses an unknown app (66), a bad -n (64) and a viewer (77)', async () => {
    const unknown = await host.ssh(['logs', `nope-${run}`]);
    assert.equal(unknown.code, 66, unknown.stderr);
    for (const bad of ['0', '10001', 'ten', '-3']) {
      const r = await host.ssh(['logs', APP, '-n', bad]);
      assert.equal(r.code, 64, `-n ${bad}: ${r.stderr}`);
    }
    assert.equal((await host.ssh(['logs', APP, '--process', 'Web!'])).code, 64);

    const bobKey = host.newKey('bob');
    assert.equal((await host.shipoff(['keys:add', 'bob'], fs.readFileSync(bobKey + '.pub', 'utf8'))).code, 0);
    assert.equal((await host.shipoff(['access:grant', APP, 'bob', 'viewer'])).code, 0);
    const viewer = await host.ssh(['logs', APP], { keyFile: bobKey });
    assert.equal(viewer.code, 77, viewer.stderr);
    assert.match(viewer.stderr, /developer role/);
    assert.equal((await host.shipoff(['access:grant', APP, 'bob', 'developer'])).code, 0);
    const developer = await host.ssh(['logs', APP, '-n', '3'], { keyFile: bobKey });
    assert.equal(developer.code, 0, developer.stderr);
  });
});
