// buildRelease against the real Docker engine and the real stack image: a
// sample Node.js app pushed as `git archive` output, the npm registry, the
// node_modules cache, Procfiles, refusals and cancellation. No mocks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILDPACKS, launchArgv, parseProcfile, parseReleaseYaml } from '../buildpacks/index.js';
import { appContainers, assertFailsWith, assertOk, buildHead, commitTree, docker, oneOff, removeAppsFromDocker, serveRelease, type Outcome } from './helpers/builds.js';
import { tempDir } from './helpers/temp.js';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const APP = `bptest-${suffix}`;
const OTHER = `bptest-other-${suffix}`;

const SERVER_JS = `const http = require('http');
const ms = require('ms');
http.createServer((req, res) => res.end('served ' + ms(60000) + ' ' + process.env.NODE_ENV + '\\n')).listen(process.env.PORT);
`;

function packageJson(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ name: 'sample', version: '1.0.0', private: true, scripts: { start: 'node server.js' }, dependencies: { ms: '2.1.3' }, ...extra }, null, 2);
}

/** The lockfile npm itself writes for package.json, made on the host. */
function lockfileFor(pkg: string, scratch: string): string {
  fs.mkdirSync(scratch, { recursive: true });
  fs.writeFileSync(path.join(scratch, 'package.json'), pkg);
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: scratch, stdio: 'pipe' });
  return fs.readFileSync(path.join(scratch, 'package-lock.json'), 'utf8');
}

