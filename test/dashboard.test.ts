// The terminal dashboard, end to end: a running host, a pushed app, and the
// dashboard drawn into a real pseudo-terminal (tmux) over `ssh -t` with the
// stock OpenSSH client. What the screen shows is asserted from tmux's copy of
// it: the app LIVE, then SLEEPING after its autosleep timeout, woken by a
// request (state and request rate change), restarted with `r`, and `q`
// leaving with status 0 and the terminal as it was. A viewer sees the app but
// none of the actions; without a terminal the command says to use ssh -t.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
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
});
