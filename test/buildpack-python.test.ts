// The Python buildpack through buildRelease(): real Docker, the real stack
// image and real pip, against a package index these tests build and serve
// themselves (helpers/python-index.ts), since PyPI is unreachable. Each
// sample app is built, its release image run with launchArgv and PORT like the
// platform does, and its HTTP answer checked. No mocks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findRepoRoot, type BuildOptions, type BuildResult } from '../buildpacks/index.js';
import { makeRepo } from './helpers/apps.js';
import { assertFailsWith, assertOk, buildHead, docker, oneOff, removeAppsFromDocker, serveRelease, type Outcome } from './helpers/builds.js';
import { servePythonIndex, type BuiltWheel, type PythonIndex } from './helpers/python-index.js';
import { buildTestWheels, djangoApp, expectedBody, gunicornApp, pipenvApp, poetryApp, projectApp, requirementsApp, uvApp } from './helpers/python-samples.js';
import { tempDir } from './helpers/temp.js';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const APP = `bppy-${suffix}`;
const FAILING = `bppy-fail-${suffix}`;
const APPS = [APP, FAILING];

let dir: ReturnType<typeof tempDir>;
let wheels: BuiltWheel[];
let index: PythonIndex;
let repoCount = 0;
let version = 0;

/** Commits `files` to a fresh repository and builds it as `git archive` output, like a push. */
async function build(files: Record<string, string>, options: Partial<BuildOptions> & { cache: string }): Promise<Outcome> {
  const repo = makeRepo(path.join(dir.path, `repo-${++repoCount}`), files);
  return buildHead(repo, { app: APP, version: ++version, cacheDir: path.join(dir.path, 'cache', options.cache), env: index.env, ...options });
}

/** The build failed as a build (not as a platform error), showing `message`. */
function assertFailed(outcome: Outcome, message: RegExp): void {
  assert.match(assertFailsWith(outcome, 'SHIPOFF_BUILD_FAILED'), message);
  assert.doesNotMatch(outcome.output, /Traceback/, 'a message, not a Python traceback');
}

/** Runs the release image as the platform does (PORT, launchArgv(command),
 * or the image's own Cmd when no command is given) and returns GET / from inside. */
function serve(image: string, command?: string): Promise<string> {
  return serveRelease(image, { app: APP, command, tries: 75 });
}

/** Wheel downloads from the index since request number `from`. */
function downloadsSince(from: number): string[] {
  return index.requests.slice(from).filter((p) => p.startsWith('/files/'));
}

