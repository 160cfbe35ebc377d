// The local CLI on the host runs commands inside the running host through the
// control socket (as SSH does), and on its own when no host answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runShipoff } from './helpers/cli.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const APP = `ctl-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

describe('the local CLI and the running host', { timeout: 300_000 }, () => {
  let host: PushingHost;
  let stopped = false;

  before(async () => {
    host = await startPushingHost('ctl');
    const r = await host.pushApp(APP, {
      'package.json': JSON.stringify({ name: 'c', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
      'server.js': "require('http').createServer((q, s) => s.end(process.env.GREETING || 'none')).listen(process.env.PORT);\n",
    });
    assert.equal(r.code, 0, r.output);
  });

  after(async () => {
    if (!stopped) await host?.close();
  });

  it('the socket is the operator\'s alone', () => {
    const mode = fs.statSync(path.join(host.dataDir, 'control.sock')).mode & 0o777;
    assert.equal(mode & 0o077, 0, `mode ${mode.toString(8)}`);
  });

  it('commands that act on the host run in it: config:set restarts the app, ps:report sees its instances', async () => {
    const set = await host.shipoff(['config:set', APP, 'GREETING=from the cli']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /Releasing v2/);
    assert.equal((await host.get(APP)).body, 'from the cli');
    const report = await host.shipoff(['ps:report', APP, '--json']);
    assert.equal(report.code, 0, report.stderr);
    const parsed = JSON.parse(report.stdout) as { release: number; instances: Array<{ state: string; release: number }> };
    assert.equal(parsed.release, 2);
    assert.equal(parsed.instances.filter((i) => i.state === 'running' && i.release === 2).length, 1);
    const events = await host.shipoff(['events', APP, '--json']);
    assert.match(events.stdout, /"actor": ?"[^"]+ \(host\)"/, 'recorded as the host operator');
  });

  it('apps:create on the host makes an app owned by --owner (an existing user)', async () => {
    const owned = `${APP}-owned`;
    const ghost = await host.shipoff(['apps:create', owned, '--owner', 'ghost']);
    assert.equal(ghost.code, 66, ghost.stderr);
    assert.match(ghost.stderr, /User ghost does not exist/);
    const created = await host.shipoff(['apps:create', owned, '--owner', 'admin']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /owned by admin/);
    assert.match((await host.shipoff(['access:list', owned])).stdout, /admin\s+owner/);
  });

  it('stdin, stdout, stderr and the exit status cross the socket', async () => {
    const cat = await host.shipoff(['run', APP, 'cat'], 'through the socket\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'through the socket\n');
    const failing = await host.shipoff(['run', APP, 'sh', '-c', 'echo oops >&2; exit 5']);
    assert.equal(failing.code, 5);
    assert.match(failing.stderr, /oops/);
    const unknown = await host.shipoff(['ps:report', 'no-such-app']);
    assert.equal(unknown.code, 66);
    assert.match(unknown.stderr, /App no-such-app does not exist/);
  });

  it('with the host stopped, store commands run here and host commands say to start it', async () => {
    await host.close().catch(() => {});
    stopped = true;
    // close() removed the data dir: make a fresh one with a stale socket file left behind.
    const dataDir = fs.mkdtempSync('/tmp/shipoff-ctl-');
    try {
      const env = { SHIPOFF_DATA: dataDir };
      execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(dataDir, 'control.sock')]);
      const create = await runShipoff(['apps:create', 'offline'], { env });
      assert.equal(create.code, 0, create.stderr);
      const report = await runShipoff(['ps:report', 'offline'], { env });
      assert.equal(report.code, 69);
      assert.match(report.stderr, /ps:report acts on the running host.*shipoff up/);
      const set = await runShipoff(['config:set', 'offline', 'A=1', '--no-restart'], { env });
      assert.equal(set.code, 0, set.stderr);
      const withRestart = await runShipoff(['config:set', 'offline', 'A=2'], { env });
      assert.equal(withRestart.code, 69);
      assert.match(withRestart.stderr, /add --no-restart/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
