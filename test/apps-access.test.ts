// apps:* , access:* and whoami over SSH with the stock OpenSSH client, as two
// users: the host administrator (the helper's key) and bob, who starts with
// no role at all. Roles decide what bob sees, changes and may push.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { git, makeRepo, push, sshCommand } from './helpers/apps.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `a${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `acc-${run}`;

const FILES = {
  'package.json': JSON.stringify({ name: 'a', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
  'server.js': "require('http').createServer((q, s) => s.end('bob was here')).listen(process.env.PORT);\n",
};

type Listed = { apps: Array<{ name: string; role: string | null; release: number | null; url: string }> };

describe('apps and access over SSH', { timeout: 120_000 }, () => {
  let host: PushingHost;
  let bobKey: string;
  let bobRepo: string;

  const asBob = (args: string[]) => host.ssh(args, { keyFile: bobKey });
  const bobPush = () => push(bobRepo, [`ssh://shipoff@127.0.0.1:${host.sshPort}/${APP}.git`, 'main'], { GIT_SSH_COMMAND: sshCommand(bobKey, host.sshPort) });
  async function json<T>(p: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<T> {
    const r = await p;
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as T;
  }

  before(async () => {
    host = await startPushingHost('appsaccess');
    bobKey = host.newKey('bob');
    const added = await host.shipoff(['keys:add', 'bob'], fs.readFileSync(bobKey + '.pub', 'utf8'));
    assert.equal(added.code, 0, added.stderr);
    bobRepo = makeRepo(path.join(host.scratch, 'bob-repo'), FILES);
  });

  after(async () => {
    await host?.close();
    // bob's push made these; the helper only removes what its own pushApp made.
    const ids = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).split('\n').filter(Boolean);
    const containers = ids(['ps', '-aq', '--filter', `label=shipoff.app=${APP}`]);
    if (containers.length) execFileSync('docker', ['rm', '-f', ...containers], { stdio: 'ignore' });
    const images = ids(['images', '-q', '--filter', `label=shipoff.app=${APP}`]);
    if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  });

  it('whoami tells the admin from bob', async () => {
    const admin = await json<{ user: string; admin: boolean; keys: number }>(host.ssh(['whoami', '--json']));
    assert.deepEqual(admin, { user: 'admin', hostOperator: false, admin: true, keys: 1 });
    const bob = await asBob(['whoami']);
    assert.equal(bob.code, 0, bob.stderr);
    assert.match(bob.stdout, /^bob\nadmin: no\nkeys: 1\n$/);
  });

  it('apps:create makes the creator the owner; apps:list and apps:info show a never-deployed app', async () => {
    const created = await host.ssh(['apps:create', APP]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`Created ${APP}, owned by admin`));

    const list = await json<Listed>(host.ssh(['apps:list', '--json']));
    const url = `http://${APP}.localhost:${host.httpPort}/`;
    assert.deepEqual(list.apps, [{ name: APP, role: 'owner', release: null, url }]);
    const text = await host.ssh(['apps:list']);
    assert.match(text.stdout, /^NAME +ROLE +RELEASE +URL$/m);
    assert.match(text.stdout, new RegExp(`^${APP} +owner +- +${url.replace(/\./g, '\\.')}$`, 'm'));

    const info = await json<Record<string, unknown>>(host.ssh(['apps:info', APP, '--json']));
    assert.equal(info.status, 'never deployed');
    assert.equal(info.url, url);
    assert.equal(info.release, null);
    assert.equal(info.lastDeploy, null);
    assert.deepEqual(info.web, []);

    const again = await host.ssh(['apps:create', APP]);
    assert.equal(again.code, 65);
    assert.match(again.stderr, new RegExp(`App ${APP} already exists \\[SHIPOFF_APP_EXISTS\\]`));
    const reserved = await host.ssh(['apps:create', 'git']);
    assert.equal(reserved.code, 65);
    assert.match(reserved.stderr, /"git" is reserved by the host.*\[SHIPOFF_INVALID_APP_NAME\]/);
  });

  it('refuses bad app names with the rule, and creates nothing', async () => {
    const before = (await host.ssh(['apps:list', '--json'])).stdout;
    // One string each, as ssh sends it; the host splits it like sh would, without a shell.
    for (const line of ["apps:create A", "apps:create 'a b'", 'apps:create ../x', "apps:create 'a;id'", 'apps:create a;id', "apps:create ''"]) {
      const r = await host.ssh([line]);
      assert.equal(r.code, 65, `${line}: ${r.stderr}`);
      assert.match(r.stderr, /is not a valid app name: use lowercase letters, digits and dashes.*\[SHIPOFF_INVALID_APP_NAME\]/, line);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${line}`);
    }
    assert.equal((await host.ssh(['apps:list', '--json'])).stdout, before);
  });

  it('bob sees nothing of the app until he holds a role, and cannot create apps', async () => {
    assert.deepEqual((await json<Listed>(asBob(['apps:list', '--json']))).apps, []);
    for (const args of [['apps:info', APP], ['access:list', APP], ['access:grant', APP, 'bob', 'admin']]) {
      const r = await asBob(args);
      assert.equal(r.code, 66, r.stderr);
      assert.match(r.stderr, new RegExp(`^ !     App ${APP} does not exist \\[SHIPOFF_APP_NOT_FOUND\\]\\n$`));
    }
    const create = await asBob(['apps:create', `bob-${run}`]);
    assert.equal(create.code, 77, create.stderr);
    assert.equal((await host.ssh(['apps:list', '--json'])).stdout.includes(`bob-${run}`), false);
  });

  it('grant refuses the owner role, unknown roles and unknown users, changing nothing', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['access:grant', APP, 'bob', 'owner'], 65, /owner role cannot be granted.*\[SHIPOFF_OWNER_NOT_GRANTABLE\]/],
      [['access:grant', APP, 'bob', 'boss'], 65, /"boss" is not a role; use one of admin, developer, viewer/],
      [['access:grant', APP, 'nobody', 'viewer'], 66, /User nobody does not exist \[SHIPOFF_USER_NOT_FOUND\]/],
      [['access:grant', APP, 'admin', 'viewer'], 65, /admin owns .*cannot be changed \[SHIPOFF_OWNER_ROLE_FIXED\]/],
      [['access:revoke', APP, 'bob'], 66, /User bob has no role on/],
    ];
    for (const [args, code, message] of cases) {
      const r = await host.ssh(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const list = await json<{ access: Array<{ user: string; role: string }> }>(host.ssh(['access:list', APP, '--json']));
    assert.deepEqual(list.access.map((a) => [a.user, a.role]), [['admin', 'owner']]);
  });

  it('as viewer bob can read the app but not grant access or push', async () => {
    const granted = await host.ssh(['access:grant', APP, 'bob', 'viewer']);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /bob now has the viewer role/);

    assert.deepEqual((await json<Listed>(asBob(['apps:list', '--json']))).apps.map((a) => [a.name, a.role]), [[APP, 'viewer']]);
    const info = await json<{ name: string; status: string }>(asBob(['apps:info', APP, '--json']));
    assert.equal(info.name, APP);
    const access = await json<{ access: Array<{ user: string; role: string }> }>(asBob(['access:list', APP, '--json']));
    assert.deepEqual(access.access.map((a) => [a.user, a.role]), [['admin', 'owner'], ['bob', 'viewer']]);

    const grant = await asBob(['access:grant', APP, 'bob', 'admin']);
    assert.equal(grant.code, 77, grant.stderr);
    assert.match(grant.stderr, /needs the admin role/);
    const pushed = await bobPush();
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.output, /bob may not push to/);
    assert.equal((await json<{ release: unknown }>(host.ssh(['apps:info', APP, '--json']))).release, null);
  });

  it('as developer bob pushes, and apps:info shows the live release, web instance and last deploy', async () => {
    const granted = await host.ssh(['access:grant', APP, 'bob', 'developer']);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /bob now has the developer role on .* \(was viewer\)/);
    const pushed = await bobPush();
    assert.equal(pushed.code, 0, pushed.output);
    assert.equal((await host.get(APP)).body, 'bob was here');

    const sha = git(bobRepo, 'rev-parse', 'HEAD');
    const info = await json<{
      status: string;
      release: { version: number; commit: string };
      web: string[];
      lastDeploy: { state: string; by: string; commit: string; at: string };
    }>(host.ssh(['apps:info', APP, '--json']));
    assert.equal(info.status, 'live');
    assert.equal(info.release.version, 1);
    assert.equal(info.release.commit, sha);
    assert.equal(info.web.length, 1);
    assert.match(info.web[0]!, /:\d+$/);
    assert.equal(info.lastDeploy.state, 'LIVE');
    assert.equal(info.lastDeploy.by, 'bob');
    assert.equal(info.lastDeploy.commit, sha);
    assert.ok(Date.now() - Date.parse(info.lastDeploy.at) < 120_000);
    const text = await asBob(['apps:info', APP]);
    assert.match(text.stdout, /^Status: +live$/m);
    assert.match(text.stdout, /^Release: +v1 /m);
    assert.match(text.stdout, new RegExp(`^Last deploy: +#\\d+ live at .* by bob, commit ${sha.slice(0, 7)}$`, 'm'));
    assert.deepEqual((await json<Listed>(asBob(['apps:list', '--json']))).apps.map((a) => [a.role, a.release]), [['developer', 1]]);
  });

  it('access:revoke takes the role away; the owner cannot be revoked', async () => {
    const owner = await host.ssh(['access:revoke', APP, 'admin']);
    assert.equal(owner.code, 65);
    assert.match(owner.stderr, /admin owns .*cannot be revoked \[SHIPOFF_OWNER_ROLE_FIXED\]/);

    const revoked = await host.ssh(['access:revoke', APP, 'bob']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /bob no longer has a role on .* \(was developer\)/);
    const info = await asBob(['apps:info', APP]);
    assert.equal(info.code, 66);
    assert.deepEqual((await json<Listed>(asBob(['apps:list', '--json']))).apps, []);
    fs.writeFileSync(path.join(bobRepo, 'server.js'), FILES['server.js'].replace('bob was here', 'again'));
    git(bobRepo, 'commit', '-qam', 'again');
    const pushed = await bobPush();
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.output, /bob has no access to/);
    const list = await json<{ access: Array<{ user: string; role: string }> }>(host.ssh(['access:list', APP, '--json']));
    assert.deepEqual(list.access.map((a) => [a.user, a.role]), [['admin', 'owner']]);
  });

  it('every change, and only a change, left an audit record', async () => {
    const events = await json<Array<{ actor: string; action: string; details: Record<string, unknown> }>>(host.ssh(['events', APP, '--json']));
    const ours = events
      .filter((e) => e.action.startsWith('apps:') || e.action.startsWith('access:'))
      .reverse()
      .map((e) => [e.actor, e.action, e.details.user ?? null, e.details.role ?? null]);
    assert.deepEqual(ours, [
      ['admin', 'apps:create', null, null],
      ['admin', 'access:grant', 'bob', 'viewer'],
      ['admin', 'access:grant', 'bob', 'developer'],
      ['admin', 'access:revoke', 'bob', 'developer'],
    ]);
  });
});
