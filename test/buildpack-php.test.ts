// The PHP buildpack against the real Docker engine and the real stack image
// (PHP 8.2, Composer): each sample app is built with buildRelease(), its
// release image runs as the runtime runs it (the image's own command, PORT
// set), and real HTTP requests go to it. Dependencies come from a composer
// path repository inside the app (Packagist is not reachable), locked by the
// stack's own Composer. No mocks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stackImageRef } from '../buildpacks/stack-image.js';
import { assertFailed, assertOk, buildHead, commitTree, docker, get, rawRequest, removeAppsFromDocker, startRelease, type Outcome } from './helpers/builds.js';
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

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const APP = `bpphp-${suffix}`;

/** Builds HEAD of `repo` as app APP with config vars `env`. */
function build(repo: string, version: number, cacheDir: string, env: Record<string, string> = {}): Promise<Outcome> {
  return buildHead(repo, { app: APP, version, cacheDir, env });
}

describe('PHP buildpack (real Docker, stack image, Composer)', { timeout: 300_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let cacheDir: string;

  before(() => {
    dir = tempDir('bpphp');
    cacheDir = path.join(dir.path, 'cache');
  });

  after(async () => {
    await removeAppsFromDocker([APP]);
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

    const { port } = await startRelease(result.image, APP);
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

    const { port } = await startRelease(result.image, APP);
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

    const { port } = await startRelease(result.image, APP);
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
    const { port } = await startRelease(result.image, APP);
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