describe('Python buildpack (real Docker, stack image, pip, a local package index)', { timeout: 900_000 }, () => {
  let firstBuild: BuildResult;

  before(async () => {
    dir = tempDir('buildpack-python');
    wheels = buildTestWheels(path.join(dir.path, 'wheels'));
    index = await servePythonIndex(wheels);
  });

  after(async () => {
    await removeAppsFromDocker(APPS);
    await index?.close();
    dir?.remove();
  });

  it('builds a requirements.txt app into a virtualenv, with config vars reaching pip', async () => {
    const from = index.requests.length;
    // PATH is a config var the build must not take over (it would lose python3).
    const outcome = await build(requirementsApp(), { cache: 'requirements', env: { ...index.env, PATH: '/nonexistent' } });
    firstBuild = assertOk(outcome);
    console.log(`requirements.txt, first build: ${firstBuild.durationMs} ms`);
    assert.match(outcome.output, /^-----> Python app detected$/m);
    assert.match(outcome.output, /^-----> Using the stack's Python 3\.11\.\d+$/m);
    assert.match(outcome.output, /^ {7}Installing requirements\.txt with pip$/m);
    assert.match(outcome.output, /^-----> Creating virtualenv$/m);
    assert.match(outcome.output, /^ {7}Successfully installed shipoff-colors-2\.0\.0 shipoff-greeting-1\.0\.0$/m, 'pip output, indented');
    assert.match(outcome.output, /^-----> Caching the virtualenv$/m);
    assert.doesNotMatch(outcome.output, /^ ! /m, 'no warnings');
    assert.equal(firstBuild.buildpack, 'Python');
    assert.deepEqual(firstBuild.processTypes, { web: 'python app.py' });
    assert.deepEqual(downloadsSince(from).sort(), ['/files/shipoff_colors-2.0.0-py3-none-any.whl', '/files/shipoff_greeting-1.0.0-py3-none-any.whl'], 'pip used the configured index');

    const image = await docker.getImage(firstBuild.image).inspect();
    assert.doesNotMatch((image.Config.Env ?? []).join('\n'), /PIP_INDEX_URL|PIP_TRUSTED_HOST|PIP_CERT|nonexistent/, 'no config or build-only variables baked in');
    assert.equal(await serve(firstBuild.image, 'python app.py'), expectedBody('requirements'));
    const where = await oneOff(firstBuild.image, 'command -v python; python -c "import shipoff_greeting, sys; print(sys.prefix, sys.version_info[:2] == (3, 11))"; echo "$PYTHONUNBUFFERED"', { app: APP });
    assert.equal(where, '/app/.heroku/python/bin/python\n/app/.heroku/python True\ntrue\n');
  });

  it('restores the cached virtualenv on a re-push with unchanged requirements', async () => {
    const from = index.requests.length;
    const outcome = await build(requirementsApp('requirements again'), { cache: 'requirements' });
    const second = assertOk(outcome);
    console.log(`requirements.txt, second build (cache): ${second.durationMs} ms (first: ${firstBuild.durationMs} ms)`);
    assert.match(outcome.output, /^-----> Restoring cache$/m);
    assert.match(outcome.output, /Requirement already satisfied: shipoff-greeting==1\.0\.0/);
    assert.doesNotMatch(outcome.output, /Creating virtualenv|Caching the virtualenv/);
    assert.deepEqual(downloadsSince(from), [], 'nothing downloaded');
    assert.ok(second.durationMs < firstBuild.durationMs, 'the cached build is faster');
    assert.equal(await serve(second.image, 'python app.py'), expectedBody('requirements again'));
  });

  it('installs from poetry.lock with pip: main group only, markers evaluated, hashes checked', async () => {
    const outcome = await build(poetryApp(wheels), { cache: 'poetry' });
    const result = assertOk(outcome);
    console.log(`poetry.lock: ${result.durationMs} ms`);
    assert.match(outcome.output, /Installing from poetry\.lock with pip \(poetry itself is not installed\)/);
    assert.match(outcome.output, /2 pinned packages of the app's main dependencies, no dev dependencies, hashes checked/);
    assert.doesNotMatch(outcome.output, /shipoff-devtool|shipoff-winonly/);
    assert.equal(await serve(result.image, 'python app.py'), expectedBody('poetry'));
  });

  it('installs from uv.lock with pip, and accepts .python-version 3.11', async () => {
    const outcome = await build({ ...uvApp(wheels, index.url), '.python-version': '# pyenv and uv read this\n3.11\n' }, { cache: 'uv' });
    const result = assertOk(outcome);
    console.log(`uv.lock: ${result.durationMs} ms`);
    assert.match(outcome.output, /Installing from uv\.lock with pip \(uv itself is not installed\)/);
    assert.match(outcome.output, /\.python-version: Python 3\.11 requested, Python 3\.11\.\d+ used/);
    assert.doesNotMatch(outcome.output, /shipoff-devtool|shipoff-winonly|uv-sample/);
    assert.equal(await serve(result.image, 'python app.py'), expectedBody('uv'));
  });

  it('installs from Pipfile.lock with pip; another 3.11 patch release in runtime.txt only warns', async () => {
    const outcome = await build({ ...pipenvApp(wheels), 'runtime.txt': 'python-3.11.99\n' }, { cache: 'pipenv' });
    const result = assertOk(outcome);
    assert.match(outcome.output, /Installing from Pipfile\.lock with pip \(pipenv itself is not installed\)/);
    assert.match(outcome.output, /^ ! {5}runtime\.txt asks for Python 3\.11\.99; the stack's Python 3\.11\.\d+ is used/m);
    assert.equal(await serve(result.image, 'python app.py'), expectedBody('pipenv'));
  });

  it('installs a pyproject.toml project (no lockfile) with pip', async () => {
    const outcome = await build(projectApp(), { cache: 'project' });
    const result = assertOk(outcome);
    assert.match(outcome.output, /Installing the project in pyproject\.toml with pip/);
    assert.match(outcome.output, /Successfully installed project-sample-0\.1\.0 shipoff-colors-2\.0\.0 shipoff-greeting-1\.0\.0/);
    assert.equal(await serve(result.image, 'python app.py'), expectedBody('project'));
  });

  it('defaults web to gunicorn when gunicorn is a dependency and app.py has a WSGI app', async () => {
    const outcome = await build(gunicornApp(), { cache: 'gunicorn' });
    const result = assertOk(outcome);
    assert.deepEqual(result.processTypes, { web: 'gunicorn app:app --bind 0.0.0.0:$PORT' });
    assert.match(outcome.output, /Default types for buildpack -> web/);
    assert.doesNotMatch(outcome.output, /No web process/);
    // No command: the image's own Cmd, as the platform runs web.
    assert.equal(await serve(result.image), expectedBody('wsgi'));
  });

  it('runs collectstatic for a Django app and defaults web to its wsgi module', async () => {
    const outcome = await build(djangoApp(), { cache: 'django' });
    const result = assertOk(outcome);
    assert.match(outcome.output, /^-----> Running python manage\.py collectstatic --noinput$/m);
    assert.match(outcome.output, /^ {7}1 static file copied to staticfiles$/m);
    assert.deepEqual(result.processTypes, { web: 'gunicorn mysite.wsgi:application --bind 0.0.0.0:$PORT' });
    assert.equal(await oneOff(result.image, 'cat staticfiles/site.css', { app: APP }), 'body {}\n', 'collected files are in the image');
    assert.equal(await serve(result.image), expectedBody('django'));
  });

  it('fails when collectstatic fails, pointing at DISABLE_COLLECTSTATIC; which skips it', async () => {
    const failing = await build(djangoApp('django', { failCollectstatic: true }), { app: FAILING, cache: 'django' });
    assertFailed(failing, /^ ! {5}python manage\.py collectstatic --noinput failed/m);
    assert.match(failing.output, /collectstatic: STATIC_ROOT is not set/);
    assert.match(failing.output, /DISABLE_COLLECTSTATIC=1/);
    const skipped = await build(djangoApp('django', { failCollectstatic: true }), { cache: 'django', env: { ...index.env, DISABLE_COLLECTSTATIC: '1' } });
    assertOk(skipped);
    assert.match(skipped.output, /DISABLE_COLLECTSTATIC=1: skipping manage\.py collectstatic/);
  });

  it('warns when there is no web process: no Procfile and no WSGI app for gunicorn', async () => {
    const files = requirementsApp();
    delete files.Procfile;
    const outcome = await build(files, { cache: 'requirements' });
    const result = assertOk(outcome);
    assert.deepEqual(result.processTypes, {});
    assert.match(outcome.output, /^ ! {5}No web process: the Procfile has no `web:` line and gunicorn is not among the dependencies\.$/m);
    assert.match(outcome.output, /^ ! {5} {2}web: python app\.py$/m);
  });

  it('fails when runtime.txt asks for a Python the stack does not have', async () => {
    const outcome = await build({ ...requirementsApp(), 'runtime.txt': 'python-3.12.1\n' }, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}runtime\.txt asks for Python 3\.12\.1, which this stack does not have\.$/m);
    assert.match(outcome.output, /^ ! {5}Available: Python 3\.11 \(exactly 3\.11\.\d+\)/m);
    assert.match(outcome.output, /^ ! {5}Fix: change runtime\.txt to python-3\.11/m);
    assert.doesNotMatch(outcome.output, /Installing|pip install/, 'fails before installing anything');
  });

  it("fails when pyproject.toml's requires-python excludes the stack's Python", async () => {
    const files = uvApp(wheels, index.url);
    files['pyproject.toml'] = files['pyproject.toml']!.replace('requires-python = ">=3.11"', 'requires-python = ">=3.12"');
    const outcome = await build(files, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}pyproject\.toml requires Python \(requires-python = ">=3\.12"\) that this stack's Python 3\.11\.\d+ does not satisfy\.$/m);
    assert.match(outcome.output, /^ ! {5}Available: Python 3\.11/m);
  });

  it('fails when several package managers are in use, naming their files', async () => {
    const outcome = await build({ ...requirementsApp(), ...poetryApp(wheels) }, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}Several Python package managers' files were found:$/m);
    assert.match(outcome.output, /^ ! {7}requirements\.txt \(pip\)$/m);
    assert.match(outcome.output, /^ ! {7}poetry\.lock \(Poetry\)$/m);
    assert.match(outcome.output, /delete the others'/);
  });

  it('fails naming a requirement the index does not have', async () => {
    const files = { ...requirementsApp(), 'requirements.txt': 'shipoff-greeting==1.0.0\nshipoff-nonexistent==9.9\n' };
    const outcome = await build(files, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}requirements\.txt: "shipoff-nonexistent==9\.9" was not found on the package index http:\/\/[\d.]+:\d+\/simple\/\.$/m);
    assert.match(outcome.output, /PIP_INDEX_URL/);
  });

  it('explains that an untrusted plain-HTTP index needs PIP_TRUSTED_HOST', async () => {
    const outcome = await build(requirementsApp(), { app: FAILING, cache: 'failing', env: { PIP_INDEX_URL: index.url } });
    const host = index.trustedHost.replace(/:\d+$/, '');
    assertFailed(outcome, new RegExp(`^ ! {5}Fix: set the config var PIP_TRUSTED_HOST=${host.replace(/\./g, '\\.')} `, 'm'));
    assert.doesNotMatch(outcome.output, /was not found on the package index/, 'the cause, not its symptom');
  });

  it('fails when a Pipfile has no Pipfile.lock', async () => {
    const files = pipenvApp(wheels);
    delete files['Pipfile.lock'];
    const outcome = await build(files, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}Pipfile was found but Pipfile\.lock was not/m);
    assert.match(outcome.output, /^ ! {5}Run `pipenv lock` and commit Pipfile\.lock/m);
  });

  it('fails when a locked file does not match its hash', async () => {
    const files = poetryApp(wheels);
    const colors = wheels.find((w) => w.name === 'shipoff-colors')!;
    files['poetry.lock'] = files['poetry.lock']!.replace(colors.hash, `sha256:${'1'.repeat(64)}`);
    const outcome = await build(files, { app: FAILING, cache: 'failing' });
    assertFailed(outcome, /^ ! {5}poetry\.lock: a downloaded file does not match the hash in the lockfile/m);
  });
});

// lib/locked_requirements.py on its own, with the host's python3 (3.11+ for
// tomllib, pip for `packaging`): lockfile shapes the samples above do not use.
describe('locked_requirements.py', () => {
  const script = path.join(findRepoRoot(), 'buildpacks/python/lib/locked_requirements.py');
  let work: ReturnType<typeof tempDir>;
  before(() => (work = tempDir('locked-reqs')));
  after(() => work?.remove());

  function pins(manager: string, files: Record<string, string>): string[] {
    const app = fs.mkdtempSync(path.join(work.path, 'app-'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(app, name), text);
    return execFileSync('python3', [script, manager, app], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter(Boolean);
  }

  it('reads Poetry 2 lockfiles by their groups and markers', () => {
    const lock = `[[package]]
name = "a"
version = "1.0"
groups = ["main"]
files = []

[[package]]
name = "b"
version = "2.0"
groups = ["main", "dev"]
markers = {main = "sys_platform == 'linux'", dev = "sys_platform == 'win32'"}
files = []

[[package]]
name = "c"
version = "3.0"
groups = ["dev"]
files = []

[[package]]
name = "d"
version = "4.0"
groups = ["main"]
markers = "python_version < '3.0'"
files = []

[metadata]
lock-version = "2.1"
`;
    assert.deepEqual(pins('poetry', { 'pyproject.toml': '[project]\nname = "x"\n', 'poetry.lock': lock }), ['a==1.0', 'b==2.0']);
  });

  it('follows extras through a Poetry 1 graph and skips optional dependencies nobody asked for', () => {
    const lock = `[[package]]
name = "web"
version = "1.0"
files = [{file = "web-1.0.whl", hash = "sha256:aa"}]

[package.dependencies]
speedups = {version = "*", optional = true}
socks = {version = "*", optional = true}

[package.extras]
fast = ["speedups (>=1)"]

[[package]]
name = "speedups"
version = "1.1"
files = [{file = "speedups-1.1.whl", hash = "sha256:bb"}]

[[package]]
name = "socks"
version = "0.5"
files = [{file = "socks-0.5.whl", hash = "sha256:cc"}]
`;
    const pyproject = '[tool.poetry.dependencies]\npython = "^3.11"\nWeb = {version = "^1", extras = ["fast"]}\n';
    assert.deepEqual(pins('poetry', { 'pyproject.toml': pyproject, 'poetry.lock': lock }), ['speedups==1.1 --hash=sha256:bb', 'web==1.0 --hash=sha256:aa']);
  });

  it('leaves hashes out when some locked package has none (pip hash checking is all or nothing)', () => {
    const lock = JSON.stringify({ default: { a: { version: '==1', hashes: ['sha256:aa'] }, b: { version: '==2' }, c: { git: 'https://example.com/c.git', ref: 'abc123' } }, develop: { d: { version: '==4' } } });
    assert.deepEqual(pins('pipenv', { 'Pipfile.lock': lock }), ['a==1', 'b==2', 'c @ git+https://example.com/c.git@abc123']);
  });

  it('follows uv extras and optional dependencies; fails clearly on an unknown project', () => {
    const lock = `version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "httpx", extra = ["http2"] }]

[[package]]
name = "httpx"
version = "0.27.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://x/httpx.tar.gz", hash = "sha256:11" }

[package.optional-dependencies]
http2 = [{ name = "h2" }]
brotli = [{ name = "brotli" }]

[[package]]
name = "h2"
version = "4.1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/h2.whl", hash = "sha256:22" }]

[[package]]
name = "brotli"
version = "1.1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/brotli.whl", hash = "sha256:33" }]
`;
    assert.deepEqual(pins('uv', { 'pyproject.toml': '[project]\nname = "App"\n', 'uv.lock': lock }), ['h2==4.1.0 --hash=sha256:22', 'httpx==0.27.0 --hash=sha256:11']);
    assert.throws(() => pins('uv', { 'pyproject.toml': '[project]\nname = "other"\n', 'uv.lock': lock }), /uv\.lock has no entry for the project in pyproject\.toml \(other\)/);
  });
});
