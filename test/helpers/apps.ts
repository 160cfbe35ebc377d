// Sample apps made by the tests themselves (no git host is reachable), and the
// real git client pushing them.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
}

/** A git repository holding the given files, committed on main. Values of type { symlink } become symlinks. */
export function makeRepo(dir: string, files: Record<string, string | { symlink: string }>): string {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFiles(dir, files);
  commitAll(dir, 'initial');
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string | { symlink: string }>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.rmSync(file, { force: true });
    if (typeof content === 'string') fs.writeFileSync(file, content);
    else fs.symlinkSync(content.symlink, file);
  }
}

export function commitAll(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

const SERVER_JS = `const http = require('http');
const ms = require('ms');
const greeting = require('./greeting');
http.createServer((req, res) => {
  res.end(greeting + ' ' + ms(60000) + ' ' + (process.env.NODE_ENV || '') + '\\n');
}).listen(process.env.PORT, () => console.log('listening on ' + process.env.PORT));
`;

let cachedLock: string | undefined;

/** package-lock.json for { ms }, made once with the host's npm (the registry is reachable). */
function lockfileFor(pkg: string): string {
  if (cachedLock) return cachedLock;
  const dir = fs.mkdtempSync('/tmp/shipoff-lock-');
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), pkg);
    execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, stdio: 'pipe' });
    cachedLock = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
    return cachedLock;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A Node app with a real npm dependency (ms) and a lockfile; it answers "<greeting> 1m production". */
export function nodeApp(greeting: string, extra: { scripts?: Record<string, string> } = {}): Record<string, string> {
  const pkg = (scripts: Record<string, string>): string =>
    JSON.stringify({ name: 'sample', version: '1.0.0', private: true, scripts: { start: 'node server.js', ...scripts }, dependencies: { ms: '2.1.3' } }, null, 2) + '\n';
  const lock = lockfileFor(pkg({}));
  return {
    'package.json': pkg(extra.scripts ?? {}),
    'package-lock.json': lock,
    'server.js': SERVER_JS,
    'greeting.js': `module.exports = ${JSON.stringify(greeting)};\n`,
  };
}

export interface PushResult {
  code: number | null;
  output: string;
  /** ms from the start of the push to each output line. */
  lines: Array<{ at: number; text: string }>;
  ms: number;
}

/** Runs `git push` (any args) and records when each line arrives. */
export function push(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, onLine?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<PushResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('git', ['push', ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const lines: PushResult['lines'] = [];
    let output = '';
    let partial = '';
    const onData = (b: Buffer): void => {
      const text = b.toString();
      output += text;
      partial += text;
      const parts = partial.split(/\r?\n|\r/);
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push({ at: Date.now() - started, text: line });
        onLine?.(line, child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, lines, ms: Date.now() - started }));
  });
}

/** GET through the router with a Host header. */
export function getVia(port: number, host: string, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

export function sshCommand(keyFile: string, port: number): string {
  return `ssh -i ${keyFile} -p ${port} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
}
