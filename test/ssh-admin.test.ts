// Admin commands over SSH with the stock OpenSSH client: the same registry as
// the local CLI, run as the key's user with that user's rights, argv split
// without a shell, and a suggestion for a mistyped command.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `s${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `adm-${run}`;

describe('admin commands over SSH', { timeout: 300_000 }, () => {
  let host: PushingHost;
  let bobKey: string;

  before(async () => {
    host = await startPushingHost('sshadmin');
    const r = await host.pushApp(APP, {
      'package.json': JSON.stringify({ name: 'a', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
      'server.js': "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    });
    assert.equal(r.code, 0, r.output);
    bobKey = host.newKey('bob');
    const added = await host.shipoff(['keys:add', 'bob'], fs.readFileSync(bobKey + '.pub', 'utf8'));
    assert.equal(added.code, 0, added.stderr);
  });

  after(async () => {
    await host?.close();
  });

  it('help lists the commands grouped, and each command answers --help', async () => {
    const help = await host.ssh(['help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^ps:\n {2}ps:autosleep/m);
    assert.match(help.stdout, /^keys:\n/m);
    assert.doesNotMatch(help.stdout, /^ {2}up /m, 'host commands are not offered over SSH');
    const one = await host.ssh(['ps:autosleep', '--help']);
    assert.equal(one.code, 0);
    assert.match(one.stdout, /^Usage: shipoff ps:autosleep APP DURATION\|off\|default/);
  });

  it('runs a command as the key\'s user, with a result and an audit trail', async () => {
    const r = await host.ssh(['ps:autosleep', APP, '5m']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Autosleep of ${APP}: after 5m without a request`));
  });

  it('a mistyped command gets the closest one suggested and exit status 64', async () => {
    const r = await host.ssh(['ps:autoslep', APP, '5m']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /ps:autoslep is not a shipoff command\. Did you mean ps:autosleep\?/);
  });

  it('splits the command line like a shell would, without running one', async () => {
    // One string, as ssh sends it: quotes group, and ; is just a character.
    const quoted = await host.ssh([`ps:autosleep "${APP}" '10m'`]);
    assert.equal(quoted.code, 0, quoted.stderr);
    assert.match(quoted.stdout, /after 10m/);
    const marker = `/tmp/shipoff-injected-${run}`;
    const injected = await host.ssh([`ps:autosleep ${APP};touch ${marker} 5m`]);
    assert.notEqual(injected.code, 0);
    assert.equal(fs.existsSync(marker), false, 'nothing ran');
    const sub = await host.ssh([`ps:autosleep $(touch ${marker}) 5m`]);
    assert.notEqual(sub.code, 0);
    assert.equal(fs.existsSync(marker), false, 'no command substitution');
  });

  it('a user without a role on the app cannot see or change it, and only administrators manage keys', async () => {
    const r = await host.ssh(['ps:autosleep', APP, '1m'], { keyFile: bobKey });
    assert.equal(r.code, 66, r.stderr);
    assert.match(r.stderr, new RegExp(`App ${APP} does not exist`));
    const keys = await host.ssh(['keys:add', 'eve'], { keyFile: bobKey, stdin: fs.readFileSync(bobKey + '.pub', 'utf8') });
    assert.equal(keys.code, 77, keys.stderr);
    const list = await host.shipoff(['keys:list']);
    assert.doesNotMatch(list.stdout, /eve/);
    // An administrator adds a key over SSH, the key on stdin.
    const carolKey = host.newKey('carol');
    const added = await host.ssh(['keys:add', 'carol'], { stdin: fs.readFileSync(carolKey + '.pub', 'utf8') });
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await host.ssh(['whoami'], { keyFile: carolKey })).code, 0);
    const removed = await host.ssh(['keys:remove', 'carol']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await host.ssh(['whoami'], { keyFile: carolKey })).code, 255, 'the key no longer logs in');
  });

  it('releases, builds, builds:output and events tell what happened to the app', async () => {
    const rel = await host.ssh(['releases', APP, '--json']);
    assert.equal(rel.code, 0, rel.stderr);
    const list = JSON.parse(rel.stdout) as Array<{ version: number; live: boolean; builder: string; by: string }>;
    assert.deepEqual(list.map((r) => [r.version, r.live, r.builder, r.by]), [[1, true, 'buildpack', 'admin']]);
    assert.match((await host.ssh(['releases', APP])).stdout, /^v1 \(live\) /m);

    const builds = await host.ssh(['builds', APP]);
    assert.equal(builds.code, 0, builds.stderr);
    const deploy = /^#(\d+) +LIVE /m.exec(builds.stdout);
    assert.ok(deploy, builds.stdout);
    const output = await host.ssh(['builds:output', APP]);
    assert.equal(output.code, 0, output.stderr);
    assert.match(output.stdout, /-----> Node\.js app detected/);
    assert.match(output.stdout, new RegExp(`=====> ${APP} v1 is live at`));
    assert.equal((await host.ssh(['builds:output', APP, `#${deploy[1]}`])).stdout, output.stdout);
    const bad = await host.ssh(['builds:output', APP, 'latest']);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /is not a deploy number/);
    const missing = await host.ssh(['builds:output', APP, '999999']);
    assert.equal(missing.code, 66, missing.stderr);

    const events = await host.ssh(['events', APP, '--json']);
    assert.equal(events.code, 0, events.stderr);
    const actions = (JSON.parse(events.stdout) as Array<{ action: string; actor: string }>).map((e) => `${e.actor} ${e.action}`);
    assert.ok(actions.includes('admin ps:autosleep'), actions.join(', '));
    assert.ok(actions.includes('admin deploy.live'), actions.join(', '));
  });

  it('someone with no role on the app reads none of its history, and the whole host\'s events are for administrators', async () => {
    for (const args of [['releases', APP], ['builds', APP], ['builds:output', APP], ['events', APP]]) {
      const r = await host.ssh(args, { keyFile: bobKey });
      assert.equal(r.code, 66, `${args.join(' ')}: ${r.stderr}`);
    }
    const all = await host.ssh(['events'], { keyFile: bobKey });
    assert.equal(all.code, 77, all.stderr);
    const mine = await host.ssh(['events', '-n', '5']);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /^WHEN +WHO +APP +WHAT/m);
  });
});
