// The daemon's end of the pre-receive hook: a unix socket (mode 0600) that
// hooks connect to. Every git-receive-pack the daemon starts gets a one-time
// token in its environment that stands for the authenticated user and app;
// a hook presenting it gets its push handed to onPush, and the handler's
// output streamed back line by line.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type App, formatForTerminal, ShipoffError, type User } from '../core/index.js';
import type { PushHandler, RefUpdate } from './types.js';

/** What a git-receive-pack process may push, handed out before it starts. */
export interface PushTicket {
  /** Environment for the git-receive-pack process (and so for its hook). */
  env: { SHIPOFF_PUSH_TOKEN: string; SHIPOFF_HOOK_SOCKET: string };
  /** The pusher went away: cancel the push's handler. */
  abort(): void;
  /** The git process ended: the token is no longer valid. */
  close(): void;
}

interface Session {
  app: App;
  user: User;
  repo: string;
  appCreated: boolean;
  controller: AbortController;
  used: boolean;
  ended: Promise<void>;
}

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
// What git check-ref-format allows, roughly: no control characters, blanks or ~^:?*[\ and no "..".
const REF = /^refs\/[^\x00-\x20\x7f~^:?*[\\]+$/;
const GIT_VARIABLES = ['GIT_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH'] as const;
// Unix socket paths are limited to 108 bytes on Linux.
const MAX_SOCKET_PATH = 100;

export class HookServer {
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  private tempDir?: string;
  socketPath: string;

  constructor(
    dataDir: string,
    private readonly onPush: PushHandler,
    private readonly log: (line: string) => void,
  ) {
    this.socketPath = path.resolve(dataDir, 'run', 'gitd.sock');
  }

  async listen(): Promise<void> {
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH) {
      // The data directory is too deep for a socket path: use a private directory in /tmp.
      this.tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipoff-gitd-'));
      this.socketPath = path.join(this.tempDir, 'gitd.sock');
    } else {
      fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o700 });
      fs.rmSync(this.socketPath, { force: true }); // left by a daemon that did not stop cleanly
    }
    const server = net.createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(this.socketPath, 0o600);
    server.on('error', (err) => this.log(`gitd: hook socket: ${err.message}`));
    this.server = server;
  }

  ticket(app: App, user: User, repo: string, appCreated: boolean): PushTicket {
    const token = crypto.randomBytes(32).toString('base64url');
    let markEnded = (): void => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const session: Session = { app, user, repo, appCreated, controller: new AbortController(), used: false, ended };
    this.sessions.set(token, session);
    return {
      env: { SHIPOFF_PUSH_TOKEN: token, SHIPOFF_HOOK_SOCKET: this.socketPath },
      abort: () => session.controller.abort(),
      close: () => {
        this.sessions.delete(token);
        session.controller.abort();
        markEnded();
      },
    };
  }

  async close(): Promise<void> {
    for (const session of this.sessions.values()) session.controller.abort();
    this.sessions.clear();
    // Pushes' ended promises settle as their git processes exit (ticket.close).
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
    if (this.tempDir) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) {
        if (buffered.length > MAX_MESSAGE_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onData);
      void this.runPush(socket, buffered.slice(0, newline));
    };
    socket.on('data', onData);
  }

  private async runPush(socket: net.Socket, text: string): Promise<void> {
    let finished = false;
    const send = (message: object): void => {
      if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(message) + '\n');
    };
    const output = (line: string): void => send({ line: String(line) });
    let session: Session | undefined;
    let accept = false;
    try {
      const message = parseMessage(text);
      session = this.sessions.get(message.token);
      if (!session) throw new ShipoffError('SHIPOFF_HOOK_UNAUTHORIZED', { reason: 'unknown or expired push token' });
      if (session.used) throw new ShipoffError('SHIPOFF_HOOK_UNAUTHORIZED', { reason: 'the push token was used already' });
      session.used = true;
      const { controller } = session;
      socket.on('close', () => {
        // The hook died (Ctrl-C on the client kills its process group) before it had an answer.
        if (!finished) controller.abort();
      });
      const updates = message.updates.map(parseUpdate);
      const gitEnv = quarantineEnv(message.env, message.cwd, session.repo);
      if (session.appCreated) output(`-----> Creating app ${session.app.name}`);
      const result = await this.onPush({
        app: session.app,
        user: session.user,
        updates,
        gitDir: session.repo,
        gitEnv,
        output,
        signal: controller.signal,
        appCreated: session.appCreated,
        ended: session.ended,
      });
      accept = result.accept === true && !controller.signal.aborted;
    } catch (err) {
      if (!(err instanceof ShipoffError)) this.log(`gitd: push ${session ? `to ${session.app.name} by ${session.user.name} ` : ''}failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      output(formatForTerminal(err));
      accept = false;
    } finally {
      finished = true;
    }
    if (!socket.destroyed) socket.end(JSON.stringify({ accept }) + '\n');
  }
}

interface HookMessage {
  token: string;
  updates: string[];
  env: Record<string, string>;
  cwd: string;
}

function badHook(reason: string): ShipoffError {
  return new ShipoffError('SHIPOFF_HOOK_UNAUTHORIZED', { reason });
}

function parseMessage(text: string): HookMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badHook('the hook sent something that is not JSON');
  }
  const m = value as Partial<HookMessage> | null;
  if (
    !m ||
    typeof m.token !== 'string' ||
    typeof m.cwd !== 'string' ||
    !Array.isArray(m.updates) ||
    !m.updates.every((u) => typeof u === 'string') ||
    typeof m.env !== 'object' ||
    m.env === null ||
    !Object.values(m.env).every((v) => typeof v === 'string')
  ) {
    throw badHook('the hook sent a malformed message');
  }
  return m as HookMessage;
}

function parseUpdate(line: string): RefUpdate {
  const [oldSha = '', newSha = '', ref = '', ...rest] = line.trim().split(' ');
  if (rest.length > 0 || !SHA.test(oldSha) || !SHA.test(newSha) || !REF.test(ref) || ref.includes('..')) {
    throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: `git sent a ref update that is not "OLD NEW refs/…": ${JSON.stringify(line.slice(0, 200))}` });
  }
  return { oldSha, newSha, ref };
}

/**
 * The hook's GIT_* variables made absolute and checked to point inside the
 * push's own repository (real paths, so symlinks cannot lead out of it).
 */
export function quarantineEnv(env: Record<string, string>, cwd: string, repo: string): Record<string, string> {
  const realRepo = fs.realpathSync(repo);
  const inside = (value: string, what: string): string => {
    let real: string;
    try {
      real = fs.realpathSync(path.resolve(cwd, value));
    } catch {
      throw badHook(`${what} ${JSON.stringify(value)} does not exist`);
    }
    if (real !== realRepo && !real.startsWith(realRepo + path.sep)) throw badHook(`${what} points outside the repository`);
    return real;
  };
  if (!path.isAbsolute(cwd)) throw badHook('the hook did not run in the repository');
  inside(cwd, 'the working directory');
  const gitDir = env.GIT_DIR;
  if (gitDir === undefined || inside(gitDir, 'GIT_DIR') !== realRepo) throw badHook('GIT_DIR is not the repository');
  const out: Record<string, string> = { GIT_DIR: realRepo };
  for (const name of GIT_VARIABLES) {
    const value = env[name];
    if (name === 'GIT_DIR' || value === undefined) continue;
    if (name === 'GIT_ALTERNATE_OBJECT_DIRECTORIES') {
      // Colon-separated; git quotes an entry only when it holds a colon or quote, which our paths do not.
      const dirs = value.split(':').filter((d) => d !== '');
      out[name] = dirs.map((d) => inside(d, name)).join(':');
    } else {
      out[name] = inside(value, name);
    }
  }
  return out;
}
