// The Node.js buildpack against the real Docker engine, the real stack image
// and the npm registry, through buildRelease(): npm, yarn classic, yarn
// berry, pnpm, engines.node, the dependency cache, Heroku's script order,
// static.json SPAs, and the errors a user can fix. No mocks.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildOptions, type BuildResult } from '../buildpacks/index.js';
import { assertFailed, assertOk, buildHead, commitTree, oneOff, removeAppsFromDocker, serveRelease, type Outcome } from './helpers/builds.js';
import { enginesApp, npmApp, pnpmApp, spaApp, yarnApp, yarnBerryApp, type FileMap } from './helpers/node-samples.js';
import { tempDir } from './helpers/temp.js';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const apps: string[] = [];
/** A DNS-label app name, remembered for cleanup. */
function appName(kind: string): string {
  const name = `bpnode-${kind}-${suffix}`;
  apps.push(name);
  return name;
}

let root: ReturnType<typeof tempDir>;

/** Pushes `files` as app `app` (its repo and cache live under the temp root). */
async function build(app: string, version: number, files: FileMap, extra: Partial<BuildOptions> = {}): Promise<Outcome> {
  const repo = path.join(root.path, 'repos', app);
  commitTree(repo, files);
  return buildHead(repo, { app, version, cacheDir: path.join(root.path, 'cache', app), ...extra });
}

/** Runs a command in the release image the way a process type runs. */
async function inImage(image: string, command: string): Promise<string> {
  return (await oneOff(image, command)).trim();
}

/** What the sample server reports, run from the image as `npm start` would. */
async function serverFacts(image: string): Promise<{ node: string; env: string; ms: string; devDependency: string }> {
  const script = `node -e "process.env.PORT='0'; const http=require('http'); const orig=http.createServer; http.createServer=(h)=>{const s=orig(h); s.once('listening',()=>{http.get('http://127.0.0.1:'+s.address().port+'/',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{console.log(b.trim());process.exit(0)})})}); return s}; require('./server.js')"`;
  return JSON.parse(await inImage(image, script));
}

