// `shipoff COMMAND [ARGS]` on the host. Commands run as the host's operator,
// who acts as a host administrator.
import os from 'node:os';
import { loadSettings, openStore } from '../core/index.js';
import { adminCommands, type CommandContext, type CommandRegistry, runCommand } from '../admin/index.js';
import { hostCommands } from './commands.js';
import { runThroughHost } from './control-socket.js';

export function hostRegistry(): CommandRegistry {
  return adminCommands().register(...hostCommands);
}

export interface CliIo {
  stdin: CommandContext['stdin'];
  stdout: NodeJS.WritableStream & CommandContext['stdout'];
  stderr: NodeJS.WritableStream & CommandContext['stderr'];
  env: NodeJS.ProcessEnv;
}

/** Run here whatever happens: they start a host, or only print. */
const RUN_HERE = new Set(['up', 'router', 'help', '--help', '-h']);

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let settings: ReturnType<typeof loadSettings> | undefined;
  const user = os.userInfo().username;
  // A running host on this data dir runs the command itself (as over SSH);
  // with none, store-only commands run here and the rest say to start one.
  if (argv[0] !== undefined && !RUN_HERE.has(argv[0])) {
    let dataDir: string | undefined;
    try {
      dataDir = (settings ??= loadSettings(io.env)).dataDir;
    } catch {
      // a bad setting: runCommand below reports it
    }
    const code = dataDir ? await runThroughHost(dataDir, argv, user, io) : undefined;
    if (code !== undefined) return code;
  }
  return runCommand(hostRegistry(), argv, io, {
    get settings() {
      return (settings ??= loadSettings(io.env));
    },
    actor: { kind: 'host', name: user },
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
