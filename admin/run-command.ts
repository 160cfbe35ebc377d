// Runs one command line against a registry: the same path for the local CLI
// (`shipoff COMMAND`, as the host's operator) and for SSH (`ssh shipoff@HOST
// COMMAND`, as the user whose key it is). argv arrives already split; no
// shell ever sees it. Errors print Dokku-style and become the exit status.
import type { Readable, Writable } from 'node:stream';
import { EXIT, exitCodeOf, formatForTerminal, ShipoffError, type Settings, type Store } from '../core/index.js';
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
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (rest[0] && registry.find(rest[0])) io.stdout.write(commandHelp(registry.get(rest[0])));
    else io.stdout.write(registry.overview());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  let release: (() => Promise<void>) | undefined;
  try {
    const command = registry.get(name);
    const args = parseCommandArgs(command, rest);
    if (!args) {
      io.stdout.write(commandHelp(command));
      return EXIT.OK;
    }
    if (command.needsHost && !setting.host) throw new ShipoffError('SHIPOFF_HOST_NOT_RUNNING', { command: command.name });
    let store: Store | undefined;
    if (command.needsStore) ({ store, release } = await setting.store());
    const ctx: CommandContext = {
      settings: setting.settings,
      actor: setting.actor,
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      ...(io.terminal ? { terminal: io.terminal } : {}),
      signal: io.signal ?? new AbortController().signal,
      store: store as Store,
      host: setting.host as HostOps,
    };
    const code = await command.run(ctx, args);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    io.stderr.write(formatForTerminal(err) + '\n');
    return exitCodeOf(err);
  } finally {
    await release?.().catch((err: Error) => io.stderr.write(` !     closing the store: ${err.message}\n`));
  }
}
