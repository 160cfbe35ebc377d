// Runs one command line against a registry: the same path for the local CLI
// (`shipoff COMMAND`, as the host's operator) and for SSH (`ssh shipoff@HOST
// COMMAND`, as the user whose key it is). argv arrives already split; no
// shell ever sees it. Errors print Dokku-style and become the exit status.
import type { Readable, Writable } from 'node:stream';
import { EXIT, exitCodeOf, formatForTerminal, type Settings, type Store } from '../core/index.js';
import { type Actor, commandHelp, type CommandContext, type CommandRegistry, parseCommandArgs } from './registry.js';

export interface CommandIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
}

export interface CommandSetting {
  settings: Settings;
  actor: Actor;
  /** The store for commands that need one: opened on demand (and closed after) by the CLI, shared by the host. */
  store: () => Promise<{ store: Store; release: () => Promise<void> }>;
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
    let store: Store | undefined;
    if (command.needsStore) ({ store, release } = await setting.store());
    const ctx: CommandContext = { settings: setting.settings, actor: setting.actor, ...io, store: store as Store };
    const code = await command.run(ctx, args);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    io.stderr.write(formatForTerminal(err) + '\n');
    return exitCodeOf(err);
  } finally {
    await release?.().catch((err: Error) => io.stderr.write(` !     closing the store: ${err.message}\n`));
  }
}
