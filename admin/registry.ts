// The command registry: every command is `namespace:verb`, registered once
// with its own help, and found by exact name (no plugin gets to "try" a
// command). The same registry serves the local CLI and, later, SSH.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { ShipoffError, type Settings, type Store, type User } from '../core/index.js';
import type { HostOps, Terminal } from './host-ops.js';

/** Who runs a command: the host's own operator (local CLI) or a user with a key. */
export type Actor = { kind: 'host'; name: string } | { kind: 'user'; user: User };

export function actorName(actor: Actor): string {
  return actor.kind === 'host' ? `${actor.name} (host)` : actor.user.name;
}

export function isHostAdmin(actor: Actor): boolean {
  return actor.kind === 'host' || actor.user.isAdmin;
}

export interface CommandContext {
  settings: Settings;
  actor: Actor;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  /** Opened by the caller for commands that declare needsStore. */
  store: Store;
  /** The running host's operations, for commands that declare needsHost. */
  host: HostOps;
  /** Set when the client asked for a terminal (ssh -t, or a local terminal). */
  terminal?: Terminal;
  /** Aborted when the client goes away (the SSH channel closed, Ctrl-C). */
  signal: AbortSignal;
}

export type ParsedArgs = {
  positionals: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
};

export interface Command {
  /** `namespace:verb`, or a single word for host-level commands (`up`, `help`). */
  name: string;
  group: string;
  summary: string;
  /** One line, after the command name: `NAME < key.pub`. */
  usage: string;
  /** Extra help text shown by --help. */
  description?: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments: [min, max]. */
  arity: [number, number];
  needsStore: boolean;
  /** Needs a running host (instances, traffic): see host-ops.ts. */
  needsHost?: boolean;
  /** Draws on the client's terminal itself (run, dashboard): its output is passed on untouched. */
  ownsTerminal?: boolean;
  /** Options only before the first positional; from it on every word is a positional as given
   * (`run APP ls -la`). A `--` before it, or right after it, is a separator. */
  rawArgs?: boolean;
  run(ctx: CommandContext, args: ParsedArgs): Promise<number | void>;
}

const COMMAND_NAME = /^[a-z][a-z0-9-]*(:[a-z][a-z0-9-]*)?$/;

export class CommandRegistry {
  private readonly commands = new Map<string, Command>();

  register(...commands: Command[]): this {
    for (const command of commands) {
      if (!COMMAND_NAME.test(command.name)) throw new Error(`command name "${command.name}" is not namespace:verb`);
      if (this.commands.has(command.name)) throw new Error(`command ${command.name} is registered twice`);
      this.commands.set(command.name, command);
    }
    return this;
  }

  find(name: string): Command | undefined {
    return this.commands.get(name);
  }

  get(name: string): Command {
    const command = this.commands.get(name);
    if (!command) throw new ShipoffError('SHIPOFF_UNKNOWN_COMMAND', { command: name.slice(0, 60), suggestion: this.closest(name) ?? '' });
    return command;
  }

  /** The known name nearest to a mistyped one (edit distance at most 3), if any. */
  closest(name: string): string | undefined {
    let best: string | undefined;
    let bestDistance = 4;
    for (const known of this.commands.keys()) {
      const d = editDistance(name.slice(0, 60), known);
      if (d < bestDistance) [best, bestDistance] = [known, d];
    }
    return best;
  }

  all(): Command[] {
    return [...this.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** `shipoff help`: every command, grouped. */
  overview(program = 'shipoff'): string {
    const groups = new Map<string, Command[]>();
    for (const c of this.all()) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
    const width = Math.max(...this.all().map((c) => c.name.length)) + 2;
    const lines = [`Usage: ${program} COMMAND [ARGS] (each command takes --help)`, ''];
    for (const [group, commands] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`${group}:`);
      for (const c of commands) lines.push(`  ${c.name.padEnd(width)}${c.summary}`);
      lines.push('');
    }
    return lines.join('\n');
  }
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function commandHelp(command: Command, program = 'shipoff'): string {
  const lines = [`Usage: ${program} ${command.name}${command.usage ? ' ' + command.usage : ''}`, '', command.summary];
  if (command.description) lines.push('', command.description.trim());
  const options = Object.entries(command.options ?? {});
  if (options.length > 0) {
    lines.push('', 'Options:');
    for (const [name, o] of options) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ' VALUE' : ''}`;
      lines.push(`  ${flag}`);
    }
  }
  lines.push('  -h, --help');
  return lines.join('\n') + '\n';
}

/** Parses argv for a command: no shell ever sees it. Returns undefined when --help was asked for. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs | undefined {
  const { options: optionWords, verbatim } = command.rawArgs ? splitRawArgs(argv) : { options: argv, verbatim: [] };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: optionWords,
      options: { ...(command.options ?? {}), help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new ShipoffError('SHIPOFF_USAGE', { problem: (err as Error).message, usage: `shipoff ${command.name} ${command.usage}` });
  }
  if (parsed.values.help) return undefined;
  const positionals = [...parsed.positionals, ...verbatim];
  const [min, max] = command.arity;
  const count = positionals.length;
  if (count < min || count > max) {
    const problem = count < min ? 'missing argument' : `unexpected argument "${positionals[max]}"`;
    throw new ShipoffError('SHIPOFF_USAGE', { problem, usage: `shipoff ${command.name} ${command.usage}` });
  }
  const { help: _help, ...values } = parsed.values;
  return { positionals, values: values as ParsedArgs['values'] };
}

/** For rawArgs: the words up to the first positional are options; the rest is taken as given. */
function splitRawArgs(argv: string[]): { options: string[]; verbatim: string[] } {
  const first = argv.findIndex((word) => word === '--' || !word.startsWith('-'));
  if (first === -1) return { options: argv, verbatim: [] };
  const options = argv.slice(0, first);
  if (argv[first] === '--') return { options, verbatim: argv.slice(first + 1) };
  const rest = argv.slice(first + 1);
  return { options, verbatim: [argv[first]!, ...(rest[0] === '--' ? rest.slice(1) : rest)] };
}

/** Where a host operation's progress lines go: the command's stdout, a line each. */
export const progressLines =
  (ctx: CommandContext) =>
  (line: string): void =>
    void ctx.stdout.write(line + '\n');

/** Reads all of stdin, up to a limit, for commands that take their input there. */
export async function readStdin(ctx: CommandContext, what: string, example: string, limit = 64 * 1024): Promise<string> {
  if (ctx.stdin.isTTY) throw new ShipoffError('SHIPOFF_NO_STDIN', { what, example });
  // Events, not for-await: the async iterator destroys the stream when it
  // ends, and stdin may be an SSH channel that still has to carry our answer.
  const chunks: Buffer[] = [];
  let size = 0;
  const stdin = ctx.stdin;
  if (stdin.readableEnded || stdin.destroyed) return '';
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      stdin.off('data', onData).off('end', onEnd).off('error', done).off('close', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => done();
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += b.length;
      if (size > limit) {
        stdin.pause();
        done(new ShipoffError('SHIPOFF_USAGE', { problem: `${what} is larger than ${limit} bytes`, usage: example }));
      } else {
        chunks.push(b);
      }
    };
    stdin.on('data', onData).once('end', onEnd).once('close', onEnd).once('error', done);
  });
  return Buffer.concat(chunks).toString('utf8');
}
