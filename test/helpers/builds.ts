// What the buildpack tests share: a commit to build, buildRelease() with its
// output collected, the checks on the outcome, running the release image,
// HTTP to it, and removing what the tests left in Docker.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { isShipoffError } from '../../core/errors.js';
import { buildRelease, launchArgv, type BuildOptions, type BuildResult } from '../../buildpacks/index.js';
import { git } from './apps.js';

const run = promisify(execFile);

/** The Docker engine the tests build with and inspect images in. */
export const docker = new Docker();

/** One file of a commit: its text or bytes, a symlink, or an executable file. */
export type TreeEntry = string | Buffer | { symlink: string } | { executable: string };

/** A git repository at `dir` whose HEAD holds exactly `files` (an existing repository gets a new commit; its history stays). */
export function commitTree(dir: string, files: Record<string, TreeEntry>): void {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(path.join(dir, '.git'))) git(dir, 'init', '-q', '-b', 'main');
  for (const entry of fs.readdirSync(dir)) if (entry !== '.git') fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'string' || Buffer.isBuffer(content)) fs.writeFileSync(file, content);
    else if ('symlink' in content) fs.symlinkSync(content.symlink, file);
    else fs.writeFileSync(file, content.executable, { mode: 0o755 });
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'push', '--allow-empty');
}

