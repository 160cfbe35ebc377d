// Every kind of app our promise names, pushed end to end: stock git over
// OpenSSH to a running host, built in real containers, answered through the
// router. Failures reject the push and leave the previous release serving.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stackImageRef } from '../buildpacks/index.js';
import { nodeApp } from './helpers/apps.js';
import { enginesApp, pnpmApp, spaApp, yarnApp } from './helpers/node-samples.js';
import { composerLock, PHP_FRONT_CONTROLLER, PHP_HELLO, PHP_UNMET_VERSION, PHP_WITH_DEPENDENCY } from './helpers/php-samples.js';
import { STATIC_SITE, STATIC_SPA } from './helpers/static-samples.js';
import { servePythonIndex, type PythonIndex } from './helpers/python-index.js';
import { buildTestWheels, expectedBody, requirementsApp } from './helpers/python-samples.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `b${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

function assertLive(r: { code: number | null; output: string }, app: string): void {
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, new RegExp(`remote: =====> ${app} v\\d+ is live`));
}

function assertRejected(r: { code: number | null; output: string }, message: RegExp): void {
  assert.notEqual(r.code, 0, r.output);
  assert.match(r.output, message);
  assert.match(r.output, /pre-receive hook declined/);
}

describe('git push builds every kind of app', { timeout: 900_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('pushbp');
  });

  after(async () => {
    await host?.close();
  });

  it('Node with yarn and pnpm: devDependencies build, are pruned, and the release answers', async () => {
    for (const [kind, files] of [['yarn', yarnApp()], ['pnpm', pnpmApp()]] as const) {
      const app = `${kind}-${run}`;
      const r = await host.pushApp(app, files);
      assertLive(r, app);
      assert.match(r.output, new RegExp(`remote: .*${kind} \\d+\\.\\d+\\.\\d+`), `the ${kind} version is printed`);
      const facts = JSON.parse((await host.get(app)).body) as Record<string, string>;
      assert.equal(facts.env, 'production');
      assert.equal(facts.ms, '1m');
      assert.equal(facts.devDependency, 'absent', 'devDependencies pruned');
    }
  });

  it('engines.node picks another Node.js than the default, and a re-push reuses the cache (output and time)', async () => {
    const app = `engines-${run}`;
    const first = await host.pushApp(app, enginesApp('22.x'));
    assertLive(first, app);
    assert.match(first.output, /remote: .*node 22\.\d+\.\d+ \(engines\.node: 22\.x\)/);
    assert.match(JSON.parse((await host.get(app)).body).node, /^v22\./);

    const files = enginesApp('22.x');
    files['server.js'] += '// a one-line change\n';
    const again = await host.pushApp(app, files);
    assertLive(again, app);
    assert.match(again.output, /remote: -----> Restoring cache/);
    assert.doesNotMatch(again.output, /remote: .*(npm ci|added \d+ package)/, 'nothing installed');
    console.log(`engines app: first push ${first.ms} ms, re-push ${again.ms} ms`);
    assert.ok(again.ms < first.ms, `the re-push (${again.ms} ms) is faster than the first (${first.ms} ms)`);

    const unsatisfiable = await host.pushApp(app, enginesApp('>=99'));
    assertRejected(unsatisfiable, /No Node\.js version matches engines\.node/);
    assert.match(JSON.parse((await host.get(app)).body).node, /^v22\./, 'the previous release keeps serving');
  });

  it('a Vite-style SPA is built by the Node.js buildpack and served from dist/ with a fallback', async () => {
    const app = `vite-${run}`;
    assertLive(await host.pushApp(app, spaApp()), app);
    const deep = await host.get(app, '/some/client/route');
    assert.equal(deep.status, 200);
    assert.match(deep.body, /<div id="app">/);
  });

  it('a Dockerfile app is built by the Docker engine and answers through the router', async () => {
    const app = `docker-${run}`;
    const r = await host.pushApp(app, {
      Dockerfile: `FROM ${stackImageRef()}\nWORKDIR /srv\nCOPY server.js .\nCMD ["node", "server.js"]\n`,
      'server.js': "require('http').createServer((q, s) => s.end('dockerfile ok\\n')).listen(process.env.PORT);\n",
    });
    assertLive(r, app);
    assert.match(r.output, /remote: -----> Dockerfile app detected/);
    assert.match(r.output, /remote: -----> Step 1\/\d+ : FROM /);
    assert.deepEqual(await host.get(app), { status: 200, body: 'dockerfile ok\n' });
  });

  it('a third-party buildpack from a local git repository, named in .buildpacks', async () => {
    const pack = path.join(host.dataDir, 'buildpacks', 'greeting-pack');
    fs.mkdirSync(path.join(pack, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(pack, 'bin/detect'), '#!/usr/bin/env bash\n[[ -f "$1/greeting" ]] && echo Greeting\n');
    fs.writeFileSync(path.join(pack, 'bin/compile'), '#!/usr/bin/env bash\necho "-----> Baking the greeting"\ntr a-z A-Z < "$1/greeting" > "$1/greeting.out"\n');
    fs.writeFileSync(path.join(pack, 'bin/release'), '#!/usr/bin/env bash\nprintf -- "---\\ndefault_process_types:\\n  web: python3 -m http.server \\"\\$PORT\\"\\n"\n');
    const g = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: pack, stdio: 'pipe' });
    g('init', '-q', '-b', 'main');
    g('add', '-A');
    g('commit', '-qm', 'buildpack');

    const app = `thirdparty-${run}`;
    const r = await host.pushApp(app, { greeting: 'hello from a buildpack\n', '.buildpacks': `${pack}\n` });
    assertLive(r, app);
    assert.match(r.output, /remote: -----> Fetching buildpack .*greeting-pack/);
    assert.match(r.output, /remote: -----> Baking the greeting/);
    assert.deepEqual(await host.get(app, '/greeting.out'), { status: 200, body: 'HELLO FROM A BUILDPACK\n' });

    // A .buildpacks naming a path outside the host's buildpacks directory is refused; v1 keeps serving.
    const refused = await host.pushApp(app, { greeting: 'changed\n', '.buildpacks': '/etc\n' });
    assertRejected(refused, /\.buildpacks names "\/etc", which is not a buildpack Shipoff can use: local buildpacks must be under/);
    assert.deepEqual(await host.get(app, '/greeting.out'), { status: 200, body: 'HELLO FROM A BUILDPACK\n' });
  });

  it('an undetectable repository is refused with what was looked for and found; a Node app then deploys to the same name', async () => {
    const app = `nothing-${run}`;
    const r = await host.pushApp(app, { 'README.md': '# nothing to run\n', 'main.go': 'package main\n' });
    assertRejected(r, /no buildpack matched: looked for package\.json \(Node\.js\).*found README\.md, main\.go/);
    const fixed = await host.pushApp(app, nodeApp('now node'));
    assertLive(fixed, app);
    assert.equal((await host.get(app)).body, 'now node 1m production\n');
  });

  it('PHP without dependencies, then with a composer path repository; an unmet PHP version keeps the old release', async () => {
    const app = `php-${run}`;
    const hello = await host.pushApp(app, PHP_HELLO);
    assertLive(hello, app);
    assert.match(hello.output, /remote: -----> PHP app detected/);
    const page = await host.get(app);
    assert.equal(page.status, 200);
    assert.match(page.body, /^Hello from PHP 8\.2/);
    assert.equal((await host.get(app, '/.env')).status, 404, 'dotfiles are not served');

    const withDependency = { ...PHP_WITH_DEPENDENCY, 'composer.lock': composerLock(PHP_WITH_DEPENDENCY, stackImageRef()) };
    const deps = await host.pushApp(app, withDependency);
    assertLive(deps, app);
    assert.match(deps.output, /remote: .*composer install/);
    const depPage = await host.get(app);
    assert.equal(depPage.status, 200, depPage.body);

    const unmet = await host.pushApp(app, PHP_UNMET_VERSION);
    assertRejected(unmet, /requires PHP ">=8\.3"/);
    assert.deepEqual(await host.get(app), depPage, 'the previous release keeps serving');
  });

  it('a PHP front controller answers every path through public/index.php', async () => {
    const app = `phpfc-${run}`;
    assertLive(await host.pushApp(app, PHP_FRONT_CONTROLLER), app);
    assert.match((await host.get(app, '/users/42')).body, /^route: \/users\/42\n/);
    assert.equal((await host.get(app, '/assets/site.css')).body, 'body { margin: 0; }\n');
    assert.doesNotMatch((await host.get(app, '/../src/secret.php')).body, /outside the docroot/);
  });

  it('a static site and a single-page app answer through the router', async () => {
    const site = `static-${run}`;
    const r = await host.pushApp(site, STATIC_SITE);
    assertLive(r, site);
    assert.match(r.output, /remote: -----> Static site app detected/);
    assert.match((await host.get(site)).body, /Hello from a static site/);
    assert.equal((await host.get(site, '/.env')).status, 404);

    const spa = `spa-${run}`;
    assertLive(await host.pushApp(spa, STATIC_SPA), spa);
    const deep = await host.get(spa, '/settings/profile');
    assert.equal(deep.status, 200);
    assert.match(deep.body, /single page app shell/, 'SPA fallback to index.html');
    assert.equal((await host.get(spa, '/src/main.js')).status, 200, 'outside the root: the fallback, not the file');
    assert.doesNotMatch((await host.get(spa, '/src/main.js')).body, /the source/);
  });

  describe('Python, from the tests\' own package index', () => {
    let index: PythonIndex;
    before(async () => {
      index = await servePythonIndex(buildTestWheels(path.join(host.scratch, 'wheels')));
    });
    after(async () => {
      await index?.close();
    });

    // No config vars yet: the index is named in requirements.txt, which pip reads too.
    const withIndex = (files: Record<string, string>): Record<string, string> => ({
      ...files,
      'requirements.txt': `--index-url ${index.url}\n--trusted-host ${index.trustedHost}\n${files['requirements.txt']}`,
    });

    it('installs a dependency with pip, answers, and reuses the virtualenv on a re-push; a missing package keeps the old release', async () => {
      const app = `python-${run}`;
      const first = await host.pushApp(app, withIndex(requirementsApp('first push')));
      assertLive(first, app);
      assert.match(first.output, /remote: -----> Python app detected/);
      assert.deepEqual(await host.get(app), { status: 200, body: expectedBody('first push') });

      const downloads = index.requests.filter((p) => p.endsWith('.whl')).length;
      const again = await host.pushApp(app, withIndex(requirementsApp('second push')));
      assertLive(again, app);
      assert.equal(index.requests.filter((p) => p.endsWith('.whl')).length, downloads, 'no wheel downloaded again');
      assert.deepEqual(await host.get(app), { status: 200, body: expectedBody('second push') });

      const missing = requirementsApp('never');
      missing['requirements.txt'] += 'shipoff-does-not-exist==1.0\n';
      assertRejected(await host.pushApp(app, withIndex(missing)), /shipoff-does-not-exist/);
      assert.deepEqual(await host.get(app), { status: 200, body: expectedBody('second push') });
    });
  });
});
