// The SSH front door (ssh2): public-key login against the keys in the store,
// then git-receive-pack / git-upload-pack run for real with the channel as
// their stdio. Other commands go to an injected handler (the admin commands).
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, PublicKeyAuthContext, ServerChannel } from 'ssh2';
import { crlfWriter, exitCodeOf, fingerprintOf, formatForTerminal, ShipoffError, type Store, type User } from '../core/index.js';
import { authorize } from './access.js';
import { type GitRequest, gitRequestOf, splitCommandLine } from './command-line.js';
import { cleanEnv, exited, hooksEnv, killGroup, spawnGroup } from './git-process.js';
import type { HookServer } from './hook-server.js';
import type { RepoStore } from './repos.js';
import { type PtyTerminal, ptyTerminal } from './ssh-terminal.js';
import type { SshCommandHandler, SshTerminal } from './types.js';

/** The login names clients use (ssh://shipoff@HOST/…); git@ works too, as on most git hosts. */
const LOGIN_NAMES: ReadonlySet<string> = new Set(['shipoff', 'git']);
/** GIT_PROTOCOL is the only variable a client may set (git sends it for protocol v2). */
const GIT_PROTOCOL_VALUE = /^[A-Za-z0-9=:.,_-]{1,100}$/;

export interface SshServerDeps {
  store: Store;
  hostKey: Buffer;
  repos: RepoStore;
  hooks: HookServer;
  running: Set<ChildProcessWithoutNullStreams>;
  onCommand: SshCommandHandler | undefined;
  log: (line: string) => void;
}

export class SshServer {
  private readonly server: ssh2.Server;
  private readonly clients = new Set<Connection>();

