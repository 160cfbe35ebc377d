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
  });
});
