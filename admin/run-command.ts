// Runs one command line against a registry: the same path for the local CLI
// (`shipoff COMMAND`, as the host's operator) and for SSH (`ssh shipoff@HOST
// COMMAND`, as the user whose key it is). argv arrives already split; no
// shell ever sees it. Errors print Dokku-style and become the exit status.
import type { Readable, Writable } from 'node:stream';
import { crlfWriter, EXIT, exitCodeOf, formatForTerminal, ShipoffError, type Settings, type Store } from '../core/index.js';
import type { HostOps, Terminal } from './host-ops.js';
import { type Actor, commandHelp, type CommandContext, type CommandRegistry, parseCommandArgs } from './registry.js';

export interface CommandIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  terminal?: Terminal;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
}

export interface CommandSetting {
  settings: Settings;
  actor: Actor;
  /** The store for commands that need one: opened on demand (and closed after) by the CLI, shared by the host. */
  store: () => Promise<{ store: Store; release: () => Promise<void> }>;
  /** The running host's operations; absent in a CLI with no host to talk to. */
  host?: HostOps;
}

export async function runCommand(registry: CommandRegistry, argv: string[], io: CommandIo, setting: CommandSetting): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : registry.find(name);
  // A raw terminal (ssh -t) needs \r\n and turns Ctrl-C into a byte. Our
  // messages (stderr) always get \r\n; stdout and Ctrl-C too, except for
  // commands that draw on the terminal themselves (run, dashboard).
  const cooked = io.terminal !== undefined && !command?.ownsTerminal;
  const stdout = cooked ? crlfWriter(io.stdout) : io.stdout;
  const stderr = io.terminal ? crlfWriter(io.stderr) : io.stderr;
  const interrupt = new AbortController();
  const onAbort = (): void => interrupt.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (io.signal?.aborted) interrupt.abort();
  const onKey = (chunk: Buffer | string): void => {
    if (chunk.includes('\x03') || (Buffer.isBuffer(chunk) && chunk.includes(3))) interrupt.abort();
  };
  if (cooked && command?.needsHost) io.stdin.on('data', onKey);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (rest[0] && registry.find(rest[0])) stdout.write(commandHelp(registry.get(rest[0])));
    else stdout.write(registry.overview());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  let release: (() => Promise<void>) | undefined;
  try {
    const found = registry.get(name);
    const args = parseCommandArgs(found, rest);
    if (!args) {
      stdout.write(commandHelp(found));
      return EXIT.OK;
    }
    if (found.needsHost && !setting.host) throw new ShipoffError('SHIPOFF_HOST_NOT_RUNNING', { command: found.name });
    let store: Store | undefined;
    if (found.needsStore) ({ store, release } = await setting.store());
    const ctx: CommandContext = {
      settings: setting.settings,
      actor: setting.actor,
      stdin: io.stdin,
      stdout,
      stderr,
      ...(io.terminal ? { terminal: io.terminal } : {}),
      signal: interrupt.signal,
      store: store as Store,
      host: setting.host as HostOps,
    };
    const code = await found.run(ctx, args);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    stderr.write(formatForTerminal(err) + '\n');
    return exitCodeOf(err);
  } finally {
    io.stdin.off('data', onKey);
    io.signal?.removeEventListener('abort', onAbort);
    await release?.().catch((err: Error) => stderr.write(` !     closing the store: ${err.message}\n`));
  }
}