  constructor(private readonly deps: SshServerDeps) {
    this.server = new ssh2.Server({ hostKeys: [deps.hostKey], ident: 'shipoff' }, (client) => this.accept(client));
    this.server.on('error', (err: Error) => deps.log(`gitd: ssh server: ${err.message}`));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      // A client that does not answer our goodbye must not hold up the host's shutdown.
      const timer = setTimeout(resolve, 3_000);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const client of this.clients) client.end();
    });
  }

  private accept(client: Connection): void {
    this.clients.add(client);
    let fingerprint: string | undefined;
    let loginName = '';
    client.on('error', () => {}); // a client that drops the connection is not our error
    // ssh2 closes a channel only once its input was read out; a command that
    // never reads stdin (logs -t) learns of a lost client from the connection.
    const gone = new AbortController();
    client.on('close', () => {
      this.clients.delete(client);
      gone.abort();
    });
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      this.checkKey(ctx).then(
        (ok) => {
          if (!ok) return ctx.reject(['publickey']);
          if (ctx.signature) {
            fingerprint = fingerprintOf(ctx.key.data);
            loginName = ctx.username;
          }
          ctx.accept();
        },
        (err: unknown) => {
          this.deps.log(`gitd: ssh authentication failed: ${err instanceof Error ? err.message : String(err)}`);
          ctx.reject(['publickey']);
        },
      );
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        const env: Record<string, string> = {};
        let pty: PtyTerminal | undefined;
        session.on('env', (accept, reject, info) => {
          if (info.key === 'GIT_PROTOCOL' && GIT_PROTOCOL_VALUE.test(info.val)) {
            env.GIT_PROTOCOL = info.val;
            accept?.();
          } else {
            reject?.();
          }
        });
        session.on('pty', (accept, _reject, info) => {
          pty = ptyTerminal(info);
          accept?.();
        });
        session.on('window-change', (accept, _reject, info) => {
          pty?.resize(info.cols, info.rows);
          accept?.();
        });
        session.on('exec', (accept, _reject, info) => void this.exec(accept(), info.command, loginName, fingerprint, env, pty?.terminal, gone.signal));
        session.on('shell', (accept) => void this.exec(accept(), '', loginName, fingerprint, env, pty?.terminal, gone.signal));
      });
    });
  }

  /** Known key, same bytes as stored, and (when given) a valid signature by it. */
  private async checkKey(ctx: PublicKeyAuthContext): Promise<boolean> {
    const found = await this.deps.store.users.findKeyByFingerprint(fingerprintOf(ctx.key.data));
    if (!found) return false;
    const stored = ssh2.utils.parseKey(found.key.publicKey);
    if (stored instanceof Error || !stored.getPublicSSH().equals(ctx.key.data)) return false;
    if (!ctx.signature) return true; // the client only asks whether we would take this key
    return ctx.blob !== undefined && stored.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
  }

  private async exec(channel: ServerChannel, commandLine: string, loginName: string, fingerprint: string | undefined, env: Record<string, string>, terminal: SshTerminal | undefined, connectionGone: AbortSignal): Promise<void> {
    const abort = new AbortController();
    channel.on('close', () => abort.abort());
    connectionGone.addEventListener('abort', () => abort.abort(), { once: true });
    channel.on('error', () => {});
    // Under a terminal our own messages need \r\n (the command runner does the same for the commands' output).
    const stderr = terminal ? crlfWriter(channel.stderr) : channel.stderr;
    let code: number;
    try {
      if (!LOGIN_NAMES.has(loginName)) throw new ShipoffError('SHIPOFF_SSH_USER', { user: loginName.slice(0, 64) });
      // Looked up again per command: a key removed while connected stops working.
      const found = fingerprint ? await this.deps.store.users.findKeyByFingerprint(fingerprint) : undefined;
      if (!found) throw new ShipoffError('SHIPOFF_SSH_KEY_UNKNOWN');
      const argv = splitCommandLine(commandLine);
      const git = gitRequestOf(argv);
      if (git) {
        code = await this.runGit(channel, git, found.user, env, abort.signal);
      } else if (this.deps.onCommand) {
        code = await this.deps.onCommand({ user: found.user, argv, stdin: channel, stdout: channel, stderr: channel.stderr, ...(terminal ? { terminal } : {}), signal: abort.signal });
      } else {
        throw new ShipoffError('SHIPOFF_NOT_A_GIT_COMMAND', { command: argv.length ? JSON.stringify(argv[0]!.slice(0, 80)) : 'an interactive shell' });
      }
    } catch (err) {
      if (!(err instanceof ShipoffError)) this.deps.log(`gitd: ssh command failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (!abort.signal.aborted) stderr.write(formatForTerminal(err) + '\n');
      code = exitCodeOf(err);
    }
    await finish(channel, code, abort.signal);
  }

  private async runGit(channel: ServerChannel, git: GitRequest, user: User, clientEnv: Record<string, string>, signal: AbortSignal): Promise<number> {
    const { store, repos, hooks, running, log } = this.deps;
    const access = await authorize(store, user, git.service, git.app, { mayCreate: true });
    const repo = await repos.ensure(access.app.name);
    if (access.created) log(`gitd: ${user.name} created app ${access.app.name} by pushing to it`);
    if (signal.aborted) return 1;
    const ticket = git.service === 'git-receive-pack' ? hooks.ticket(access.app, user, repo, access.created) : undefined;
    const child = spawnGroup(git.service, [repo], { ...cleanEnv(), ...hooksEnv(repo), ...clientEnv, ...ticket?.env });
    running.add(child);
    child.stdout.pipe(channel, { end: false });
    child.stderr.pipe(channel.stderr, { end: false });
    channel.pipe(child.stdin);
    child.stdin.on('error', () => {}); // git may exit before reading all we have
    // The client went away (Ctrl-C, lost connection): stop git and its hook, cancel the deploy.
    const onAbort = (): void => {
      ticket?.abort();
      killGroup(child);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const code = await exited(child);
      if (ticket) log(`gitd: push to ${access.app.name} by ${user.name} over SSH ended with status ${code}`);
      return code;
    } finally {
      signal.removeEventListener('abort', onAbort);
      running.delete(child);
      ticket?.close();
      channel.unpipe(child.stdin);
    }
  }
}

/** Exit status after everything written has left, then EOF and close. */
async function finish(channel: ServerChannel, code: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  // ssh2 calls a write's callback once the data fits the peer's window, and never if the channel closes first.
  const flushed = (stream: NodeJS.WritableStream): Promise<void> =>
    new Promise((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      stream.write(Buffer.alloc(0), () => resolve());
    });
  await Promise.all([flushed(channel), flushed(channel.stderr)]);
  if (signal.aborted) return;
  channel.exit(code);
  channel.end();
}
