// config:*, ps:*, rollback and limits:set over SSH with the stock OpenSSH
// client, against a running host: values round-trip exactly and reach the
// app's environment, and a request loop through the router sees no failure
// while config changes, restarts, scaling and rollbacks happen.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';
import { requestLoop, versionsSeen } from './helpers/request-loop.js';

const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `cfg-${run}`;

/** `/` answers VERSION and GREETING; /dyno the instance; /env?KEY its value as JSON. */
function files(version: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'cfg', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
    'server.js': `require('http').createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/dyno') return res.end(process.env.DYNO + '\\n');
  if (url.pathname === '/env') return res.end(JSON.stringify(process.env[url.search.slice(1)] ?? null));
  res.end('${version} ' + (process.env.GREETING || '-') + '\\n');
}).listen(process.env.PORT);
`,
  };
}

const containers = (app: string): string[] =>
  execFileSync('docker', ['ps', '-q', '--filter', `label=shipoff.app=${app}`, '--filter', 'label=shipoff.process=web'], { encoding: 'utf8' }).split('\n').filter(Boolean);

describe('config, processes and rollback over SSH', { timeout: 400_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('cfgps');
    assert.equal((await host.pushApp(APP, files('v1'))).code, 0);
    assert.equal((await host.shipoff(['ps:autosleep', APP, 'off'])).code, 0);
  });

  after(async () => {
    await host?.close();
  });

  it('config:set during a request loop: no failed request, and the new value answers', async () => {
    const loop = requestLoop(host.httpPort, APP);
    await new Promise((r) => setTimeout(r, 500));
    const set = await host.ssh(['config:set', APP, 'GREETING=hello']);
    assert.equal(set.code, 0, set.stderr + set.stdout);
    assert.match(set.stdout, /Releasing v2 \(Set GREETING\)/);
    await new Promise((r) => setTimeout(r, 500));
    const result = await loop.stop();
    assert.deepEqual(result.failures, []);
    const seen = versionsSeen(result);
    assert.deepEqual(seen.order, ['v1 -', 'v1 hello'], 'traffic moved once');
    assert.deepEqual(seen.wentBack, [], 'and never back');
    assert.ok(result.ok > 20, `only ${result.ok} requests`);
  });

  it('values with spaces, =, quotes, newlines and unicode round-trip and reach the app', async () => {
    // ssh sends one string; the host splits it like a shell would (never running one).
    const set = await host.ssh(['config:set', APP, `'SPACED=a b  c'`, `"EQ=x=y==z"`, `QUOTES="it's \\"q\\""`, `'LINES=one\ntwo'`, `'UNI=héllo ✓'`]);
    assert.equal(set.code, 0, set.stderr);
    const expected: Record<string, string> = { SPACED: 'a b  c', EQ: 'x=y==z', QUOTES: `it's "q"`, LINES: 'one\ntwo', UNI: 'héllo ✓' };
    const shown = await host.ssh(['config:show', APP, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const vars = JSON.parse(shown.stdout) as Record<string, string>;
    for (const [k, v] of Object.entries(expected)) {
      assert.equal(vars[k], v, `${k} as stored`);
      const fromApp = await host.get(APP, `/env?${k}`);
      assert.equal(JSON.parse(fromApp.body), v, `${k} in the app's environment`);
    }
    const got = await host.ssh(['config:get', APP, 'LINES']);
    assert.equal(got.stdout, 'one\ntwo\n');
  });

  it('--encoded takes base64 for exact bytes, and stdin gives a value too', async () => {
    const tricky = "tab\there $(echo no) `no` ; 'q' \\ end";
    const enc = await host.ssh(['config:set', '--encoded', APP, `B64=${Buffer.from(tricky).toString('base64')}`]);
    assert.equal(enc.code, 0, enc.stderr + enc.stdout);
    assert.equal(JSON.parse((await host.get(APP, '/env?B64')).body), tricky);
    const fromStdin = await host.ssh(['config:set', APP, 'PEM', '--no-restart'], { stdin: '-----BEGIN X-----\nabc\n-----END X-----\n' });
    assert.equal(fromStdin.code, 0, JSON.stringify(fromStdin) + host.output().slice(-3000));
    assert.equal((await host.ssh(['config:get', APP, 'PEM'])).stdout, '-----BEGIN X-----\nabc\n-----END X-----\n');
  });

  it('--no-restart stores only; ps:restart then releases with the new config', async () => {
    const set = await host.ssh(['config:set', APP, 'GREETING=later', '--no-restart']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await host.get(APP)).body, 'v1 hello\n', 'still the running config');
    const restart = await host.ssh(['ps:restart', APP]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /config changed since/);
    assert.equal((await host.get(APP)).body, 'v1 later\n');
  });

  it('config:unset removes vars with a release, and says which were not set', async () => {
    const r = await host.ssh(['config:unset', APP, 'SPACED', 'EQ', 'NEVER_SET']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Releasing v\d+ \(Unset EQ, SPACED\)/);
    assert.match(r.stderr, /NEVER_SET was not set/);
    assert.equal(JSON.parse((await host.get(APP, '/env?SPACED')).body), null, 'gone from the running app');
    const vars = JSON.parse((await host.ssh(['config:show', APP, '--json'])).stdout) as Record<string, string>;
    assert.ok(!('SPACED' in vars) && !('EQ' in vars) && vars.UNI === 'héllo ✓');
    const none = await host.ssh(['config:unset', APP, 'NEVER_SET']);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /Nothing to unset/);
  });

  it('checks:set takes KEY=VALUE words; the next rollout checks that path', async () => {
    const set = await host.ssh(['checks:set', APP, 'path=/dyno', 'timeout=30s']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /path of .* set to \/dyno/);
    assert.match(set.stdout, /timeout of .* set to 30/);
    const restart = await host.ssh(['ps:restart', APP]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /answers HTTP at \/dyno/);
    assert.equal((await host.ssh(['checks:set', APP, 'path'])).code, 0, 'back to the default');
  });

  it('bad input gets a one-line error, a non-zero status, and changes nothing', async () => {
    const before = (await host.ssh(['config:show', APP, '--json'])).stdout;
    const releases = (await host.ssh(['releases', APP, '--json'])).stdout;
    for (const [args, code, message] of [
      [['config:set', APP, '1BAD=x'], 65, /"1BAD" is not a valid config key/],
      [['config:set', APP, 'GOOD=1', 'novalue'], 64, /"novalue" is not KEY=VALUE/],
      [['config:set', APP, 'PORT=80'], 65, /Shipoff sets it/],
      [['config:set', '--encoded', APP, 'X=not*base64'], 65, /base64/],
      [['config:set', 'no-such-app', 'A=1'], 66, /App no-such-app does not exist/],
      [['config:get', APP, 'MISSING'], 66, /has no config var MISSING/],
      [['ps:scale', APP, 'web=lots'], 64, /not TYPE=N/],
      [['ps:scale', APP, 'worker=1'], 65, /has no process type worker/],
      [['rollback', APP, 'v99'], 66, /has no release v99/],
      [['limits:set', APP, 'memory=1t'], 64, /give a size/],
    ] as const) {
      const r = await host.ssh([...args]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.equal((await host.ssh(['config:show', APP, '--json'])).stdout, before);
    assert.equal((await host.ssh(['releases', APP, '--json'])).stdout, releases);
  });

  it('ps:scale web=2 spreads the load over two instances; scaling down under a loop fails nothing', async () => {
    const up = await host.ssh(['ps:scale', APP, 'web=2']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(containers(APP).length, 2);
    const seen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const dyno = (await host.get(APP, '/dyno')).body.trim();
      seen.set(dyno, (seen.get(dyno) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['web.1', 'web.2']);
    assert.ok(Math.min(...seen.values()) >= 10, `uneven: ${JSON.stringify([...seen])}`);
    const report = await host.ssh(['ps:report', APP, '--json']);
    assert.deepEqual(JSON.parse(report.stdout).formation, { web: 2 });

    const loop = requestLoop(host.httpPort, APP);
    await new Promise((r) => setTimeout(r, 300));
    const down = await host.ssh(['ps:scale', APP, 'web=1']);
    assert.equal(down.code, 0, down.stderr);
    await new Promise((r) => setTimeout(r, 1_500));
    const result = await loop.stop();
    assert.deepEqual(result.failures, []);
    for (let i = 0; i < 50 && containers(APP).length > 1; i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(containers(APP).length, 1);
  });

  it('ps:restart during a request loop replaces the instance with no failed request', async () => {
    const [old] = containers(APP);
    const loop = requestLoop(host.httpPort, APP);
    await new Promise((r) => setTimeout(r, 300));
    const r = await host.ssh(['ps:restart', APP]);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual((await loop.stop()).failures, []);
    for (let i = 0; i < 50 && containers(APP).includes(old!); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(!containers(APP).includes(old!), 'the old instance was stopped');
  });

  it('rollback brings back the earlier response and its config, as a new release, under a loop', async () => {
    assert.equal((await host.pushApp(APP, files('v2'), 'v2')).code, 0);
    assert.equal((await host.get(APP)).body, 'v2 later\n');
    const loop = requestLoop(host.httpPort, APP);
    const r = await host.ssh(['rollback', APP, 'v2']);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((r) => setTimeout(r, 500));
    const result = await loop.stop();
    assert.deepEqual(result.failures, []);
    const seen = versionsSeen(result);
    assert.deepEqual(seen.order, ['v2 later', 'v1 hello']);
    assert.deepEqual(seen.wentBack, []);
    const releases = JSON.parse((await host.ssh(['releases', APP, '--json'])).stdout) as Array<{ version: number; description: string }>;
    assert.match(releases.find((x) => x.description === 'Rollback to v2')?.description ?? '', /Rollback to v2/);
    assert.equal((await host.ssh(['config:get', APP, 'GREETING'])).stdout, 'hello\n', 'the config came back too');
  });

  it('limits:set applies memory and CPU to new instances', async () => {
    const r = await host.ssh(['limits:set', APP, 'memory=256m', 'cpu=0.5']);
    assert.equal(r.code, 0, r.stderr);
    const [id] = containers(APP);
    const inspect = JSON.parse(execFileSync('docker', ['inspect', id!], { encoding: 'utf8' }))[0];
    assert.equal(inspect.HostConfig.Memory, 256 * 1024 * 1024);
    assert.equal(inspect.HostConfig.NanoCpus, 0.5e9);
  });

  it('ps:stop keeps the app stopped (503, no wake); ps:start brings it back', async () => {
    const stop = await host.ssh(['ps:stop', APP]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(containers(APP).length, 0);
    const asleep = await host.get(APP);
    assert.equal(asleep.status, 503);
    assert.equal(containers(APP).length, 0, 'a request does not wake a stopped app');
    assert.match((await host.ssh(['ps:report', APP])).stdout, /Status: +stopped/);
    const start = await host.ssh(['ps:start', APP]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await host.get(APP)).status, 200);
  });

  it('ps:scale web=0 takes the app out of the routes, and a request does not start it; web=1 brings it back', async () => {
    const zero = await host.ssh(['ps:scale', APP, 'web=0']);
    assert.equal(zero.code, 0, zero.stderr);
    for (let i = 0; i < 50 && containers(APP).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(containers(APP).length, 0);
    assert.equal((await host.get(APP)).status, 503);
    assert.equal(containers(APP).length, 0, 'nothing was woken');
    const one = await host.ssh(['ps:scale', APP, 'web=1']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(containers(APP).length, 1, 'started by the scale, not by a request');
    assert.equal((await host.get(APP)).status, 200);
  });

  it('a viewer can read ps:report but cannot see or change config, scale or restart', async () => {
    const key = host.newKey('viewer');
    assert.equal((await host.shipoff(['keys:add', 'vera'], fs.readFileSync(key + '.pub', 'utf8'))).code, 0);
    assert.equal((await host.shipoff(['access:grant', APP, 'vera', 'viewer'])).code, 0);
    assert.equal((await host.ssh(['ps:report', APP], { keyFile: key })).code, 0);
    for (const args of [['config:show', APP], ['config:set', APP, 'A=1'], ['ps:scale', APP, 'web=3'], ['ps:restart', APP], ['rollback', APP, 'v1']]) {
      const r = await host.ssh(args, { keyFile: key });
      assert.equal(r.code, 77, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /needs the developer role/);
    }
    // A developer may restart, but limits and health checks are the admin role's.
    assert.equal((await host.shipoff(['access:grant', APP, 'vera', 'developer'])).code, 0);
    for (const args of [['limits:set', APP, 'memory=128m'], ['checks:set', APP, 'path=/']]) {
      const r = await host.ssh(args, { keyFile: key });
      assert.equal(r.code, 77, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /needs the admin role/);
    }
  });

  it('a config value a build prints is masked in the push output and the stored build log', async () => {
    const secret = 's3cr3t-value-' + run;
    assert.equal((await host.ssh(['config:set', APP, `BUILD_SECRET=${secret}`, '--no-restart'])).code, 0);
    const app = files('v3');
    const pkg = JSON.parse(app['package.json']!) as { scripts: Record<string, string> };
    pkg.scripts.build = 'echo "token=$BUILD_SECRET"';
    const r = await host.pushApp(APP, { ...app, 'package.json': JSON.stringify(pkg) + '\n' }, 'v3');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /token=\*{8}/);
    assert.ok(!r.output.includes(secret), 'the value never reaches the pusher');
    const log = await host.ssh(['builds:output', APP]);
    assert.match(log.stdout, /token=\*{8}/);
    assert.ok(!log.stdout.includes(secret), 'nor the stored build log');
  });
});
