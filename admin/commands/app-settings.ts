// Per-app deploy settings, Dokku style (`<namespace>:set APP KEY [VALUE]`,
// no VALUE = back to the default):
//   git:set    APP deploy-branch BRANCH   the branch whose pushes deploy
//   builds:set APP timeout SECONDS        how long a build may run
//   checks:set APP path|timeout VALUE     the health check a new release must pass
import { ShipoffError } from '../../core/index.js';
import { actorName, type Command } from '../registry.js';
import { appForChange } from './app-lookup.js';

interface SettingKey {
  /** What the key means, for --help. */
  summary: string;
  defaultText: string;
  /** Validates the user's text; returns what to store, or throws SHIPOFF_USAGE. */
  parse(value: string, usage: string): string | number;
  /** Where it lives: the app's deploy branch column or its settings object. */
  field: 'deployBranch' | 'buildTimeoutSeconds' | 'healthcheckPath' | 'healthcheckTimeoutSeconds';
}

function seconds(min: number, max: number) {
  return (value: string, usage: string): number => {
    // 60, 60s, 2m: the issue's and Dokku's ways of writing it.
    const m = /^(\d{1,6})([sm]?)$/.exec(value);
    const n = m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
    if (!(n >= min && n <= max)) {
      throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${value.slice(0, 40)}" is not a number of seconds from ${min} to ${max} (like 60 or 60s)`, usage });
    }
    return n;
  };
}

// What git check-ref-format allows for a branch, minus the rarely wanted
// corners: letters, digits, . _ - / ; no "..", no leading or trailing "/" or ".".
const BRANCH = /^(?!.*\.\.)(?!.*\/\/)(?!\/)(?!.*[/.]$)(?!.*\.lock$)[A-Za-z0-9._\/-]{1,100}$/;

const NAMESPACES: Record<string, Record<string, SettingKey>> = {
  git: {
    'deploy-branch': {
      summary: 'pushes to this branch deploy; others are stored',
      defaultText: 'main (or master while the repository has no main)',
      field: 'deployBranch',
      parse(value, usage) {
        if (!BRANCH.test(value) || value.startsWith('-')) {
          throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${value.slice(0, 40)}" is not a branch name (letters, digits, . _ - /)`, usage });
        }
        return value;
      },
    },
  },
  builds: {
    timeout: { summary: 'seconds a build may run before it is stopped', defaultText: '600 (SHIPOFF_BUILD_TIMEOUT)', field: 'buildTimeoutSeconds', parse: seconds(10, 7200) },
  },
  checks: {
    path: {
      summary: 'path a new release must answer (HTTP status below 500) before it takes traffic',
      defaultText: '/',
      field: 'healthcheckPath',
      parse(value, usage) {
        if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%\/?-]{0,200}$/.test(value)) {
          throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${value.slice(0, 40)}" is not a URL path starting with /`, usage });
        }
        return value;
      },
    },
    timeout: { summary: 'seconds a new release has to pass the check', defaultText: '60', field: 'healthcheckTimeoutSeconds', parse: seconds(1, 600) },
  },
};


function setCommand(namespace: string, keys: Record<string, SettingKey>): Command {
  const name = `${namespace}:set`;
  const keyNames = Object.keys(keys);
  const usage = `APP ${keyNames.join('|')} [VALUE]  |  APP ${keyNames.map((k) => `${k}=VALUE`).join(' ')}`;
  const fullUsage = `shipoff ${name} ${usage}`;
  return {
    name,
    group: namespace,
    summary: `Change ${keyNames.join(' or ')} of an app (no VALUE: back to the default)`,
    usage,
    description: keyNames.map((k) => `  ${k.padEnd(14)} ${keys[k]!.summary}; default ${keys[k]!.defaultText}`).join('\n'),
    arity: [2, 2 + keyNames.length],
    needsStore: true,
    async run(ctx, args) {
      const [appName, ...words] = args.positionals as [string, ...string[]];
      // Either `KEY [VALUE]` or `KEY=VALUE ...` (several at once).
      const pairs: Array<[string, string | undefined]> = words[0]!.includes('=')
        ? words.map((w) => {
            const at = w.indexOf('=');
            if (at < 0) throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${w.slice(0, 40)}" is not KEY=VALUE`, usage: fullUsage });
            return [w.slice(0, at), w.slice(at + 1)];
          })
        : words.length <= 2
          ? [[words[0]!, words[1]]]
          : (() => {
              throw new ShipoffError('SHIPOFF_USAGE', { problem: `unexpected argument "${words[2]!.slice(0, 40)}"`, usage: fullUsage });
            })();
      const changes = pairs.map(([keyName, value]) => {
        const key = keys[keyName];
        if (!key) throw new ShipoffError('SHIPOFF_USAGE', { problem: `${name} has no key "${keyName.slice(0, 40)}"; the keys are ${keyNames.join(', ')}`, usage: fullUsage });
        return { keyName, key, parsed: value === undefined ? undefined : key.parse(value, fullUsage) };
      });
      await ctx.store.transaction(async (tx) => {
        let app = await appForChange(ctx, tx, appName);
        for (const { keyName, key, parsed } of changes) {
          if (key.field === 'deployBranch') {
            app = await tx.apps.update(app.name, { deployBranch: typeof parsed === 'string' ? parsed : 'main' });
          } else {
            const settings = { ...app.settings };
            if (parsed === undefined) delete settings[key.field];
            else settings[key.field] = parsed;
            app = await tx.apps.update(app.name, { settings });
          }
          await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: name, details: { key: keyName, value: parsed ?? null } });
        }
      });
      for (const { keyName, key, parsed } of changes) {
        ctx.stdout.write(`-----> ${keyName} of ${appName} ${parsed === undefined ? `is back to the default: ${key.defaultText}` : `set to ${parsed}`}\n`);
      }
    },
  };
}

export const appSettingCommands: Command[] = Object.entries(NAMESPACES).map(([ns, keys]) => setCommand(ns, keys));
