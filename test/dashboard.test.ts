// The terminal dashboard, end to end: a running host, a pushed app, and the
// dashboard drawn into a real pseudo-terminal (tmux) over `ssh -t` with the
// stock OpenSSH client. What the screen shows is asserted from tmux's copy of
// it: the app LIVE, then SLEEPING after its autosleep timeout, woken by a
// request (state and request rate change), restarted with `r`, and `q`
// leaving with status 0 and the terminal as it was. A viewer sees the app but
// none of the actions; without a terminal the command says to use ssh -t.
// Then the keys that change an app: s scales through a prompt, a slow build
// shows BUILDING with its output streaming in the app's detail, b rolls back
// through a picker and a confirmation, and / filters the table (esc clears).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { SHIPOFF_BIN } from './helpers/cli.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';
import { startTmux, type Tmux } from './helpers/tmux.js';

const run = `d${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `dash-${run}`;
const FILES = {
  'package.json': JSON.stringify({ name: 'dash', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
  'server.js': "require('http').createServer((req, res) => res.end('hello\\n')).listen(process.env.PORT);\n",
};
/** The second version: a build script that takes a while (the Node buildpack runs it), and another answer. */
const SLOW_BUILD_FILES = {
  'package.json': JSON.stringify({ name: 'dash', version: '2.0.0', private: true, scripts: { start: 'node server.js', build: 'sleep 6 && echo built-by-the-slow-script' } }) + '\n',
  'server.js': "require('http').createServer((req, res) => res.end('hello v2\\n')).listen(process.env.PORT);\n",
};
/** Where the REQ/S column starts in a row (model.ts WIDTHS: app, state, processes, release, last deploy). */
const RPS_COLUMN = 18 + 9 + 22 + 8 + 20;
const SCREENS_DOC = process.env.SHIPOFF_DASHBOARD_SCREENS;

function sshDashboard(host: PushingHost, keyFile: string): string {
  const ssh = `ssh -t -p ${host.sshPort} -i ${keyFile} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR shipoff@127.0.0.1 dashboard`;
  // After the dashboard: its status, then the shell's prompt-like marker, so the restored terminal is seen.
  return `${ssh}; echo "dashboard exited with status $?"; sleep 600`;
}

function rowOf(screen: string, app: string): string | undefined {
  return screen.split('\n').find((line) => line.includes(app));
}

function webContainers(app: string): number {
  return execFileSync('docker', ['ps', '-q', '--filter', `label=shipoff.app=${app}`, '--filter', 'label=shipoff.process=web'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const rpsOf = (row: string | undefined): number => Number(row?.slice(RPS_COLUMN, RPS_COLUMN + 7).trim() || 'NaN');

describe('dashboard over ssh -t', { timeout: 240_000 }, () => {
  let host: PushingHost;
  const terminals: Tmux[] = [];
  const screens: Array<{ title: string; text: string }> = [];

  before(async () => {
    host = await startPushingHost('dashboard');
    const pushed = await host.pushApp(APP, FILES);
    assert.equal(pushed.code, 0, pushed.output);
  });

  after(async () => {
    for (const t of terminals) t.kill();
    if (SCREENS_DOC) fs.writeFileSync(SCREENS_DOC, screens.map((s) => `### ${s.title}\n\n\`\`\`\n${s.text.replaceAll(APP, 'myapp-'.padEnd(APP.length, 'x'))}\n\`\`\`\n`).join('\n'));
    await host?.close();
  });

  it('refuses without a terminal and says to use ssh -t', async () => {
    const r = await host.ssh(['dashboard']);
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /the dashboard needs a terminal: ssh -t/);
  });

  it('shows the app LIVE, SLEEPING after its timeout, woken by a request; r restarts; q exits 0 and restores the terminal', async () => {
    const tmux = startTmux(sshDashboard(host, path.join(host.scratch, 'id_admin')));
    terminals.push(tmux);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1\\s+v1\\s+\\d+[smh] ago LIVE`));
    const first = tmux.capture();
    assert.match(first, /Docker up {2}builds 0 running, 0 queued/);
    assert.match(first, /r restart {2}s scale {2}b rollback {2}z autosleep/);
    screens.push({ title: 'An app just pushed, LIVE (host administrator)', text: first });

    const autosleep = await host.ssh(['ps:autosleep', APP, '2s']);
    assert.equal(autosleep.code, 0, autosleep.stderr);
    await tmux.waitFor(new RegExp(`${APP}\\s+SLEEPING`), 20_000);
    screens.push({ title: 'After its 2 s autosleep timeout: SLEEPING, no web instance running', text: tmux.capture() });
    assert.match(rowOf(tmux.capture(), APP)!, /web 0\/1/);

    // Requests wake it: LIVE while they come (a few seconds of them, so a two-second sample holds some).
    const requests = (async () => {
      for (let i = 0; i < 20; i++) {
        const r = await host.get(APP);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'hello\n');
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    })();
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1`), 10_000);
    await requests;
    // The rate is per two-second sample: watch for the sample that holds the requests.
    const deadline = Date.now() + 10_000;
    let woken = '';
    let rateSeen = '';
    while (Date.now() < deadline) {
      woken = tmux.capture();
      if (rpsOf(rowOf(woken, APP)) > 0) rateSeen = woken;
      if (rateSeen && /wake-ups.*\s[1-9]\d* total/.test(woken)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(rateSeen, `the request rate went up:\n${woken}`);
    assert.match(rowOf(rateSeen, APP)!, /\s(LIVE|SLEEPING)\s/);
    assert.match(woken, /wake-ups.*\s[1-9]\d* total/);
    assert.match(rowOf(rateSeen, APP)!, /\d+ms/, 'a p95 latency is shown');
    screens.push({ title: 'Woken by requests: the request rate, p95 latency and the wake-ups sparkline', text: rateSeen });

    // z: autosleep off (through ps:autosleep, as the SSH command), then it stays awake and LIVE.
    tmux.send('z');
    await tmux.waitFor(new RegExp(`ps:autosleep ${APP} off: done`), 15_000);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1`), 30_000);

    tmux.send('r');
    await tmux.waitFor(new RegExp(`ps:restart ${APP}: done`), 60_000);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1`), 15_000);
    screens.push({ title: 'After r (ps:restart)', text: tmux.capture() });
    assert.equal((await host.get(APP)).status, 200);

    tmux.send('Enter');
    await tmux.waitFor(/formation: web=1/, 15_000);
    await tmux.waitFor(/web\.1\s+v1\s+running\s+cpu [\d.]+%\s+mem \d/, 15_000);
    await tmux.waitFor(/\* v1 /);
    screens.push({ title: 'The app opened (enter): formation, instances with CPU and memory, releases, build output, logs', text: tmux.capture() });
    tmux.send('Escape');
    await tmux.waitFor(/APP\s+STATE\s+PROCESSES/);

    tmux.send('q');
    await tmux.waitFor(/dashboard exited with status 0/, 15_000);
    const restored = tmux.capture();
    assert.doesNotMatch(restored, /REQ\/S/, 'the alternate screen is gone');
  });

  it('runs on the host as `shipoff dashboard` (through the control socket), and q exits 0', async () => {
    const env = Object.entries(host.env).map(([k, v]) => `${k}=${v}`).join(' ');
    const tmux = startTmux(`env ${env} SHIPOFF_HTTPS_PORT=0 ${SHIPOFF_BIN} dashboard; echo "dashboard exited with status $?"; sleep 600`);
    terminals.push(tmux);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE`));
    assert.match(tmux.capture(), /r restart {2}s scale/);
    tmux.send('?');
    await tmux.waitFor(/keys[\s\S]*esc\s+back to the apps/);
    screens.push({ title: 'On the host (`shipoff dashboard`), with ? help open', text: tmux.capture() });
    tmux.send('?');
    tmux.send('q');
    await tmux.waitFor(/dashboard exited with status 0/, 15_000);
    assert.doesNotMatch(tmux.capture(), /REQ\/S/);
  });

  it('follows the terminal when its window is resized', async () => {
    const tmux = startTmux(sshDashboard(host, path.join(host.scratch, 'id_admin')), { cols: 120, rows: 40 });
    terminals.push(tmux);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE`));
    tmux.resize(90, 20);
    // The footer is drawn on the last row of the new size.
    const screen = (await tmux.waitFor(/^(.*\n){19}↑↓ move/)).input!;
    assert.equal(screen.split('\n').filter((l, i, all) => i < all.length - 1 || l).length <= 20, true);
    tmux.send('q');
    await tmux.waitFor(/dashboard exited with status 0/, 15_000);
  });

  it('shows a viewer the app and no action their role does not allow', async () => {
    const key = host.newKey('viewer');
    const added = await host.shipoff(['keys:add', 'viewer'], fs.readFileSync(key + '.pub', 'utf8'));
    assert.equal(added.code, 0, added.stderr);
    const granted = await host.shipoff(['access:grant', APP, 'viewer', 'viewer']);
    assert.equal(granted.code, 0, granted.stderr);
    const tmux = startTmux(sshDashboard(host, key));
    terminals.push(tmux);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE`));
    const screen = tmux.capture();
    assert.match(screen, /↑↓ move {2}enter open {2}l logs {2}\/ filter/);
    assert.doesNotMatch(screen, /r restart|s scale|b rollback|z autosleep/);
    screens.push({ title: 'A viewer: the app, and no action keys', text: screen });
    tmux.send('r');
    await tmux.waitFor(new RegExp(`restart needs the developer role \\(or owner\\) on ${APP}`));
    tmux.send('q');
    await tmux.waitFor(/dashboard exited with status 0/, 15_000);
  });

  /** The dashboard over ssh -t as the host administrator, once it shows APP LIVE. */
  async function openAsAdmin(): Promise<Tmux> {
    const tmux = startTmux(sshDashboard(host, path.join(host.scratch, 'id_admin')));
    terminals.push(tmux);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1`));
    return tmux;
  }

  async function quit(tmux: Tmux): Promise<void> {
    tmux.send('q');
    await tmux.waitFor(/dashboard exited with status 0/, 15_000);
  }

  it('s scales through a prompt: web=2 shows web 2/2 and runs two containers; web=1 back', async () => {
    const tmux = await openAsAdmin();
    tmux.send('s');
    await tmux.waitFor(new RegExp(`Scale ${APP}`));
    await new Promise((r) => setTimeout(r, 200));
    tmux.send('web=2');
    await tmux.waitFor(/web=2/);
    screens.push({ title: 'The scale prompt (s)', text: tmux.capture() });
    tmux.send('Enter');
    await tmux.waitFor(new RegExp(`ps:scale ${APP} web=2: done`), 60_000);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 2/2`), 15_000);
    await until('two web containers', () => webContainers(APP) === 2);
    screens.push({ title: 'Scaled to web=2', text: tmux.capture() });

    tmux.send('s');
    await tmux.waitFor(new RegExp(`Scale ${APP}`));
    await new Promise((r) => setTimeout(r, 200));
    tmux.send('web=1', 'Enter');
    await tmux.waitFor(new RegExp(`ps:scale ${APP} web=1: done`), 60_000);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1`), 15_000);
    await until('one web container', () => webContainers(APP) === 1);
    await quit(tmux);
  });

  it('shows BUILDING while a slow build runs, its output streaming in the detail, then LIVE', async () => {
    const tmux = await openAsAdmin();
    const pushing = host.pushApp(APP, SLOW_BUILD_FILES, 'v2: a slow build');
    await tmux.waitFor(new RegExp(`${APP}\\s+BUILDING\\s`), 30_000);
    assert.match(tmux.capture(), /builds 1 running/);
    screens.push({ title: 'A push building (the build script sleeps 6 s)', text: tmux.capture() });
    tmux.send('Enter');
    // The build script's command line is in the output while the build still runs.
    await tmux.waitFor(/build: deploy #\d+ BUILDING[\s\S]*sleep 6 && echo built-by-the-slow-script/, 15_000);
    screens.push({ title: 'The app opened while it builds: the build output as it streams', text: tmux.capture() });
    await tmux.waitFor(/^built-by-the-slow-script|│\s*built-by-the-slow-script/m, 30_000);
    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.output);
    await tmux.waitFor(/build: deploy #\d+ LIVE/, 15_000);
    tmux.send('Escape');
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1\\s+v2\\s`), 15_000);
    assert.equal((await host.get(APP)).body, 'hello v2\n');
    await quit(tmux);
  });

  it('b rolls back: a release picker, a confirmation, a new release that runs the older code', async () => {
    const tmux = await openAsAdmin();
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1\\s+v2\\s`));
    tmux.send('b');
    await tmux.waitFor(new RegExp(`roll ${APP} back to[\\s\\S]*v1 `));
    const picker = tmux.capture();
    assert.doesNotMatch(picker, /│\s*v2 /, 'the live release is not offered');
    screens.push({ title: 'b: the release picker', text: picker });
    tmux.send('Enter');
    await tmux.waitFor(new RegExp(`Roll ${APP} back to v1\\? \\(y/n\\)`));
    tmux.send('y');
    await tmux.waitFor(new RegExp(`rollback ${APP} v1: done`), 60_000);
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE\\s+web 1/1\\s+v3\\s`), 15_000);
    screens.push({ title: 'Rolled back to v1 (a new release, v3)', text: tmux.capture() });
    const releases = JSON.parse((await host.ssh(['releases', APP, '--json'])).stdout) as Array<{ version: number; description: string }>;
    assert.equal(releases[0]?.version, 3);
    assert.equal(releases[0]?.description, 'Rollback to v1');
    assert.equal((await host.get(APP)).body, 'hello\n');
    await quit(tmux);
  });

  it('/ filters the apps by name; esc clears the filter', async () => {
    const OTHER = `shop-${run}`;
    const pushed = await host.pushApp(OTHER, FILES);
    assert.equal(pushed.code, 0, pushed.output);
    const tmux = await openAsAdmin();
    await tmux.waitFor(new RegExp(`${OTHER}\\s+LIVE`));
    tmux.send('/');
    await tmux.waitFor(/Show the apps whose name contains:/);
    await new Promise((r) => setTimeout(r, 200));
    tmux.send('shop-', 'Enter');
    await tmux.waitFor(/filter: shop-/);
    const filtered = tmux.capture();
    assert.ok(rowOf(filtered, OTHER), filtered);
    assert.equal(rowOf(filtered, APP), undefined, `only the matching app is shown:\n${filtered}`);
    screens.push({ title: '/ filter: only the apps whose name contains "shop-"', text: filtered.replaceAll(OTHER, 'shop-'.padEnd(OTHER.length, 'x')) });
    tmux.send('/');
    await tmux.waitFor(/Show the apps whose name contains:/);
    await new Promise((r) => setTimeout(r, 200));
    tmux.send('no-such-app', 'Enter');
    // A new filter replaces the old one.
    await tmux.waitFor(/no app matches "no-such-app"/);
    tmux.send('Escape');
    await tmux.waitFor(new RegExp(`${APP}\\s+LIVE[\\s\\S]*${OTHER}\\s+LIVE`));
    assert.doesNotMatch(tmux.capture(), /filter:/);
    await quit(tmux);
  });
});
