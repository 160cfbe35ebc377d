// `shipoff COMMAND [ARGS]` on the host. Commands run as the host's operator,
// who acts as a host administrator.
import os from 'node:os';
import { loadSettings, openStore } from '../core/index.js';
import { adminCommands, type CommandContext, type CommandRegistry, runCommand } from '../admin/index.js';
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
  let settings: ReturnType<typeof loadSettings> | undefined;
  return runCommand(hostRegistry(), argv, io, {
    get settings() {
      return (settings ??= loadSettings(io.env));
    },
    actor: { kind: 'host', name: os.userInfo().username },
    store: async () => {
      const store = await openStore((settings ??= loadSettings(io.env)), { poolSize: 2 });
      return { store, release: () => store.close() };
    },
  });
}

export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code;
}