describe('Node.js buildpack (real Docker, stack image, npm registry)', { timeout: 900_000 }, () => {
  before(() => {
    root = tempDir('buildpack-node');
  });

  after(async () => {
    await removeAppsFromDocker(apps);
    root?.remove();
  });

  describe('npm and the dependency cache', () => {
    const app = appName('npm');
    let first: BuildResult;

    it('builds with the default LTS node and the newest npm for it', async () => {
      const outcome = await build(app, 1, npmApp());
      first = assertOk(outcome);
      console.log(`npm app, first build: ${first.durationMs} ms`);
      assert.match(outcome.output, /^-----> Package manager: npm \(package-lock\.json\)$/m);
      assert.match(outcome.output, /^-----> Installing binaries$/m);
      const node = /^ {7}node (24\.\d+\.\d+) \(default: 24\.x\)$/m.exec(outcome.output);
      assert.ok(node, outcome.output);
      assert.match(outcome.output, /^ {7}npm 11\.\d+\.\d+ \(default: the newest npm 11\.x for node 24\./m);
      assert.match(outcome.output, /^-----> Cache: not restored \(no cache yet: the first build\)$/m);
      assert.match(outcome.output, /^ {7}running npm ci --omit=dev$/m);
      assert.match(outcome.output, /^-----> Caching node_modules$/m);
      assert.deepEqual(first.processTypes, { web: 'npm start' });
      const facts = await serverFacts(first.image);
      assert.deepEqual(facts, { node: `v${node[1]}`, env: 'production', ms: '1m', devDependency: 'absent' });
      assert.equal(await inImage(first.image, 'command -v node'), '/app/.heroku/node/bin/node');
    });

    it('restores node_modules and installs nothing when nothing changed', async () => {
      const files = npmApp();
      files['server.js'] += '// changed code, same dependencies\n';
      const outcome = await build(app, 2, files);
      const result = assertOk(outcome);
      console.log(`npm app, cached build: ${result.durationMs} ms (first: ${first.durationMs} ms)`);
      assert.match(outcome.output, /^-----> Restoring cache$/m);
      assert.match(outcome.output, /^ {7}node_modules: restored$/m);
      assert.match(outcome.output, /nothing to install \(node_modules from the cache matches package-lock\.json\)/);
      assert.doesNotMatch(outcome.output, /running npm ci/);
      assert.ok(result.durationMs < first.durationMs, 'the cached build is faster');
      assert.equal((await serverFacts(result.image)).ms, '1m');
    });

    it('NODE_MODULES_CACHE=false neither restores nor keeps the cache', async () => {
      const outcome = await build(app, 3, npmApp(), { env: { NODE_MODULES_CACHE: 'false' } });
      assertOk(outcome);
      assert.match(outcome.output, /^-----> Cache: not restored \(NODE_MODULES_CACHE=false\)$/m);
      assert.match(outcome.output, /^ {7}running npm ci --omit=dev$/m);
      assert.match(outcome.output, /^-----> Cache: not saved \(NODE_MODULES_CACHE=false\)$/m);
      const next = await build(app, 4, npmApp());
      assertOk(next);
      assert.match(next.output, /^-----> Cache: not restored \(no cache yet: the first build\)$/m, 'the old cache was dropped');
    });

    it('does not restore the cache when the lockfile changed, and says why', async () => {
      const files = enginesApp('24.x'); // another lockfile, same default node line
      const outcome = await build(app, 5, files);
      assertOk(outcome);
      assert.match(outcome.output, /^-----> Cache: not restored \(package-lock\.json changed\)$/m);
      assert.match(outcome.output, /^ {7}running npm ci/m);
    });
  });

  it('honours engines.node: the release runs the node it asked for', async () => {
    const app = appName('engines');
    const outcome = await build(app, 1, enginesApp('22.x'));
    const result = assertOk(outcome);
    const node = /^ {7}node (22\.\d+\.\d+) \(engines\.node: 22\.x\)$/m.exec(outcome.output);
    assert.ok(node, outcome.output);
    assert.equal((await serverFacts(result.image)).node, `v${node[1]}`);
    assert.equal(await inImage(result.image, 'node -p process.version'), `v${node[1]}`);
  });

  it('honours engines.npm and npm-shrinkwrap.json, and never takes PATH or LD_PRELOAD from the config', async () => {
    const app = appName('enginesnpm');
    const files = npmApp();
    const pkg = JSON.parse(files['package.json']!) as Record<string, unknown>;
    files['package.json'] = JSON.stringify({ ...pkg, engines: { npm: '10.x' } }, null, 2) + '\n';
    files['npm-shrinkwrap.json'] = files['package-lock.json']!;
    delete files['package-lock.json'];
    // Either of these, exported into the build, would break every command in it.
    const outcome = await build(app, 1, files, { env: { PATH: '/nowhere', LD_PRELOAD: '/nonexistent/evil.so' } });
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Package manager: npm \(npm-shrinkwrap\.json\)$/m);
    const npm = /^ {7}npm (10\.\d+\.\d+) \(engines\.npm: 10\.x\)$/m.exec(outcome.output);
    assert.ok(npm, outcome.output);
    assert.equal(await inImage(result.image, 'npm --version'), npm[1]);
    assert.equal((await serverFacts(result.image)).ms, '1m');
  });

  for (const [kind, files, manager, version, install] of [
    ['yarn', yarnApp, 'yarn \\(classic\\) \\(yarn\\.lock\\)', /^ {7}yarn 1\.22\.\d+ \(default: 1\.x\)$/m, /running yarn install --non-interactive --production=false --frozen-lockfile/],
    ['berry', yarnBerryApp, 'yarn \\(berry\\) \\(yarn\\.lock\\)', /^ {7}yarn 4\.18\.1 \(packageManager: yarn@4\.18\.1\)$/m, /running yarn install --immutable/],
    ['pnpm', pnpmApp, 'pnpm \\(pnpm-lock\\.yaml\\)', /^ {7}pnpm 10\.\d+\.\d+ \(default: 10\.x\)$/m, /running pnpm install --prod=false --frozen-lockfile/],
  ] as const) {
    it(`builds a ${kind} app: devDependencies for the build, pruned after; cached on the next push`, async () => {
      const app = appName(kind);
      const outcome = await build(app, 1, files());
      const result = assertOk(outcome);
      console.log(`${kind} app, first build: ${result.durationMs} ms`);
      assert.match(outcome.output, new RegExp(`^-----> Package manager: ${manager}$`, 'm'));
      assert.match(outcome.output, version);
      assert.match(outcome.output, install);
      assert.match(outcome.output, /^-----> Running build$/m);
      assert.match(outcome.output, /^ {7}build\.js wrote built\.txt$/m);
      assert.match(outcome.output, /^-----> Pruning devDependencies$/m);
      const facts = await serverFacts(result.image);
      assert.equal(facts.devDependency, 'absent', 'escape-html was pruned');
      assert.equal(facts.ms, '1m');
      assert.match(await inImage(result.image, 'cat built.txt'), /^&lt;built with v24\.\d+\.\d+ for production&gt;$/);
      const binary = kind === 'pnpm' ? 'pnpm' : 'yarn';
      assert.match(await inImage(result.image, `${binary} --version`), /^\d+\.\d+\.\d+$/, `${binary} is in the release`);

      const again = await build(app, 2, files());
      const cached = assertOk(again);
      console.log(`${kind} app, cached build: ${cached.durationMs} ms`);
      if (process.env.SHOW_OUTPUT) console.log(outcome.output, again.output);
      assert.match(again.output, /^-----> Restoring cache$/m);
      assert.match(again.output, /nothing to install/);
      assert.equal((await serverFacts(cached.image)).devDependency, 'absent');
    });
  }

  it('runs heroku-prebuild, heroku-postbuild (instead of build) and heroku-cleanup in order, with config NODE_ENV; honours cacheDirectories', async () => {
    const app = appName('scripts');
    const pkg = {
      name: 'scripts',
      version: '1.0.0',
      private: true,
      cacheDirectories: ['node_modules', '.build-cache'],
      scripts: {
        'heroku-prebuild': 'echo "step prebuild NODE_ENV=$NODE_ENV"',
        build: 'echo "step build (must not run)"',
        'heroku-postbuild': 'mkdir -p .build-cache && echo x >> .build-cache/runs && echo "step postbuild runs=$(wc -l < .build-cache/runs)"',
        'heroku-cleanup': 'echo "step cleanup"',
      },
    };
    const files = { 'package.json': JSON.stringify(pkg, null, 2) };
    const outcome = await build(app, 1, files, { env: { NODE_ENV: 'staging' } });
    assertOk(outcome);
    const steps = outcome.output.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('step '));
    assert.deepEqual(steps, ['step prebuild NODE_ENV=staging', 'step postbuild runs=1', 'step cleanup']);
    assert.match(outcome.output, /^ {7}running npm install --include=dev$/m);
    assert.match(outcome.output, /^-----> Caching node_modules \.build-cache$/m);

    const again = await build(app, 2, files);
    assertOk(again);
    assert.match(again.output, /^ {7}\.build-cache: restored$/m);
    assert.match(again.output, /step prebuild NODE_ENV=production/);
    assert.match(again.output, /step postbuild runs=2/, 'the cached directory came back');
  });

  it('serves a Vite-style SPA with static.json through the static server', async () => {
    const app = appName('spa');
    const outcome = await build(app, 1, spaApp());
    const result = assertOk(outcome);
    assert.match(outcome.output, /^ {7}built dist\/ \(assets\/index-[0-9a-f]{8}\.js\)$/m);
    assert.deepEqual(result.processTypes, { web: 'node .shipoff/static-server.js' });
    await serveRelease(result.image, { app, command: result.processTypes.web!, path: '/some/client/route' }, async (body, get) => {
      assert.match(body, /<title>sample spa &lt;built&gt;<\/title>/, 'the SPA fallback serves dist/index.html');
      const asset = /src="(\/assets\/index-[0-9a-f]{8}\.js)"/.exec(body)?.[1];
      assert.ok(asset, body);
      assert.match(await get(asset), /Hello from the sample SPA/);
    });
  });

  describe('errors a user can fix', () => {
    // One cache for all: the node download happens once.
    const app = appName('errors');
    let version = 0;
    const fail = async (files: FileMap) => assertFailed(await build(app, ++version, files));

    it('invalid JSON in package.json: names the file and the line', async () => {
      const output = await fail({ 'package.json': '{\n  "name": "broken",\n  "version": "1.0.0",,\n}\n' });
      assert.match(output, /^ !     package\.json is not valid JSON: .+ \(line 3, column \d+\)$/m);
      assert.match(output, /^ !     Fix package\.json/m);
    });

    it('several lockfiles: names them and says to keep one', async () => {
      const files = { ...npmApp(), 'yarn.lock': yarnApp()['yarn.lock']! };
      const output = await fail(files);
      assert.match(output, /^ !     Several lockfiles found: package-lock\.json yarn\.lock\.$/m);
      assert.match(output, /delete the others/);
    });

    it('an engines.node range no Node.js satisfies: names the range and the fix', async () => {
      const output = await fail(enginesApp('^99'));
      assert.match(output, /^ !     No Node\.js version matches engines\.node in package\.json: "\^99" \(newest available: \d+\.\d+\.\d+\)\.$/m);
      assert.match(output, /^ !     Change the range in package\.json/m);
    });

    it('a lockfile out of sync with package.json', async () => {
      const files = npmApp();
      files['package.json'] = files['package.json']!.replace('"ms": "2.1.3"', '"ms": "2.1.3",\n    "escape-html": "1.0.3"');
      const output = await fail(files);
      assert.match(output, /^ !     package-lock\.json is out of sync with package\.json/m);
      assert.match(output, /^ !     Run `npm install` locally, commit the updated package-lock\.json, and push again\.$/m);
    });

    it('a dependency that does not exist (E404): names it', async () => {
      const output = await fail({ 'package.json': JSON.stringify({ name: 'e404', version: '1.0.0', dependencies: { 'shipoff-no-such-package-e404': '1.0.0' } }) });
      assert.match(output, /^ !     The dependency shipoff-no-such-package-e404@1\.0\.0 does not exist in the npm registry \(E404\)\.$/m);
    });

    it('a failing build script: its name and exit status', async () => {
      const output = await fail({ 'package.json': JSON.stringify({ name: 'f', version: '1.0.0', scripts: { build: 'echo compiling-now && exit 3' } }) });
      assert.match(output, /compiling-now/);
      assert.match(output, /^ !     The "build" script in package\.json failed \(`npm run build` exited with status 3\)\.$/m);
    });
  });
});
