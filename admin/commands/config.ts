// config:show|get|set|unset: an app's environment, sealed at rest (core/
// secrets.ts). A change makes a new release from the live one and rolls it
// out with zero downtime (the host's release()), unless --no-restart.
//
// SSH hands us one string, already split like a shell would (gitd/
// command-line.ts), so `config:set APP "A=x y" B='q"uote'` arrives as words;
// a value is everything after the first `=` of its word.
import { assertConfigKey, ShipoffError } from '../../core/index.js';
import { actorName, type Command, type CommandContext, progressLines, readStdin } from '../registry.js';
import { appForRole } from './app-lookup.js';

/** Set by Shipoff for every process; a config var could only shadow them. */
const RESERVED = /^(PORT|DYNO|SHIPOFF_[A-Z0-9_]*)$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function checkKey(key: string, usage: string): void {
  if (key.length === 0) throw new ShipoffError('SHIPOFF_USAGE', { problem: 'a config var needs a name before the =', usage });
  assertConfigKey(key);
  if (RESERVED.test(key)) throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: 'Shipoff sets it for every process (PORT, DYNO, SHIPOFF_*); pick another name' });
}

function checkValue(key: string, value: string): string {
  // An environment cannot carry a NUL byte: the process would see a cut value.
  if (value.includes('\0')) throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: 'a value cannot hold a NUL byte' });
  return value;
}

/** base64 text to the UTF-8 string it encodes, strictly (Dokku's --encoded). */
function decodeBase64(key: string, text: string): string {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: 'with --encoded, the value must be base64 (A-Z a-z 0-9 + / =)' });
  const bytes = Buffer.from(text, 'base64');
  const value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: false });
  return value;
}

/** KEY=VALUE words to vars; a single KEY (no =) takes its value from stdin. */
export async function parseAssignments(ctx: CommandContext, words: string[], encoded: boolean, usage: string): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  if (words.length === 1 && !words[0]!.includes('=')) {
    const key = words[0]!;
    checkKey(key, usage);
    const text = await readStdin(ctx, `the value of ${key}`, `shipoff config:set APP ${key} < value.txt`);
    // One trailing newline is what `echo` adds; --encoded gives exact bytes.
    vars[key] = checkValue(key, encoded ? decodeBase64(key, text.trim()) : text.replace(/\r?\n$/, ''));
    return vars;
  }
  for (const word of words) {
    const at = word.indexOf('=');
    if (at < 0) throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${word.slice(0, 40)}" is not KEY=VALUE`, usage });
    const key = word.slice(0, at);
    checkKey(key, usage);
    const raw = word.slice(at + 1);
    vars[key] = checkValue(key, encoded ? decodeBase64(key, raw) : raw);
  }
  return vars;
}

export const configShow: Command = {
  name: 'config:show',
  group: 'config',
  summary: "Show an app's config vars (needs the developer role: values are secrets)",
  usage: 'APP [--json] [--shell]',
  options: { json: { type: 'boolean' }, shell: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const app = await appForRole(ctx, ctx.store, args.positionals[0]!, 'developer');
    const vars = await ctx.store.config.all(app.id);
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify(vars) + '\n');
    } else if (args.values.shell) {
      // Single quotes, with ' written as '\'' : safe to paste into a POSIX shell.
      for (const [k, v] of Object.entries(vars)) ctx.stdout.write(`${k}='${v.replace(/'/g, "'\\''")}'\n`);
    } else {
      ctx.stdout.write(`=====> ${app.name} config vars\n`);
      const width = Math.max(0, ...Object.keys(vars).map((k) => k.length)) + 2;
      for (const [k, v] of Object.entries(vars)) ctx.stdout.write(`${(k + ':').padEnd(width)}${v.replace(/\n/g, '\\n')}\n`);
    }
  },
};

export const configGet: Command = {
  name: 'config:get',
  group: 'config',
  summary: 'Print one config var, exactly as stored',
  usage: 'APP KEY [--encoded]',
  description: '  --encoded  print it base64-encoded (for values with newlines or binary-looking text)',
  options: { encoded: { type: 'boolean' } },
  arity: [2, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, key] = args.positionals as [string, string];
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    assertConfigKey(key);
    const value = await ctx.store.config.get(app.id, key);
    if (value === undefined) throw new ShipoffError('SHIPOFF_CONFIG_NOT_SET', { app: app.name, key });
    ctx.stdout.write((args.values.encoded ? Buffer.from(value, 'utf8').toString('base64') : value) + '\n');
  },
};

