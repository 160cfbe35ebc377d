// The PHP buildpack against the real Docker engine and the real stack image
// (PHP 8.2, Composer): each sample app is built with buildRelease(), its
// release image runs as the runtime runs it (the image's own command, PORT
// set), and real HTTP requests go to it. Dependencies come from a composer
// path repository inside the app (Packagist is not reachable), locked by the
// stack's own Composer. No mocks.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { isShipoffError } from '../core/errors.js';
import { buildRelease, type BuildResult } from '../buildpacks/index.js';
import { stackImageRef } from '../buildpacks/stack-image.js';
import {
  composerLock,
  PHP_BAD_JSON,
  PHP_FRONT_CONTROLLER,
  PHP_HELLO,
  PHP_MISSING_EXTENSION,
  PHP_UNMET_VERSION,
  PHP_WITH_DEPENDENCY,
} from './helpers/php-samples.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);
const docker = new Docker();
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const APP = `bpphp-${suffix}`;
const PORT = 5000;

/** A git repository at `dir` whose HEAD holds exactly `files`. */
function commitTree(dir: string, files: Record<string, string | { symlink: string }>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '-q');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'string') fs.writeFileSync(file, content);
    else fs.symlinkSync(content.symlink, file);
  }
  git('add', '-A');
  git('-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit', '-qm', 'push');
}

interface Outcome {
  result?: BuildResult;
  error?: unknown;
  output: string;
}

async function build(repo: string, version: number, cacheDir: string, env: Record<string, string> = {}): Promise<Outcome> {
  const lines: string[] = [];
  const archive = spawn('git', ['archive', '--format=tar', 'HEAD'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  const outcome: Outcome = { output: '' };
  try {
    outcome.result = await buildRelease({ docker, app: APP, version, source: archive.stdout, cacheDir, env, onLine: (line) => lines.push(line) });
  } catch (err) {
    outcome.error = err;
  }
  outcome.output = lines.join('\n');
  return outcome;
}

function assertOk(outcome: Outcome): BuildResult {
  if (outcome.error) assert.fail(`build failed: ${String(outcome.error)}\n${outcome.output}`);
  return outcome.result!;
}

function assertFailed(outcome: Outcome, ...patterns: RegExp[]): void {
  assert.ok(isShipoffError(outcome.error, 'SHIPOFF_BUILD_FAILED'), `${String(outcome.error)}\n${outcome.output}`);
  const message = (outcome.error as Error).message;
  for (const pattern of patterns) assert.match(message, pattern);
}

/** Runs the image's own command (its web process) with PORT; resolves to the host port once it answers. */
async function startRelease(image: string): Promise<number> {
  const name = `${APP}-web-${Math.random().toString(36).slice(2, 8)}`;
  await run('docker', ['run', '-d', '--name', name, '--label', 'com.shipoff.managed=true', '--label', `shipoff.app=${APP}`, '-e', `PORT=${PORT}`, '-p', `127.0.0.1::${PORT}`, image]);
  const { stdout } = await run('docker', ['port', name, String(PORT)]);
  const port = Number(/:(\d+)\s*$/m.exec(stdout)?.[1]);
  for (let i = 0; i < 100; i++) {
    if (await get(port, '/').then(() => true, () => false)) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = await run('docker', ['logs', name]).then((r) => r.stdout + r.stderr, () => '');
  throw new Error(`${image} never answered on port ${PORT}:\n${logs}`);
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET, with the path sent exactly as given (http.request does not normalize it). */
function get(port: number, requestPath: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: requestPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request line written to the socket as it is; the whole answer as text. */
function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(`${requestLine}\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(requestLine)}`)));
  });
}