describe('buildRelease (real Docker, stack image, npm registry)', { timeout: 150_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let repo: string;
  let cacheDir: string;
  let lockfile: string;
  let first: Outcome;

  before(() => {
    dir = tempDir('buildpacks');
    repo = path.join(dir.path, 'app');
    cacheDir = path.join(dir.path, 'cache', APP);
    lockfile = lockfileFor(packageJson(), path.join(dir.path, 'lock'));
  });

  after(async () => {
    await removeAppsFromDocker([APP, OTHER]);
    dir?.remove();
  });

  it('builds a Node.js app into a labelled release image', async () => {
    commitTree(repo, { 'package.json': packageJson(), 'package-lock.json': lockfile, 'server.js': SERVER_JS });
    first = await buildHead(repo, { app: APP, version: 1, cacheDir, env: { SECRET_TOKEN: 'do-not-bake-me' } });
    const result = assertOk(first);
    console.log(`first build: ${result.durationMs} ms`);
    assert.match(first.output, /^-----> Node\.js app detected$/m);
    assert.match(first.output, /^-----> Installing dependencies$/m);
    assert.match(first.output, /^ {7}added 1 package/m, 'npm output, indented');
    assert.match(first.output, /^-----> Caching node_modules$/m);
    assert.equal(result.image, `shipoff/${APP}:v1`);
    assert.equal(result.buildpack, 'Node.js');
    assert.deepEqual(result.processTypes, { web: 'npm start' });

    const image = await docker.getImage(result.image).inspect();
    assert.equal(image.Id, result.imageId);
    const labels = image.Config.Labels ?? {};
    assert.equal(labels['com.shipoff.managed'], 'true');
    assert.equal(labels['shipoff.app'], APP);
    assert.equal(labels['shipoff.release'], '1');
    assert.deepEqual(JSON.parse(labels['shipoff.process-types'] ?? '{}'), { web: 'npm start' });
    assert.equal(image.Config.WorkingDir, '/app');
    const env = (image.Config.Env ?? []).join('\n');
    assert.doesNotMatch(env, /SECRET_TOKEN|do-not-bake-me|NODE_EXTRA_CA_CERTS|npm_config_cafile/, 'no config or build-only variables baked in');
    assert.deepEqual(await appContainers(APP, 'build'), [], 'the build container is gone');
  });

  it('runs the release image with launchArgv: dependencies, NODE_ENV and the web process', async () => {
    const image = `shipoff/${APP}:v1`;
    const probe = await oneOff(image, `node -e "console.log(require('ms')(2000), process.env.NODE_ENV)"`);
    assert.equal(probe.trim(), '2s production');

    assert.equal(await serveRelease(image, { command: 'npm start' }), 'served 1m production\n');
  });

  it('restores node_modules from the cache when the lockfile is unchanged', async () => {
    commitTree(repo, { 'package.json': packageJson(), 'package-lock.json': lockfile, 'server.js': SERVER_JS.replace('served', 'served again') });
    const second = await buildHead(repo, { app: APP, version: 2, cacheDir });
    const result = assertOk(second);
    console.log(`cached build: ${result.durationMs} ms (first: ${first.result?.durationMs} ms)`);
    assert.match(second.output, /^-----> Restoring cache$/m);
    assert.doesNotMatch(second.output, /Installing dependencies/);
    assert.ok(result.durationMs < first.result!.durationMs, 'the cached build is faster');
    const probe = await oneOff(result.image, `node -p "require('ms')(3000)"`);
    assert.equal(probe.trim(), '3s');
  });

  it('lets a Procfile override the default process types; config vars reach the build only', async () => {
    const pkg = packageJson({ scripts: { start: 'node server.js', build: 'echo "greeting=$GREETING" && node -e "require(\'ms\')"' } });
    commitTree(repo, {
      'package.json': pkg,
      'package-lock.json': lockfileFor(pkg, path.join(dir.path, 'lock')),
      'server.js': SERVER_JS,
      Procfile: '# processes\nweb: node server.js\nworker: node -e "setInterval(() => {}, 1000)"\n',
    });
    const outcome = await buildHead(repo, { app: APP, version: 3, cacheDir, env: { GREETING: 'hello-from-config' } });
    const result = assertOk(outcome);
    const types = { web: 'node server.js', worker: 'node -e "setInterval(() => {}, 1000)"' };
    assert.deepEqual(result.processTypes, types);
    assert.match(outcome.output, /Procfile declares types -> web, worker/);
    assert.match(outcome.output, /greeting=hello-from-config/, 'the build script sees config vars');
    assert.match(outcome.output, /^-----> Pruning devDependencies$/m);
    const image = await docker.getImage(result.image).inspect();
    assert.deepEqual(JSON.parse(image.Config.Labels?.['shipoff.process-types'] ?? '{}'), types);
    assert.doesNotMatch((image.Config.Env ?? []).join('\n'), /GREETING/);
  });

  it('fails with SHIPOFF_NO_BUILDPACK naming what it looked for', async () => {
    const other = path.join(dir.path, 'readme-only');
    commitTree(other, { 'README.md': '# nothing to build\n' });
    const outcome = await buildHead(other, { app: OTHER, version: 1, cacheDir: path.join(dir.path, 'cache', OTHER) });
    assertFailsWith(outcome, 'SHIPOFF_NO_BUILDPACK', /package\.json \(Node\.js\)/);
    for (const bp of BUILDPACKS) assert.ok((outcome.error as Error).message.includes(bp.name));
    assert.deepEqual(await appContainers(OTHER, 'build'), []);
  });

  it('detects a static site when there is no package.json', async () => {
    const other = path.join(dir.path, 'static');
    commitTree(other, { 'index.html': '<h1>static</h1>\n' });
    const outcome = await buildHead(other, { app: OTHER, version: 5, cacheDir: path.join(dir.path, 'cache', OTHER) });
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Static site app detected$/m);
    assert.equal(result.buildpack, 'Static site');
    assert.equal(result.processTypes.web, 'node .shipoff/static-server.js');
  });

  for (const [file, files] of [
    ['Procfile', { 'package.json': packageJson({ dependencies: {} }) }],
    ['package.json', { 'index.html': '<h1>hi</h1>' }],
  ] as const) {
    it(`refuses a symlinked ${file} without showing what it points at`, async () => {
      const other = path.join(dir.path, `link-${file}`);
      commitTree(other, { ...files, [file]: { symlink: '/etc/passwd' } });
      const outcome = await buildHead(other, { app: OTHER, version: 1, cacheDir: path.join(dir.path, 'cache', OTHER) });
      assertFailsWith(outcome, 'SHIPOFF_UNSAFE_FILE', new RegExp(`^${file} is a symbolic link`));
      assert.doesNotMatch(outcome.output + (outcome.error as Error).message, /root:x:0:0/);
    });
  }

  it('fails with SHIPOFF_BUILD_FAILED and the last lines when the build script fails', async () => {
    const other = path.join(dir.path, 'failing');
    commitTree(other, { 'package.json': JSON.stringify({ name: 'f', version: '1.0.0', scripts: { build: 'echo compiling-now && exit 3' } }) });
    const outcome = await buildHead(other, { app: OTHER, version: 2, cacheDir: path.join(dir.path, 'cache', OTHER) });
    assertFailsWith(outcome, 'SHIPOFF_BUILD_FAILED', /compiling-now/);
    assert.match(outcome.output, /compiling-now/);
    assert.deepEqual(await appContainers(OTHER, 'build'), []);
  });

  it('cancels on abort: SHIPOFF_BUILD_CANCELLED, and the container is removed', async () => {
    const other = path.join(dir.path, 'slow');
    commitTree(other, { 'package.json': JSON.stringify({ name: 's', version: '1.0.0', scripts: { build: 'echo sleeping && sleep 30' } }) });
    const controller = new AbortController();
    const started = Date.now();
    const outcome = await buildHead(other, {
      app: OTHER,
      version: 3,
      cacheDir: path.join(dir.path, 'cache', OTHER),
      signal: controller.signal,
      onLine: (line) => {
        if (line.includes('sleeping')) controller.abort();
      },
    });
    assertFailsWith(outcome, 'SHIPOFF_BUILD_CANCELLED');
    assert.ok(Date.now() - started < 20_000, 'stopped well before the sleep ended');
    assert.deepEqual(await appContainers(OTHER, 'build'), []);
  });

  it('stops a build that runs too long: SHIPOFF_BUILD_TIMEOUT', async () => {
    const other = path.join(dir.path, 'slow');
    const outcome = await buildHead(other, { app: OTHER, version: 4, cacheDir: path.join(dir.path, 'cache', OTHER), timeoutMs: 3_000 });
    assertFailsWith(outcome, 'SHIPOFF_BUILD_TIMEOUT');
    assert.deepEqual(await appContainers(OTHER, 'build'), []);
  });
});

describe('launchArgv and process types', () => {
  it('passes the command as data, not as part of the script', () => {
    const command = `echo "$HOME" '$(id)'; touch /tmp/x`;
    const argv = launchArgv(command);
    assert.equal(argv[0], '/bin/bash');
    assert.equal(argv.at(-1), command);
    assert.ok(!argv[2]!.includes(command));
    assert.match(argv[2]!, /\/app\/\.profile\.d\/\*\.sh/);
  });

  it('parses Procfiles and bin/release output', () => {
    assert.deepEqual(parseProcfile('web: npm start\n\n# c\nworker:node w.js\r\nbad line\n9-x_y: a: b\n'), {
      web: 'npm start',
      worker: 'node w.js',
      '9-x_y': 'a: b',
    });
    assert.deepEqual(parseReleaseYaml('---\naddons: []\ndefault_process_types:\n  web: npm start\n  q: "a \\"b\\""\nconfig_vars: {}\n'), {
      web: 'npm start',
      q: 'a "b"',
    });
  });
});
