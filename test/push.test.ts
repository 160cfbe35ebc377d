// `git push` end to end: a running host, the stock git and OpenSSH clients,
// builds in real containers on the real Docker engine, HTTP through the router.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitAll, getVia, git, makeRepo, nodeApp, push, sshCommand, writeFiles } from './helpers/apps.js';
import { runShipoff, startHost, type RunningHost } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { tempDir } from './helpers/temp.js';

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

const containersOf = (app: string, extra: string[] = []): string[] =>
  docker('ps', '-a', '-q', '--filter', `label=shipoff.app=${app}`, ...extra.flatMap((f) => ['--filter', f])).split('\n').filter(Boolean);

async function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('git push deploys an app', { timeout: 600_000 }, () => {
  const run = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const appName = `node-${run}`;
  const procApp = `proc-${run}`;
  let dir: ReturnType<typeof tempDir>;
  let data: string;
  let httpPort: number;
  let sshPort: number;
  let host: RunningHost;
  let keyFile: string;
  let sshEnv: NodeJS.ProcessEnv;
  let token: string;
  const env = (): NodeJS.ProcessEnv => ({ SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(httpPort), SHIPOFF_SSH_PORT: String(sshPort) });
  const sshUrl = (app: string): string => `ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`;

  before(async () => {
    dir = tempDir('push');
    data = path.join(dir.path, 'data');
    httpPort = await freePort();
    sshPort = await freePort();
    host = startHost(['up'], env());
    await host.ready;
    keyFile = path.join(dir.path, 'id_alice');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@test', '-f', keyFile]);
    const added = await runShipoff(['keys:add', 'alice'], { env: env(), stdin: fs.readFileSync(keyFile + '.pub') });
    assert.equal(added.code, 0, added.stderr);
    const made = await runShipoff(['tokens:create', 'alice'], { env: env() });
    assert.equal(made.code, 0, made.stderr);
    token = made.stdout.trim();
    sshEnv = { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) };
  });

  after(async () => {
    await host?.stop();
    for (const app of [appName, procApp, `pair-${run}`, `cfg-${run}`, `crash-${run}`, `bad-${run}`, `sym-${run}`, `pkg-${run}`, `slow-${run}`]) {
      for (const id of containersOf(app)) docker('rm', '-f', id);
      const images = docker('images', '-q', '--filter', `label=shipoff.app=${app}`).split('\n').filter(Boolean);
      if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
    }
    dir?.remove();
  });

  let firstSha: string;
  let repo: string;

  it('pushes a Node app over SSH, streams the build, and serves it through the router', async () => {
    repo = makeRepo(path.join(dir.path, 'node-app'), nodeApp('hello v1'));
    firstSha = git(repo, 'rev-parse', 'HEAD');
    const r = await push(repo, [sshUrl(appName), 'main'], sshEnv);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`remote: -----> Creating app ${appName}`));
    assert.match(r.output, /remote: -----> Node\.js app detected/);
    assert.match(r.output, /remote: .*added \d+ package/, 'npm output is relayed');
    assert.match(r.output, new RegExp(`remote: =====> ${appName} v1 is live at http://${appName}\\.localhost:${httpPort}/`));
    // Streaming: the first build line arrived well before the push ended.
    const first = r.lines.find((l) => l.text.includes('Node.js app detected'));
    const last = r.lines.find((l) => l.text.includes('is live at'));
    assert.ok(first && last, r.output);
    assert.ok(last.at - first.at > 500, `detected at ${first.at} ms, live at ${last.at} ms: output was not streamed`);

    const page = await getVia(httpPort, `${appName}.localhost`);
    assert.equal(page.status, 200);
    assert.equal(page.body, 'hello v1 1m production\n');
  });

  it('git clone over SSH returns what was pushed', async () => {
    const clone = path.join(dir.path, 'clone');
    execFileSync('git', ['clone', '-q', sshUrl(appName), clone], { env: { ...process.env, ...sshEnv } });
    assert.equal(git(clone, 'rev-parse', 'HEAD'), firstSha);
    assert.equal(fs.readFileSync(path.join(clone, 'greeting.js'), 'utf8'), fs.readFileSync(path.join(repo, 'greeting.js'), 'utf8'));
  });

  it('a failing build rejects the push, leaves the branch alone, and the old release keeps answering', async () => {
    writeFiles(repo, nodeApp('hello broken', { scripts: { build: 'echo compiling && exit 3' } }));
    commitAll(repo, 'broken build');
    const r = await push(repo, [sshUrl(appName), 'main'], sshEnv);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /remote: .*compiling/);
    assert.match(r.output, /pre-receive hook declined/);
    assert.match(r.output, /previous release keeps serving/);
    const remoteHead = execFileSync('git', ['ls-remote', sshUrl(appName), 'refs/heads/main'], { encoding: 'utf8', env: { ...process.env, ...sshEnv } });
    assert.equal(remoteHead.split('\t')[0], firstSha, 'the branch was not updated');
    assert.equal((await getVia(httpPort, `${appName}.localhost`)).body, 'hello v1 1m production\n');
  });

  it('a re-push goes live with the new code, from the warm cache, and the old instance is stopped', async () => {
    writeFiles(repo, nodeApp('hello v2'));
    commitAll(repo, 'v2');
    const r = await push(repo, [sshUrl(appName), 'main'], sshEnv);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /remote: -----> Restoring cache/, 'the failed build in between did not spoil the cache');
    assert.match(r.output, /is live/);
    assert.equal((await getVia(httpPort, `${appName}.localhost`)).body, 'hello v2 1m production\n');
    await eventually('the old web instance to stop', () => (containersOf(appName, ['label=shipoff.process=web']).length === 1 ? true : undefined));
  });

  it('a branch other than main is stored without deploying', async () => {
    git(repo, 'checkout', '-q', '-b', 'feature');
    writeFiles(repo, { 'greeting.js': 'module.exports = "feature";\n' });
    const sha = commitAll(repo, 'feature work');
    const r = await push(repo, [sshUrl(appName), 'feature'], sshEnv);
    git(repo, 'checkout', '-q', 'main');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Storing feature without deploying/);
    const remote = execFileSync('git', ['ls-remote', sshUrl(appName), 'refs/heads/feature'], { encoding: 'utf8', env: { ...process.env, ...sshEnv } });
    assert.equal(remote.split('\t')[0], sha);
    assert.equal((await getVia(httpPort, `${appName}.localhost`)).body, 'hello v2 1m production\n');
  });

  it('pushes over HTTP with a token; a Procfile runs web and worker', async () => {
    const files = nodeApp('procfile web');
    const procRepo = makeRepo(path.join(dir.path, 'proc-app'), {
      ...files,
      Procfile: 'web: node server.js\nworker: node worker.js\n',
      'worker.js': "console.log('worker started'); setInterval(() => console.log('worker tick'), 1000);\n",
    });
    // curl (under git) resolves *.localhost to loopback by itself.
    const r = await push(procRepo, [`http://alice:${token}@git.localhost:${httpPort}/${procApp}.git`, 'main']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /remote: -----> Node\.js app detected/);
    assert.equal((await getVia(httpPort, `${procApp}.localhost`)).body, 'procfile web 1m production\n');
    const worker = await eventually('the worker to log', () => {
      const ids = containersOf(procApp, ['label=shipoff.process=worker', 'status=running']);
      if (ids.length !== 1) return undefined;
      const logs = execFileSync('docker', ['logs', ids[0]!], { encoding: 'utf8' });
      return logs.includes('worker started') ? ids[0] : undefined;
    });
    assert.ok(worker);

    const denied = await push(procRepo, [`http://alice:nope@git.localhost:${httpPort}/${procApp}.git`, 'main'], { GIT_TERMINAL_PROMPT: '0' });
    assert.notEqual(denied.code, 0);
    assert.match(denied.output, /Authentication failed|401/);
  });

  it('an undetectable repository gets a clear error', async () => {
    const plain = makeRepo(path.join(dir.path, 'plain'), { 'README.md': '# nothing to run\n' });
    const r = await push(plain, [sshUrl(`bad-${run}`), 'main'], sshEnv);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /remote: .*no buildpack/i);
    assert.match(r.output, /package\.json/);
  });

  it('a Procfile or package.json that is a symlink to a host file does not leak it', async () => {
    const sym = makeRepo(path.join(dir.path, 'sym'), { ...nodeApp('sym'), Procfile: { symlink: '/etc/passwd' } });
    const r1 = await push(sym, [sshUrl(`sym-${run}`), 'main'], sshEnv);
    assert.notEqual(r1.code, 0, r1.output);
    assert.doesNotMatch(r1.output, /root:x:0:0/);
    assert.match(r1.output, /Procfile is a symbolic link/);

    const pkg = makeRepo(path.join(dir.path, 'pkg'), { 'package.json': { symlink: '/etc/passwd' }, 'server.js': '' });
    const r2 = await push(pkg, [sshUrl(`pkg-${run}`), 'main'], sshEnv);
    assert.notEqual(r2.code, 0, r2.output);
    assert.doesNotMatch(r2.output, /root:x:0:0/);
    assert.match(r2.output, /package\.json is a symbolic link/);
  });

  it('refuses bad app names with the rule and creates nothing on disk', async () => {
    const before = fs.readdirSync(path.join(data, 'repos')).sort();
    for (const bad of ['A', 'a_b', 'git', '-x', 'a..b', '../x', 'a b', '']) {
      const r = await push(repo, [`ssh://shipoff@127.0.0.1:${sshPort}/${bad}.git`, 'main'], sshEnv);
      assert.notEqual(r.code, 0, `${bad}: ${r.output}`);
      assert.match(r.output, /not a valid app name|reserved/, `${bad}: ${r.output}`);
    }
    // The scp form with shell metacharacters: git quotes it; we never reach a shell.
    const r = await push(repo, [`shipoff@127.0.0.1:a;id`, 'main'], { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) });
    assert.notEqual(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /uid=\d+/);
    assert.deepEqual(fs.readdirSync(path.join(data, 'repos')).sort(), before);
  });

  it('interrupting a push cancels the build and leaves no container behind', async () => {
    const slow = makeRepo(path.join(dir.path, 'slow'), nodeApp('slow', { scripts: { build: 'echo slow-build-started && sleep 120' } }));
    let killed = false;
    const r = await push(slow, [sshUrl(`slow-${run}`), 'main'], sshEnv, (line, child) => {
      if (!killed && line.includes('slow-build-started')) {
        killed = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    assert.ok(killed, r.output);
    assert.notEqual(r.code, 0);
    await eventually('the build container to be removed', () => (containersOf(`slow-${run}`).length === 0 ? true : undefined), 30_000);
  });

  it('a second push to the same app waits its turn; one that went stale meanwhile is refused', async () => {
    const pair = `pair-${run}`;
    /** Starts push `second` once `first` prints `marker`; resolves with both results. */
    const overlapping = async (first: string, second: string, marker: string) => {
      let secondPush: ReturnType<typeof push> | undefined;
      const a = await push(first, [sshUrl(pair), 'main'], sshEnv, (line) => {
        if (!secondPush && line.includes(marker)) secondPush = push(second, [sshUrl(pair), 'main'], sshEnv);
      });
      assert.ok(secondPush, a.output);
      return { a, b: await secondPush };
    };

    // The first push fails after a while: the second waits, then deploys.
    const failing = makeRepo(path.join(dir.path, 'pair-a'), nodeApp('pair a', { scripts: { build: 'echo pair-a-building && sleep 3 && exit 1' } }));
    const good = makeRepo(path.join(dir.path, 'pair-b'), nodeApp('pair b'));
    const one = await overlapping(failing, good, 'pair-a-building');
    assert.notEqual(one.a.code, 0, one.a.output);
    assert.equal(one.b.code, 0, one.b.output);
    assert.match(one.b.output, /Waiting for the deploy before this one of pair-/);
    assert.equal((await getVia(httpPort, `${pair}.localhost`)).body, 'pair b 1m production\n');

    // Both build on the same commit and the first goes live: the second
    // cannot update the branch any more, so it is refused before building.
    const stale = path.join(dir.path, 'pair-stale');
    execFileSync('git', ['clone', '-q', good, stale]);
    writeFiles(good, nodeApp('pair c', { scripts: { build: 'echo pair-c-building && sleep 3' } }));
    commitAll(good, 'c');
    writeFiles(stale, nodeApp('pair d'));
    commitAll(stale, 'd');
    const two = await overlapping(good, stale, 'pair-c-building');
    assert.equal(two.a.code, 0, two.a.output);
    assert.notEqual(two.b.code, 0, two.b.output);
    assert.match(two.b.output, /main of pair-\S+ moved while this push waited its turn.*git pull/);
    assert.doesNotMatch(two.b.output, /Building pair-/);
    assert.equal((await getVia(httpPort, `${pair}.localhost`)).body, 'pair c 1m production\n');
  });

  it('per-app settings: deploy branch, build timeout and health check', async () => {
    const cfg = `cfg-${run}`;
    const shipoff = (...args: string[]) => runShipoff(args, { env: env() });
    const repoDir = makeRepo(path.join(dir.path, 'cfg'), nodeApp('cfg v1'));
    assert.equal((await push(repoDir, [sshUrl(cfg), 'main'], sshEnv)).code, 0);

    // Bad input: a clear error, nothing changed.
    for (const [args, pattern] of [
      [['builds:set', cfg, 'timeout', 'soon'], /not a number of seconds from 10 to 7200/],
      [['git:set', cfg, 'deploy-branch', '../x'], /not a branch name/],
      [['checks:set', cfg, 'path', 'health'], /not a URL path starting with \//],
      [['checks:set', cfg, 'colour', 'red'], /no key "colour"; the keys are path, timeout/],
      [['builds:set', `nope-${run}`, 'timeout', '60'], /App nope-\S+ does not exist/],
    ] as const) {
      const r = await shipoff(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, pattern);
    }

    // Another deploy branch: main is stored, production deploys.
    assert.equal((await shipoff('git:set', cfg, 'deploy-branch', 'production')).code, 0);
    writeFiles(repoDir, nodeApp('cfg v2'));
    commitAll(repoDir, 'v2');
    const stored = await push(repoDir, [sshUrl(cfg), 'main'], sshEnv);
    assert.match(stored.output, /Storing main without deploying \(cfg-\S+ deploys from production\)/);
    const deployed = await push(repoDir, [sshUrl(cfg), 'main:production'], sshEnv);
    assert.equal(deployed.code, 0, deployed.output);
    assert.equal((await getVia(httpPort, `${cfg}.localhost`)).body, 'cfg v2 1m production\n');
    assert.equal((await shipoff('git:set', cfg, 'deploy-branch')).code, 0);

    // A build longer than the app's timeout is stopped, and says how to raise it.
    assert.equal((await shipoff('builds:set', cfg, 'timeout', '10')).code, 0);
    writeFiles(repoDir, nodeApp('cfg slow', { scripts: { build: 'sleep 60' } }));
    commitAll(repoDir, 'slow');
    const slow = await push(repoDir, [sshUrl(cfg), 'main'], sshEnv);
    assert.notEqual(slow.code, 0, slow.output);
    assert.match(slow.output, /took longer than 10 s.*builds:set cfg-\S+ timeout SECONDS/);
    assert.ok(slow.ms < 40_000, `the push took ${slow.ms} ms`);
    assert.equal((await shipoff('builds:set', cfg, 'timeout')).code, 0);

    // A release failing the app's own health check never takes traffic.
    assert.equal((await shipoff('checks:set', cfg, 'path', '/health')).code, 0);
    assert.equal((await shipoff('checks:set', cfg, 'timeout', '3')).code, 0);
    writeFiles(repoDir, {
      ...nodeApp('cfg v3'),
      'server.js': `require('http').createServer((q, s) => { s.statusCode = q.url === '/health' ? 503 : 200; s.end('cfg v3'); }).listen(process.env.PORT);\n`,
    });
    commitAll(repoDir, 'unhealthy');
    const sick = await push(repoDir, [sshUrl(cfg), 'main'], sshEnv);
    assert.notEqual(sick.code, 0, sick.output);
    assert.match(sick.output, /did not become healthy.*\/health/);
    assert.equal((await getVia(httpPort, `${cfg}.localhost`)).body, 'cfg v2 1m production\n');
  });

  it('a crashed instance is restarted, the crash is logged, and the app answers again', async () => {
    const crash = `crash-${run}`;
    const crashRepo = makeRepo(path.join(dir.path, 'crash'), {
      ...nodeApp('crash'),
      'server.js': `require('http').createServer((q, s) => { if (q.url === '/crash') process.exit(3); s.end('up ' + process.pid); }).listen(process.env.PORT);\n`,
    });
    assert.equal((await push(crashRepo, [sshUrl(crash), 'main'], sshEnv)).code, 0);
    const before = containersOf(crash, ['label=shipoff.process=web']);
    await getVia(httpPort, `${crash}.localhost`, '/crash').catch(() => undefined);
    await eventually('the crash in the host log', () => (new RegExp(`${crash} web\\.1 \\(v1\\) exited with status 3; restarting`).test(host.output()) ? true : undefined));
    const page = await eventually('the app to answer again', async () => {
      const r = await getVia(httpPort, `${crash}.localhost`).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    });
    assert.match(page.body, /^up \d+$/);
    assert.deepEqual(containersOf(crash, ['label=shipoff.process=web']), before, 'the same container, restarted in place');
  });

  it('after a host restart, running instances are adopted, not duplicated', async () => {
    const webBefore = containersOf(appName, ['label=shipoff.process=web', 'status=running']);
    assert.equal(webBefore.length, 1);
    assert.equal(await host.stop(), 0);
    host = startHost(['up'], env());
    const banner = await host.ready;
    assert.match(banner, new RegExp(`${appName} v\\d+: adopted 1`));
    assert.deepEqual(containersOf(appName, ['label=shipoff.process=web', 'status=running']), webBefore);
    assert.equal((await getVia(httpPort, `${appName}.localhost`)).body, 'hello v2 1m production\n');
  });
});