describe('PHP buildpack (real Docker, stack image, Composer)', { timeout: 300_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let cacheDir: string;

  before(() => {
    dir = tempDir('bpphp');
    cacheDir = path.join(dir.path, 'cache');
  });

  after(async () => {
    const { stdout: ids } = await run('docker', ['ps', '-aq', '--filter', `label=shipoff.app=${APP}`]);
    if (ids.trim()) await run('docker', ['rm', '-f', ...ids.trim().split('\n')]).catch(() => undefined);
    const { stdout } = await run('docker', ['image', 'ls', '-q', '--filter', `label=shipoff.app=${APP}`]);
    const images = [...new Set(stdout.split('\n').filter(Boolean))];
    if (images.length > 0) await run('docker', ['image', 'rm', '-f', ...images]).catch(() => undefined);
    dir?.remove();
  });

  it('builds and serves an index.php without composer.json, and no dotfiles', async () => {
    const repo = path.join(dir.path, 'hello');
    commitTree(repo, { ...PHP_HELLO, passwd: { symlink: '/etc/passwd' }, 'etc.css': { symlink: '/etc/passwd' } });
    const outcome = await build(repo, 1, cacheDir);
    const result = assertOk(outcome);
    console.log(`PHP build without dependencies: ${result.durationMs} ms`);
    assert.match(outcome.output, /^-----> PHP app detected$/m);
    assert.match(outcome.output, /PHP 8\.2\.\d+, Composer version 2/);
    assert.equal(result.buildpack, 'PHP');
    assert.deepEqual(result.processTypes, { web: 'exec php -S "0.0.0.0:$PORT" -t . .shipoff/php-router.php' });

    const port = await startRelease(result.image);
    assert.equal((await get(port, '/')).body, 'Hello from PHP 8.2\n');
    const css = await get(port, '/style.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.equal((await get(port, '/any/path')).body, 'Hello from PHP 8.2\n', 'index.php is the front controller');
    for (const link of ['/passwd', '/etc.css', '/%2e%2e/%2e%2e/etc/passwd', '/../../etc/passwd']) {
      assert.doesNotMatch((await get(port, link)).body, /root:x:0:0/, `${link}: a symlink or path out of the docroot`);
    }
    for (const hidden of ['/.env', '/.shipoff/php-router.php', '/.profile.d/php.sh']) {
      const res = await get(port, hidden);
      assert.equal(res.status, 404, hidden);
      assert.doesNotMatch(res.body, /do-not-serve|PHP_CLI_SERVER_WORKERS|shipoff_route/, hidden);
    }
  });

  it('serves public/ as the docroot and routes every other path to its index.php', async () => {
    const repo = path.join(dir.path, 'front');
    commitTree(repo, PHP_FRONT_CONTROLLER);
    const outcome = await build(repo, 2, cacheDir);
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Generating the autoloader$/m, 'no packages: composer dump-autoload for autoload');
    assert.deepEqual(result.processTypes, { web: 'exec php -S "0.0.0.0:$PORT" -t public .shipoff/php-router.php' });

    const port = await startRelease(result.image);
    assert.equal((await get(port, '/')).body, 'home page\nscript: /index.php\n');
    assert.equal((await get(port, '/some/path?page=2')).body, 'route: /some/path\nscript: /index.php\n');
    assert.equal((await get(port, '/users/42')).body, 'route: /users/42\nscript: /index.php\n');
    const css = await get(port, '/assets/site.css');
    assert.equal(css.body, PHP_FRONT_CONTROLLER['public/assets/site.css']);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    for (const attempt of ['/../src/secret.php', '/%2e%2e/src/secret.php', '/..%2fsrc%2fsecret.php', '/assets/..%2f..%2fsrc/secret.php', '/..\\src\\secret.php']) {
      const res = await get(port, attempt);
      assert.doesNotMatch(res.body, /outside the docroot/, attempt);
      assert.ok(res.status === 404 || /^route: /.test(res.body), `${attempt}: ${res.status} ${res.body}`);
    }
    for (const line of ['GET /../src/secret.php HTTP/1.1', 'GET /../../../../etc/passwd HTTP/1.1', 'GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1']) {
      const answer = await rawRequest(port, line);
      assert.doesNotMatch(answer, /outside the docroot|root:x:0:0/, line);
    }
  });

  it('installs a path-repository dependency from composer.lock; scripts run and see config vars', async () => {
    const repo = path.join(dir.path, 'deps');
    const files = { ...PHP_WITH_DEPENDENCY, 'composer.lock': composerLock(PHP_WITH_DEPENDENCY, stackImageRef()) };
    commitTree(repo, files);
    const outcome = await build(repo, 3, cacheDir, { BUILD_MARK: 'mark-from-config' });
    const result = assertOk(outcome);
    console.log(`PHP build with a dependency: ${result.durationMs} ms`);
    assert.match(outcome.output, /^-----> Installing dependencies$/m);
    assert.match(outcome.output, /composer install --no-dev --prefer-dist --optimize-autoloader --no-interaction/);
    assert.match(outcome.output, /Installing shipoff\/greeting \(1\.0\.0\)/);
    assert.match(outcome.output, /Generating optimized autoload files/);
    assert.ok(fs.existsSync(path.join(cacheDir, 'php', 'composer')), 'the composer cache is in CACHE_DIR');

    const port = await startRelease(result.image);
    assert.equal((await get(port, '/')).body, 'Hello, deploy, from a composer package\nmark: mark-from-config\n');
    for (const hidden of ['/vendor/autoload.php', '/vendor/composer/installed.json', '/composer.lock', '/composer.json']) {
      const res = await get(port, hidden);
      assert.equal(res.status, 404, hidden);
    }
    const image = await docker.getImage(result.image).inspect();
    assert.doesNotMatch((image.Config.Env ?? []).join('\n'), /BUILD_MARK|COMPOSER/);
  });

  it('runs a Heroku Procfile (heroku-php-apache2 public/) and the "compile" composer script', async () => {
    const repo = path.join(dir.path, 'heroku');
    const composerJson = JSON.parse(PHP_FRONT_CONTROLLER['composer.json']!) as Record<string, unknown>;
    composerJson.scripts = { compile: ['php -r "file_put_contents(\'public/compiled.txt\', \'compiled at build time\');"'] };
    commitTree(repo, { ...PHP_FRONT_CONTROLLER, 'composer.json': JSON.stringify(composerJson), Procfile: 'web: heroku-php-apache2 -C apache.conf public/\n' });
    const outcome = await build(repo, 4, cacheDir);
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Running composer compile$/m);
    assert.deepEqual(result.processTypes, { web: 'heroku-php-apache2 -C apache.conf public/' });
    const port = await startRelease(result.image);
    assert.equal((await get(port, '/deep/link')).body, 'route: /deep/link\nscript: /index.php\n');
    assert.equal((await get(port, '/compiled.txt')).body, 'compiled at build time');
  });

  it('fails without composer.lock when composer.json requires packages', async () => {
    const repo = path.join(dir.path, 'nolock');
    commitTree(repo, PHP_WITH_DEPENDENCY);
    const outcome = await build(repo, 5, cacheDir);
    assertFailed(outcome, /No composer\.lock found/, /composer update/, /commit composer\.lock/);
    assert.doesNotMatch(outcome.output, /Installing dependencies/);
  });

  it('fails on composer.json that is not JSON, saying where', async () => {
    const repo = path.join(dir.path, 'badjson');
    commitTree(repo, PHP_BAD_JSON);
    assertFailed(await build(repo, 6, cacheDir), /composer\.json is not valid JSON/, /line 3/, /trailing comma/);
  });

  it('fails when composer.json requires a PHP version the stack does not have', async () => {
    const repo = path.join(dir.path, 'php83');
    commitTree(repo, PHP_UNMET_VERSION);
    assertFailed(await build(repo, 7, cacheDir), /requires PHP ">=8\.3", but this stack has PHP 8\.2\.\d+ only/);
  });

  it('fails when composer.json requires an extension the stack does not have', async () => {
    const repo = path.join(dir.path, 'ext');
    commitTree(repo, PHP_MISSING_EXTENSION);
    assertFailed(await build(repo, 8, cacheDir), /requires ext-shipoff-imaginary, which this stack's PHP 8\.2\.\d+ does not have/);
  });
});
