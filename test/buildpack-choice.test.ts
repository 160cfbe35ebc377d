// Which buildpacks build an app: detection order, BUILDPACK_URL, a
// `.buildpacks` file running several in sequence, third-party buildpacks from
// a local git repository or a host directory, and Dockerfile builds. Real
// Docker, the real stack image, real git clones; no mocks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IMAGE_DEFAULT_COMMAND, launchArgv, stackImageRef, type BuildOptions } from '../buildpacks/index.js';
import { git } from './helpers/apps.js';
import {
  appContainers,
  archiveHead,
  assertFailsWith,
  assertOk,
  buildHead,
  commitTree,
  docker,
  headFileReader,
  oneOff,
  removeAppsFromDocker,
  serveRelease,
  type Outcome,
} from './helpers/builds.js';
import { tempDir } from './helpers/temp.js';

const APP = `bpchoice-${process.pid}-${Date.now().toString(36)}`;

/** Builds HEAD of `repo` the way the deployer does: a source factory (git
 * archive, again for a Dockerfile build) and files read from the commit. */
function build(repo: string, version: number, options: Partial<BuildOptions> = {}): Promise<Outcome> {
  return buildHead(repo, {
    app: APP,
    version,
    cacheDir: path.join(scratch.path, 'cache'),
    localBuildpacksDir: buildpacksDir,
    source: () => archiveHead(repo),
    readSourceFile: headFileReader(repo),
    ...options,
  });
}

let scratch: ReturnType<typeof tempDir>;
let buildpacksDir: string;

/** A third-party buildpack in the Heroku contract, as a git repository. */
function hellopack(): Record<string, string> {
  return {
    // Committed without the executable bit: the fetch makes bin/* executable.
    'bin/detect': '#!/usr/bin/env bash\n[[ -f "$1/hello.txt" ]] && echo "Hello" && exit 0\nexit 1\n',
    'bin/compile': [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'echo "-----> Installing the hello tool"',
      'mkdir -p "$1/bin" "$1/.profile.d"',
      'printf \'#!/bin/sh\\necho "hello, $(cat /app/hello.txt)"\\n\' > "$1/bin/hello"',
      'chmod +x "$1/bin/hello"',
      'echo \'export PATH="/app/bin:$PATH"\' > "$1/.profile.d/hello.sh"',
      'echo "       version $(cat "$(dirname "$0")/../VERSION")"',
      '',
    ].join('\n'),
    'bin/release': '#!/usr/bin/env bash\nprintf -- "---\\ndefault_process_types:\\n  web: hello\\n"\n',
    VERSION: 'one\n',
  };
}

