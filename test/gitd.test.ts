// The git daemon with the real git and OpenSSH clients, a real embedded
// PostgreSQL store and a plain callback as the push handler (the deployer is
// wired in by the host and tested end to end in push.test.ts).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { openStore, type Store, type User } from '../core/index.js';
import { createGitd, type Gitd, type PushRequest } from '../gitd/index.js';
import { gitRequestOf, splitCommandLine } from '../gitd/command-line.js';
import { commitAll, git, makeRepo, push, sshCommand } from './helpers/apps.js';
import { tempDir } from './helpers/temp.js';

interface SeenPush {
  app: string;
  user: string;
  refs: string[];
  message: string;
  appCreated: boolean;
  finishedAt: number;
  abortedAt?: number;
}

function newKey(dir: string, name: string): { file: string; pub: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  return { file, pub: fs.readFileSync(`${file}.pub`, 'utf8') };
}

/** Runs a command and resolves with its status and output, failing or not. */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Lines the handler gets from the commit it is pushed decide what it does. */
async function handlePush(push: PushRequest, seen: SeenPush[]): Promise<{ accept: boolean }> {
  const update = push.updates[0]!;
  // Read the commit through the hook's quarantine environment: that is how the deployer gets the source.
  const message = execFileSync('git', ['log', '-1', '--format=%s', update.newSha], { cwd: push.gitDir, env: { ...process.env, ...push.gitEnv } })
    .toString()
    .trim();
  const record: SeenPush = { app: push.app.name, user: push.user.name, refs: push.updates.map((u) => u.ref), message, appCreated: push.appCreated, finishedAt: 0 };
  seen.push(record);
  push.output(`-----> Got ${update.ref} ${update.newSha.slice(0, 7)}: ${message}`);
  if (message.includes('wait-for-abort')) {
    push.output('waiting');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      push.signal.addEventListener('abort', () => {
        record.abortedAt = Date.now();
        clearTimeout(timer);
        resolve();
      });
    });
    record.finishedAt = Date.now();
    return { accept: true };
  }
  await sleep(500);
  push.output('step two');
  await sleep(500);
  push.output('done');
  record.finishedAt = Date.now();
  return { accept: !message.includes('reject me') };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('gitd', () => {
  let dir: ReturnType<typeof tempDir>;
  let data: string;
  let store: Store;
  let gitd: Gitd;
  let port: number;
  let httpServer: http.Server;
  let httpPort: number;
  const seen: SeenPush[] = [];
  const logs: string[] = [];
  let alice: { file: string; pub: string; user: User; token: string };
  let bob: { file: string; pub: string; user: User };
  let vic: { file: string; pub: string; user: User };
  let stranger: { file: string };
  let work: string;

  const sshEnv = (keyFile: string): NodeJS.ProcessEnv => ({ GIT_SSH_COMMAND: sshCommand(keyFile, port), GIT_TERMINAL_PROMPT: '0' });
  const sshUrl = (app: string): string => `ssh://shipoff@127.0.0.1:${port}/${app}.git`;
  const repoHead = (app: string, branch = 'main'): string | undefined => {
    try {
      return execFileSync('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: gitd.repoPath(app), stdio: 'pipe' }).toString().trim();
    } catch {
      return undefined;
    }
  };
  const reposList = (): string[] => (fs.existsSync(path.join(data, 'repos')) ? fs.readdirSync(path.join(data, 'repos')).sort() : []);
  /** An ssh exec by hand, for what git itself would never send. */
  const sshExec = (keyFile: string, command: string, login = 'shipoff') =>
    run('ssh', [...sshCommand(keyFile, port).split(' ').slice(1), `${login}@127.0.0.1`, command]);

  before(async () => {
    dir = tempDir('gitd');
    data = path.join(dir.path, 'data');
    store = await openStore({ dataDir: data, databaseUrl: undefined });
    const a = newKey(dir.path, 'alice');
    const aliceUser = (await store.users.addKey('alice', a.pub, { isAdmin: true })).user;
    alice = { ...a, user: aliceUser, token: await store.users.createToken(aliceUser.id) };
    const b = newKey(dir.path, 'bob');
    bob = { ...b, user: (await store.users.addKey('bob', b.pub)).user };
    const v = newKey(dir.path, 'vic');
    vic = { ...v, user: (await store.users.addKey('vic', v.pub)).user };
    stranger = newKey(dir.path, 'stranger');
    gitd = createGitd({ store, dataDir: data, sshPort: 0, sshHost: '127.0.0.1', onPush: (p) => handlePush(p, seen), log: (line) => logs.push(line) });
    ({ port } = await gitd.listen());
    httpServer = http.createServer((req, res) => gitd.handleHttp(req, res));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    httpPort = (httpServer.address() as AddressInfo).port;
    work = makeRepo(path.join(dir.path, 'work'), { 'README.md': 'hello\n' });
  });

  after(async () => {
    await gitd?.close();
    httpServer?.close();
    await store?.close();
    dir?.remove();
  });

  it('keeps its host key and hook socket private', () => {
    assert.equal(fs.statSync(path.join(data, 'ssh', 'host_key')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(data, 'run', 'gitd.sock')).mode & 0o777, 0o600);
  });

  it('an admin’s SSH push creates the app and streams the handler’s lines while it runs', async () => {
    const sha = git(work, 'rev-parse', 'HEAD');
    const started = Date.now();
    const r = await push(work, [sshUrl('demo'), 'main'], sshEnv(alice.file));
    assert.equal(r.code, 0, r.output);
    const remote = r.lines.filter((l) => l.text.startsWith('remote: '));
    assert.deepEqual(
      remote.map((l) => l.text.trimEnd()),
      ['remote: -----> Creating app demo', `remote: -----> Got refs/heads/main ${sha.slice(0, 7)}: initial`, 'remote: step two', 'remote: done'],
    );
    const push0 = seen.at(-1)!;
    assert.ok(started + remote[1]!.at < push0.finishedAt - 500, 'the first line arrived while the handler was still running');
    assert.deepEqual({ app: push0.app, user: push0.user, refs: push0.refs, created: push0.appCreated }, { app: 'demo', user: 'alice', refs: ['refs/heads/main'], created: true });
    const app = await store.apps.get('demo');
    assert.equal(await store.apps.roleOf(app.id, alice.user.id), 'owner');
    assert.equal(repoHead('demo'), sha);
    assert.equal(fs.readFileSync(path.join(gitd.repoPath('demo'), 'HEAD'), 'utf8').trim(), 'ref: refs/heads/main');
  });

  it('takes the scp-like form shipoff@HOST:APP too, and does not create the app twice', async () => {
    const config = path.join(dir.path, 'ssh_config');
    fs.writeFileSync(
      config,
      `Host 127.0.0.1\n  Port ${port}\n  IdentityFile ${alice.file}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n`,
    );
    const sha = commitAll(work, 'second');
    const r = await push(work, ['shipoff@127.0.0.1:demo', 'main'], { GIT_SSH_COMMAND: `ssh -F ${config}` });
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /Creating app/);
    assert.match(r.output, /remote: -----> Got refs\/heads\/main [0-9a-f]{7}: second/);
    assert.equal(seen.at(-1)!.appCreated, false);
    assert.equal(repoHead('demo'), sha);
  });

  it('a rejected push leaves the branch where it was', async () => {
    const before = repoHead('demo');
    commitAll(work, 'reject me please');
    const r = await push(work, [sshUrl('demo'), 'main'], sshEnv(alice.file));
    assert.notEqual(r.code, 0);
    assert.match(r.output, /remote: done/);
    assert.match(r.output, /pre-receive hook declined/);
    assert.equal(repoHead('demo'), before);
    git(work, 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('git clone over SSH returns what was pushed', async () => {
    const target = path.join(dir.path, 'clone-ssh');
    const r = await run('git', ['clone', '-q', sshUrl('demo'), target], { env: sshEnv(alice.file) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(git(target, 'rev-parse', 'HEAD'), repoHead('demo'));
    assert.equal(fs.readFileSync(path.join(target, 'README.md'), 'utf8'), 'hello\n');
  });

  it('refuses a key it does not know', async () => {
    const r = await run('git', ['ls-remote', sshUrl('demo')], { env: sshEnv(stranger.file) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  it('refuses bad app names with the rule, and touches no file', async () => {
    const reposBefore = reposList();
    const cases: [string, RegExp][] = [
      ["git-receive-pack '../x'", /"\.\.\/x" is not a valid app name: use lowercase letters/],
      ["git-receive-pack '/A.git'", /"A" is not a valid app name: use lowercase letters/],
      ["git-receive-pack 'a;id'", /"a;id" is not a valid app name/],
      ["git-receive-pack 'a b'", /"a b" is not a valid app name/],
      ["git-upload-pack ''", /"" is not a valid app name/],
      ["git upload-pack '/git.git'", /"git" is reserved by the host/],
      ["git-receive-pack '/etc/passwd'", /"etc\/passwd" is not a valid app name/],
    ];
    for (const [command, message] of cases) {
      const r = await sshExec(alice.file, command);
      assert.equal(r.code, 65, `${command}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^ ! {5}.*\[SHIPOFF_INVALID_APP_NAME\]$/m);
    }
    const viaGit = await push(work, [`ssh://shipoff@127.0.0.1:${port}/../x.git`, 'main'], sshEnv(alice.file));
    assert.notEqual(viaGit.code, 0);
    assert.match(viaGit.output, /is not a valid app name/);
    assert.deepEqual(reposList(), reposBefore);
    assert.equal((await store.apps.list()).length, 1);
  });

  it('refuses commands that are not git, and login names other than shipoff/git', async () => {
    const ls = await sshExec(alice.file, 'ls -la /');
    assert.equal(ls.code, 64);
    assert.match(ls.stderr, / ! {5}"ls" is not something this host runs over SSH; push with: git push/);
    const injected = await sshExec(alice.file, "git-receive-pack 'demo'; id");
    assert.equal(injected.code, 64, injected.stderr);
    assert.match(injected.stderr, /takes exactly one argument/);
    const root = await sshExec(alice.file, "git-upload-pack 'demo'", 'root');
    assert.equal(root.code, 77);
    assert.match(root.stderr, /log in as "shipoff"/);
    const asGit = await run('git', ['ls-remote', `ssh://git@127.0.0.1:${port}/demo`], { env: sshEnv(alice.file) });
    assert.equal(asGit.code, 0, asGit.stderr);
    assert.match(asGit.stdout, /refs\/heads\/main/);
  });

  it('a viewer can fetch but not push; a user with no role can do neither', async () => {
    const app = await store.apps.get('demo');
    await store.apps.grant(app.id, vic.user.id, 'viewer');
    const target = path.join(dir.path, 'clone-viewer');
    const clone = await run('git', ['clone', '-q', sshUrl('demo'), target], { env: sshEnv(vic.file) });
    assert.equal(clone.code, 0, clone.stderr);
    commitAll(target, 'from vic');
    const pushed = await push(target, [sshUrl('demo'), 'main'], sshEnv(vic.file));
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.output, / ! {5}vic may not push to demo; pushing needs the developer, admin or owner role on it \[SHIPOFF_PUSH_DENIED\]/);
    const bobFetch = await run('git', ['ls-remote', sshUrl('demo')], { env: sshEnv(bob.file) });
    assert.notEqual(bobFetch.code, 0);
    assert.match(bobFetch.stderr, /bob has no access to demo/);
    await store.apps.grant(app.id, bob.user.id, 'developer');
    const bobPush = await push(target, [sshUrl('demo'), 'main'], sshEnv(bob.file));
    assert.equal(bobPush.code, 0, bobPush.output);
    assert.equal(seen.at(-1)!.user, 'bob');
  });

  it('a non-admin cannot create an app by pushing, and fetching a missing app fails', async () => {
    const r = await push(work, [sshUrl('newapp'), 'main'], sshEnv(bob.file));
    assert.notEqual(r.code, 0);
    assert.match(r.output, / ! {5}App newapp does not exist; ask an admin to create it/);
    assert.equal(await store.apps.find('newapp'), undefined);
    assert.ok(!reposList().includes('newapp.git'));
    const fetch = await run('git', ['ls-remote', sshUrl('nothere')], { env: sshEnv(alice.file) });
    assert.notEqual(fetch.code, 0);
    assert.match(fetch.stderr, / ! {5}App nothere does not exist \[SHIPOFF_APP_NOT_FOUND\]/);
    assert.equal(await store.apps.find('nothere'), undefined);
  });

  it('pushes and clones over HTTP with an API token, and answers 401 without a good one', async () => {
    const base = `http://127.0.0.1:${httpPort}`;
    const env = { GIT_TERMINAL_PROMPT: '0' };
    const url = `http://alice:${alice.token}@127.0.0.1:${httpPort}/webapp.git`;
    const sha = git(work, 'rev-parse', 'HEAD');
    const r = await push(work, [url, 'main'], env);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /remote: -----> Creating app webapp\s*\n/);
    assert.match(r.output, /remote: -----> Got refs\/heads\/main [0-9a-f]{7}: second[\s\S]*remote: step two[\s\S]*remote: done/);
    assert.equal(seen.at(-1)!.appCreated, true);
    assert.equal(repoHead('webapp'), sha);
    const target = path.join(dir.path, 'clone-http');
    const clone = await run('git', ['clone', '-q', url, target], { env });
    assert.equal(clone.code, 0, clone.stderr);
    assert.equal(git(target, 'rev-parse', 'HEAD'), sha);

    const bad = await run('git', ['ls-remote', `http://alice:shipoff_wrong@127.0.0.1:${httpPort}/webapp.git`], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Authentication failed/);
    const anonymous = await fetch(`${base}/webapp.git/info/refs?service=git-upload-pack`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="shipoff"');
    const auth = { authorization: `Basic ${Buffer.from(`x:${alice.token}`).toString('base64')}` };
    const badName = await fetch(`${base}/..%2Fetc.git/info/refs?service=git-upload-pack`, { headers: auth });
    assert.equal(badName.status, 400);
    assert.match(await badName.text(), /is not a valid app name/);
    const dumb = await fetch(`${base}/webapp.git/HEAD`, { headers: auth });
    assert.equal(dumb.status, 400);
    // git gzips larger request bodies; http-backend must get them inflated.
    const request = `0032want ${sha}\n0000` + '0009done\n';
    const gzipped = await fetch(`${base}/webapp.git/git-upload-pack`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
      body: zlib.gzipSync(request),
    });
    assert.equal(gzipped.status, 200);
    assert.equal(gzipped.headers.get('content-type'), 'application/x-git-upload-pack-result');
    const pack = Buffer.from(await gzipped.arrayBuffer());
    assert.equal(pack.subarray(0, 8).toString(), '0008NAK\n');
    assert.equal(pack.subarray(8, 12).toString(), 'PACK');
  });

  it('Ctrl-C during a push aborts the handler’s signal, over SSH and over HTTP', async () => {
    const before = repoHead('demo');
    commitAll(work, 'wait-for-abort');
    const targets: [string, NodeJS.ProcessEnv][] = [
      [sshUrl('demo'), sshEnv(alice.file)],
      [`http://alice:${alice.token}@127.0.0.1:${httpPort}/demo.git`, { GIT_TERMINAL_PROMPT: '0' }],
    ];
    for (const [url, env] of targets) {
      // Forced: bob's push in an earlier test moved demo's main past this clone's.
      const r = await push(work, ['--force', url, 'main'], env, (line, child) => {
        if (line.includes('remote: waiting')) process.kill(-child.pid!, 'SIGINT');
      });
      assert.notEqual(r.code, 0);
      const record = seen.at(-1)!;
      await until('the handler to see the abort', () => record.abortedAt !== undefined);
      assert.equal(repoHead('demo'), before, 'the branch was not updated');
    }
    git(work, 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('close() stops SSH, aborts pushes in flight and removes the socket', async () => {
    commitAll(work, 'wait-for-abort again');
    let closing: Promise<void> | undefined;
    const r = await push(work, ['--force', sshUrl('demo'), 'main'], sshEnv(alice.file), (line) => {
      if (line.includes('remote: waiting')) closing = gitd.close();
    });
    await closing;
    assert.notEqual(r.code, 0);
    assert.ok(seen.at(-1)!.abortedAt !== undefined, 'the handler was aborted');
    assert.equal(fs.existsSync(path.join(data, 'run', 'gitd.sock')), false);
    const after = await run('git', ['ls-remote', sshUrl('demo')], { env: sshEnv(alice.file) });
    assert.notEqual(after.code, 0);
    assert.equal(logs.filter((l) => /failed:/.test(l)).join('\n'), '');
  });

  it('a restart keeps the host key and rewrites the hooks', async () => {
    const hostKey = fs.readFileSync(path.join(data, 'ssh', 'host_key'));
    const hook = path.join(gitd.repoPath('demo'), 'hooks', 'pre-receive');
    const script = fs.readFileSync(hook, 'utf8');
    fs.writeFileSync(hook, '#!/bin/sh\nexit 0\n');
    gitd = createGitd({ store, dataDir: data, sshPort: 0, sshHost: '127.0.0.1', onPush: (p) => handlePush(p, seen), log: (line) => logs.push(line) });
    ({ port } = await gitd.listen());
    assert.deepEqual(fs.readFileSync(path.join(data, 'ssh', 'host_key')), hostKey);
    assert.equal(fs.readFileSync(hook, 'utf8'), script);
    const sha = commitAll(work, 'after restart');
    const r = await push(work, ['--force', sshUrl('demo'), 'main'], sshEnv(alice.file));
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /remote: -----> Got refs\/heads\/main [0-9a-f]{7}: after restart/);
    assert.equal(repoHead('demo'), sha);
  });
});

describe('gitd command lines', () => {
  it('splits like sh without running one, and maps repository paths to app names', () => {
    assert.deepEqual(splitCommandLine(`git-receive-pack '/my-app.git'`), ['git-receive-pack', '/my-app.git']);
    assert.deepEqual(splitCommandLine(`git-upload-pack 'it'\\''s'`), ['git-upload-pack', "it's"]);
    assert.deepEqual(splitCommandLine(`a "b \\"c\\" $d" e\\ f ''`), ['a', 'b "c" $d', 'e f', '']);
    assert.throws(() => splitCommandLine(`git-upload-pack 'x`), /unterminated quote/);
    for (const [given, app] of [['/foo.git', 'foo'], ['foo.git', 'foo'], ['foo', 'foo'], ['/foo/', 'foo'], ['/foo.git/', 'foo']]) {
      assert.deepEqual(gitRequestOf(['git-upload-pack', given!]), { service: 'git-upload-pack', app });
    }
    assert.deepEqual(gitRequestOf(['git', 'receive-pack', 'foo']), { service: 'git-receive-pack', app: 'foo' });
    assert.equal(gitRequestOf(['git-upload-archive', 'foo']), undefined);
    assert.equal(gitRequestOf([]), undefined);
    for (const bad of ['//foo', '../x', 'a/b', 'foo.git.git', 'Foo', '']) {
      assert.throws(() => gitRequestOf(['git-receive-pack', bad]), /SHIPOFF_INVALID_APP_NAME|not a valid app name/);
    }
  });
});