export const configSet: Command = {
  name: 'config:set',
  group: 'config',
  summary: 'Set config vars; the app restarts with them, with zero downtime',
  usage: 'APP KEY=VALUE [KEY2=VALUE2 ...] [--no-restart] [--encoded]',
  description: [
    '  A value is everything after the first =, and may hold spaces (quote the word: "KEY=a b"), =, quotes, newlines and unicode.',
    '  APP KEY < FILE    takes the value from stdin (one trailing newline dropped).',
    '  --encoded         values are base64, decoded to exact bytes (as Dokku does).',
    '  --no-restart      store them only; they apply at the next deploy or ps:restart.',
  ].join('\n'),
  options: { 'no-restart': { type: 'boolean' }, encoded: { type: 'boolean' } },
  arity: [2, 500],
  needsStore: true,
  async run(ctx, args) {
    const [appName, ...words] = args.positionals as [string, ...string[]];
    const usage = `shipoff config:set ${this.usage}`;
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    const vars = await parseAssignments(ctx, words, args.values.encoded === true, usage);
    const keys = Object.keys(vars).sort();
    await changeConfig(ctx, app, { set: vars }, `Set ${keys.join(', ')}`, args.values['no-restart'] === true);
  },
};

export const configUnset: Command = {
  name: 'config:unset',
  group: 'config',
  summary: 'Remove config vars; the app restarts without them, with zero downtime',
  usage: 'APP KEY [KEY2 ...] [--no-restart]',
  options: { 'no-restart': { type: 'boolean' } },
  arity: [2, 500],
  needsStore: true,
  async run(ctx, args) {
    const [appName, ...keys] = args.positionals as [string, ...string[]];
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    keys.forEach(assertConfigKey);
    const present = Object.keys(await ctx.store.config.all(app.id));
    const gone = keys.filter((k) => present.includes(k)).sort();
    for (const k of keys.filter((k) => !present.includes(k))) ctx.stderr.write(` !     ${k} was not set on ${app.name}\n`);
    if (gone.length === 0) {
      ctx.stdout.write(`-----> Nothing to unset on ${app.name}; nothing changed\n`);
      return;
    }
    await changeConfig(ctx, app, { unset: gone }, `Unset ${gone.join(', ')}`, args.values['no-restart'] === true);
  },
};

async function changeConfig(ctx: CommandContext, app: { id: number; name: string }, changes: { set?: Record<string, string>; unset?: string[] }, description: string, noRestart: boolean): Promise<void> {
  const actor = actorName(ctx.actor);
  const names = [...Object.keys(changes.set ?? {}), ...(changes.unset ?? [])].sort().join(', ');
  const current = await ctx.store.config.all(app.id);
  if (Object.entries(changes.set ?? {}).every(([k, v]) => current[k] === v) && (changes.unset ?? []).every((k) => !(k in current))) {
    ctx.stdout.write(`-----> ${app.name} has these values already (${names}); nothing changed\n`);
    return;
  }
  if (noRestart) {
    if (changes.set) await ctx.store.config.set(app.id, changes.set);
    if (changes.unset) await ctx.store.config.unset(app.id, changes.unset);
    await ctx.store.audit.record({ actor, app: app.name, action: 'config', details: { description, restart: false } });
    ctx.stdout.write(`-----> ${description} on ${app.name}; not restarted (they apply at the next deploy or: shipoff ps:restart ${app.name})\n`);
    return;
  }
  if (!ctx.host) throw new ShipoffError('SHIPOFF_HOST_NOT_RUNNING', { command: 'config changes that restart the app (or add --no-restart)' });
  const full = await ctx.store.apps.get(app.name);
  const release = await ctx.host.release(full, { configChanges: changes, description }, actor, progressLines(ctx));
  if (!release) {
    await ctx.store.audit.record({ actor, app: app.name, action: 'config', details: { description, restart: false } });
    ctx.stdout.write(`-----> ${description} on ${app.name} (${names}); it has no release yet, so they apply at its first deploy\n`);
  }
}

export const configCommands: Command[] = [configShow, configGet, configSet, configUnset];