describe('choosing buildpacks (real Docker, real git)', { timeout: 300_000 }, () => {
  let app: string;
  let hellopackRepo: string;

  before(() => {
    scratch = tempDir('bpchoice');
    buildpacksDir = path.join(scratch.path, 'buildpacks');
    app = path.join(scratch.path, 'app');
    hellopackRepo = path.join(buildpacksDir, 'hellopack');
    commitTree(hellopackRepo, hellopack());
    git(hellopackRepo, 'tag', 'v1');
    fs.writeFileSync(path.join(hellopackRepo, 'VERSION'), 'two\n');
    git(hellopackRepo, 'commit', '-qam', 'two');
  });

  after(async () => {
    await removeAppsFromDocker([APP]);
    scratch?.remove();
  });

  it('BUILDPACK_URL names one of ours, and it wins over detection', async () => {
    commitTree(app, { 'package.json': '{"name":"x"}', 'index.html': '<h1>static wins</h1>' });
    const outcome = await build(app, 1, { env: { BUILDPACK_URL: 'heroku/static' } });
    const result = assertOk(outcome);
    assert.equal(result.buildpack, 'Static site');
    assert.doesNotMatch(outcome.output, /Node\.js/);
  });

  it('a chosen buildpack that does not detect the app fails with a clear error', async () => {
    commitTree(app, { 'index.html': '<h1>no node here</h1>' });
    const outcome = await build(app, 2, { env: { BUILDPACK_URL: 'nodejs' } });
    assertFailsWith(outcome, 'SHIPOFF_BUILDPACK_NOT_DETECTED', /Node\.js \(chosen by BUILDPACK_URL\) does not detect this app/);
    assert.deepEqual(await appContainers(APP), []);
  });

  it('a third-party buildpack from a local git repository, at a tag', async () => {
    commitTree(app, { 'hello.txt': 'world' });
    const outcome = await build(app, 3, { env: { BUILDPACK_URL: `${hellopackRepo}#v1` } });
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Fetching buildpack .*hellopack#v1$/m);
    assert.match(outcome.output, /^-----> Hello app detected$/m);
    assert.match(outcome.output, /^ {7}version one$/m, 'the tag, not the branch head');
    assert.deepEqual(result.processTypes, { web: 'hello' });
    assert.equal((await oneOff(result.image, 'hello')).trim(), 'hello, world');
  });

  it('a .buildpacks file runs several in order; later ones see earlier ones and add process types', async () => {
    const second = path.join(buildpacksDir, 'greeter');
    fs.mkdirSync(path.join(second, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(second, 'bin/detect'), '#!/usr/bin/env bash\necho Greeter\n', { mode: 0o755 });
    // `hello` is on PATH only through the first buildpack's .profile.d.
    fs.writeFileSync(path.join(second, 'bin/compile'), '#!/usr/bin/env bash\nset -e\necho "-----> Greeter sees: $(hello)"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(second, 'bin/release'), '#!/usr/bin/env bash\nprintf -- "---\\ndefault_process_types:\\n  worker: hello\\n"\n', { mode: 0o755 });
    commitTree(app, { 'hello.txt': 'multi', '.buildpacks': `# run in order\n${hellopackRepo}\n\n${second}\n` });
    const outcome = await build(app, 4);
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Buildpack 1 of 2: Hello$/m);
    assert.match(outcome.output, /^-----> Buildpack 2 of 2: Greeter$/m);
    assert.match(outcome.output, /^ {7}version two$/m, 'no #ref: the default branch');
    assert.match(outcome.output, /^-----> Greeter sees: hello, multi$/m);
    assert.equal(result.buildpack, 'Hello,Greeter');
    assert.deepEqual(result.processTypes, { web: 'hello', worker: 'hello' });
  });

  it('refuses buildpack paths outside the buildpacks directory and references that are not buildpacks, before any container', async () => {
    commitTree(app, { 'index.html': 'x' });
    const outside = path.join(scratch.path, 'outside');
    fs.mkdirSync(path.join(outside, 'bin'), { recursive: true });
    for (const ref of ['/etc', `${buildpacksDir}/../outside`, 'file:///etc', 'ext::sh -c id', '-uupload-pack=touch /tmp/x', 'heroku/ruby', `${hellopackRepo}#--upload-pack=x`, 'https://example.com/x y']) {
      const outcome = await build(app, 5, { env: { BUILDPACK_URL: ref } });
      assertFailsWith(outcome, 'SHIPOFF_BUILDPACK_INVALID');
      assert.match((outcome.error as Error).message, /BUILDPACK_URL names/, ref);
    }
    // A symlink inside the directory that points out of it is outside too.
    fs.symlinkSync(outside, path.join(buildpacksDir, 'sneaky'));
    assertFailsWith(await build(app, 5, { env: { BUILDPACK_URL: path.join(buildpacksDir, 'sneaky') } }), 'SHIPOFF_BUILDPACK_INVALID', /must be under/);
    assert.deepEqual(await appContainers(APP), []);
  });

  it('a git URL that cannot be fetched fails with SHIPOFF_BUILDPACK_FETCH, and a repository without bin/compile is refused', async () => {
    commitTree(app, { 'index.html': 'x' });
    assertFailsWith(await build(app, 6, { env: { BUILDPACK_URL: 'git://127.0.0.1:1/nothing.git' } }), 'SHIPOFF_BUILDPACK_FETCH', /git:\/\/127\.0\.0\.1:1\/nothing\.git/);
    const notAPack = path.join(buildpacksDir, 'not-a-pack');
    commitTree(notAPack, { 'README.md': 'no bin here' });
    assertFailsWith(await build(app, 6, { env: { BUILDPACK_URL: notAPack } }), 'SHIPOFF_BUILDPACK_INVALID', /no bin\/detect or bin\/compile/);
  });

  it('a repository with a Dockerfile and no other match is built by the Docker engine', async () => {
    commitTree(app, {
      Dockerfile: `FROM ${stackImageRef()}\nCOPY server.js /srv/server.js\nRUN echo "built at step three"\nCMD ["node", "/srv/server.js"]\n`,
      'server.js': "require('http').createServer((q, s) => s.end('from a Dockerfile on ' + process.env.PORT)).listen(process.env.PORT);\n",
    });
    const outcome = await build(app, 7);
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Dockerfile app detected$/m);
    assert.match(outcome.output, /^-----> Step 3\/\d+ : RUN echo "built at step three"$/m);
    assert.match(outcome.output, /^ {7}built at step three$/m);
    assert.equal(result.builder, 'dockerfile');
    assert.deepEqual(result.processTypes, { web: IMAGE_DEFAULT_COMMAND });
    const labels = (await docker.getImage(result.image).inspect()).Config.Labels ?? {};
    assert.equal(labels['com.shipoff.managed'], 'true');
    assert.equal(labels['shipoff.app'], APP);
    assert.equal(labels['shipoff.buildpack'], 'Dockerfile');
    assert.deepEqual(launchArgv(IMAGE_DEFAULT_COMMAND, 'dockerfile'), []);
    // The image's own CMD serves HTTP.
    assert.equal(await serveRelease(result.image, { port: 5050 }), 'from a Dockerfile on 5050');
    assert.deepEqual(await appContainers(APP), []);
  });

  it('a Dockerfile app with a Procfile runs its commands with /bin/sh; a failing step rejects the build', async () => {
    commitTree(app, { Dockerfile: `FROM ${stackImageRef()}\nCMD ["true"]\n`, Procfile: 'worker: echo "worker $0"\n' });
    const result = assertOk(await build(app, 8));
    assert.deepEqual(result.processTypes, { web: IMAGE_DEFAULT_COMMAND, worker: 'echo "worker $0"' });
    assert.equal((await oneOff(result.image, result.processTypes.worker!, { builder: 'dockerfile' })).trim(), 'worker /bin/sh');

    commitTree(app, { Dockerfile: `FROM ${stackImageRef()}\nRUN echo "about to fail" && exit 7\n` });
    const failed = await build(app, 9);
    assertFailsWith(failed, 'SHIPOFF_DOCKERFILE_BUILD', /returned a non-zero code: 7[\s\S]*about to fail/);
    await assert.rejects(docker.getImage(`shipoff/${APP}:v9`).inspect(), 'no image for a failed build');
  });

  it('a symlink that leads out of the app is refused with a clear error, and no container is left', async () => {
    commitTree(app, { 'index.html': 'x' });
    fs.symlinkSync('../..', path.join(app, 'up'));
    git(app, 'add', '-A');
    git(app, 'commit', '-qm', 'link out');
    const outcome = await build(app, 11);
    assertFailsWith(outcome, 'SHIPOFF_UNSAFE_SYMLINK', /points outside the app \(up -> \.\.\/\.\.\)/);
    assert.deepEqual(await appContainers(APP), []);
  });

  it('nothing matches: the error lists what was looked for and what was found', async () => {
    commitTree(app, { 'README.md': '# hi', 'notes.txt': 'x', 'src/main.rs': 'fn main() {}' });
    const outcome = await build(app, 10);
    assertFailsWith(outcome, 'SHIPOFF_NO_BUILDPACK', /looked for package\.json \(Node\.js\).*or a Dockerfile; found README\.md, notes\.txt, src\./);
    assert.match((outcome.error as Error).message, new RegExp(`config:set ${APP} BUILDPACK_URL=`));
  });
});