/** `git archive --format=tar HEAD` of `repo`, exactly as gitd runs it: the tar a push hands to the build. */
export function archiveHead(repo: string): NodeJS.ReadableStream {
  return spawn('git', ['archive', '--format=tar', 'HEAD'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
}

/** A readSourceFile for buildRelease() that reads HEAD of `repo` (null when the file is not there), as the deployer does. */
export function headFileReader(repo: string): (file: string) => Promise<string | null> {
  return async (file) => {
    try {
      return execFileSync('git', ['show', `HEAD:${file}`], { cwd: repo, encoding: 'utf8', stdio: 'pipe' });
    } catch {
      return null;
    }
  };
}

/** What one build came to: its result or its error, and every output line. */
export interface Outcome {
  result?: BuildResult;
  error?: unknown;
  lines: string[];
  output: string;
}

/** buildRelease() options a test gives: app, version and cacheDir at least; onLine, if given, sees each line too. */
export type BuildRequest = Partial<BuildOptions> & Pick<BuildOptions, 'app' | 'version' | 'cacheDir'>;

/** Builds HEAD of `repo` with buildRelease() (source: a `git archive` stream unless `options.source` is given, no config vars unless `options.env`), never throwing. */
export async function buildHead(repo: string, options: BuildRequest): Promise<Outcome> {
  const lines: string[] = [];
  const outcome: Outcome = { lines, output: '' };
  try {
    outcome.result = await buildRelease({
      docker,
      env: {},
      ...options,
      source: options.source ?? archiveHead(repo),
      onLine: (line) => {
        lines.push(line);
        options.onLine?.(line);
      },
    });
  } catch (err) {
    outcome.error = err;
  }
  outcome.output = lines.join('\n');
  return outcome;
}

/** The build succeeded (else fail showing its output); returns its result. */
export function assertOk(outcome: Outcome): BuildResult {
  if (outcome.error) assert.fail(`build failed: ${String(outcome.error)}\n${outcome.output}`);
  return outcome.result!;
}

/** The build failed with the Shipoff error `code` whose message matches every pattern; returns the build output. */
export function assertFailsWith(outcome: Outcome, code: Parameters<typeof isShipoffError>[1], ...patterns: RegExp[]): string {
  assert.ok(isShipoffError(outcome.error, code), `expected ${code}, got ${String(outcome.error)}\n${outcome.output}`);
  for (const pattern of patterns) assert.match((outcome.error as Error).message, pattern);
  return outcome.output;
}

/** The build failed as a build (SHIPOFF_BUILD_FAILED) with a message matching every pattern; returns the build output. */
export function assertFailed(outcome: Outcome, ...patterns: RegExp[]): string {
  return assertFailsWith(outcome, 'SHIPOFF_BUILD_FAILED', ...patterns);
}

/** Ids of the containers labelled shipoff.app=`app` (and shipoff.role=`role` if given). */
export async function appContainers(app: string, role?: string): Promise<string[]> {
  const filters = ['--filter', `label=shipoff.app=${app}`, ...(role ? ['--filter', `label=shipoff.role=${role}`] : [])];
  const { stdout } = await run('docker', ['ps', '-aq', ...filters]);
  return stdout.split('\n').filter(Boolean);
}

/** Teardown: removes the containers and images labelled with each of `apps` (the tests' own, uniquely named apps). */
export async function removeAppsFromDocker(apps: string[]): Promise<void> {
  for (const app of apps) {
    const containers = await appContainers(app);
    if (containers.length > 0) await run('docker', ['rm', '-f', ...containers]).catch(() => undefined);
    const { stdout } = await run('docker', ['image', 'ls', '-q', '--filter', `label=shipoff.app=${app}`]);
    const images = [...new Set(stdout.split('\n').filter(Boolean))];
    if (images.length > 0) await run('docker', ['image', 'rm', '-f', ...images]).catch(() => undefined);
  }
}

/** Labels of a container the tests start: managed by Shipoff, and of `app` when given (so teardown finds it). */
function labelArgs(app?: string): string[] {
  return ['--label', 'com.shipoff.managed=true', ...(app ? ['--label', `shipoff.app=${app}`] : [])];
}

/** Runs a container of a release image once (labelled only when `app` is given) and returns its stdout as it is:
 * a string command runs as a one-off process does (launchArgv for `builder`), an array is the argv as given. */
export async function oneOff(image: string, command: string | string[], options: { app?: string; builder?: 'buildpack' | 'dockerfile' } = {}): Promise<string> {
  const argv = typeof command === 'string' ? launchArgv(command, options.builder) : command;
  const { stdout } = await run('docker', ['run', '--rm', ...(options.app ? labelArgs(options.app) : []), image, ...argv]);
  return stdout;
}

/** How serveRelease runs the image and what it asks first. */
export interface ServeOptions {
  /** Labels the container shipoff.app=<app>. */
  app?: string;
  /** The command of the process (launchArgv); default: the image's own Cmd. */
  command?: string;
  /** The PORT the process listens on inside the container. */
  port?: number;
  /** The first path to GET, retried until it answers. */
  path?: string;
  /** How many times to try it, 200 ms apart. */
  tries?: number;
}

/** Runs a release image detached with PORT as the platform runs web, GETs `path` with curl inside it until it answers,
 * hands the body and a GET for more paths to `use`, removes the container, and returns the body. */
export async function serveRelease(image: string, options: ServeOptions = {}, use?: (body: string, get: (path: string) => Promise<string>) => Promise<void>): Promise<string> {
  const { port = 5000, tries = 50 } = options;
  const name = `${options.app ?? 'shipoff-test'}-web-${Math.random().toString(36).slice(2, 8)}`;
  await run('docker', ['run', '-d', '--name', name, ...labelArgs(options.app), '-e', `PORT=${port}`, image, ...(options.command ? launchArgv(options.command) : [])]);
  try {
    const get = (urlPath: string) => run('docker', ['exec', name, 'curl', '-sf', `http://127.0.0.1:${port}${urlPath}`]).then((r) => r.stdout, () => '');
    let body = '';
    for (let i = 0; i < tries && !body; i++) {
      body = await get(options.path ?? '/');
      if (!body) await new Promise((r) => setTimeout(r, 200));
    }
    if (!body) {
      const logs = await run('docker', ['logs', name]).then((r) => r.stdout + r.stderr, (e: Error) => e.message);
      assert.fail(`${image} did not answer on PORT; its output:\n${logs}`);
    }
    await use?.(body, get);
    return body;
  } finally {
    await run('docker', ['rm', '-f', name]).catch(() => undefined);
  }
}

/** Runs a release image's own command (its web process) with PORT published on 127.0.0.1; resolves once it answers.
 * The container stays for the test's teardown (it is labelled shipoff.app=`app`). */
export async function startRelease(image: string, app: string, port = 5000): Promise<{ port: number; name: string }> {
  const name = `${app}-web-${Math.random().toString(36).slice(2, 8)}`;
  await run('docker', ['run', '-d', '--name', name, ...labelArgs(app), '-e', `PORT=${port}`, '-p', `127.0.0.1::${port}`, image]);
  const { stdout } = await run('docker', ['port', name, String(port)]);
  const hostPort = Number(/:(\d+)\s*$/m.exec(stdout)?.[1]);
  for (let i = 0; i < 100; i++) {
    if (await request(hostPort, '/').then(() => true, () => false)) return { port: hostPort, name };
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = await run('docker', ['logs', name]).then((r) => r.stdout + r.stderr, () => '');
  throw new Error(`${image} never answered on port ${port}:\n${logs}`);
}

/** An HTTP answer with its body as bytes. */
export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request to 127.0.0.1:`port`, with the path sent exactly as given (http.request does not normalize it). */
export function request(port: number, requestPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: requestPath, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One GET (path sent as given) with the body as UTF-8 text. */
export async function get(port: number, requestPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const res = await request(port, requestPath);
  return { ...res, body: res.body.toString('utf8') };
}

/** A request line written to the socket as it is (NUL, backslashes, anything); the whole answer as latin1 text. */
export function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(`${requestLine}\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(requestLine)}`)));
  });
}
