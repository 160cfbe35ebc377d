// `shipoff COMMAND [ARGS]` on the host. Commands run as the host's operator,
// who acts as a host administrator.
import os from 'node:os';
import { EXIT, exitCodeOf, formatForTerminal, loadSettings, openStore, type Store } from '../core/index.js';
import { adminCommands, type CommandContext, commandHelp, type CommandRegistry, parseCommandArgs } from '../admin/index.js';
import { hostCommands } from './commands.js';

export function hostRegistry(): CommandRegistry {
  return adminCommands().register(...hostCommands);
}

export interface CliIo {
  stdin: CommandContext['stdin'];
  stdout: NodeJS.WritableStream & CommandContext['stdout'];
  stderr: NodeJS.WritableStream & CommandContext['stderr'];
  env: NodeJS.ProcessEnv;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const registry = hostRegistry();
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (rest[0] && registry.find(rest[0])) io.stdout.write(commandHelp(registry.get(rest[0])));
    else io.stdout.write(registry.overview());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  let store: Store | undefined;
  try {
    const command = registry.get(name);
    const args = parseCommandArgs(command, rest);
    if (!args) {
      io.stdout.write(commandHelp(command));
      return EXIT.OK;
    }
    const settings = loadSettings(io.env);
    if (command.needsStore) store = await openStore(settings, { poolSize: 2 });
    const ctx: CommandContext = {
      settings,
      actor: { kind: 'host', name: os.userInfo().username },
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      store: store as Store,
    };
    const code = await command.run(ctx, args);
    return typeof code === 'number' ? code : EXIT.OK;
  } catch (err) {
    io.stderr.write(formatForTerminal(err) + '\n');
    return exitCodeOf(err);
  } finally {
    await store?.close().catch((err: Error) => io.stderr.write(` !     closing the store: ${err.message}\n`));
  }
}

export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code;
}
