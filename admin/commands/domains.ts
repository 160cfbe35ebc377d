// Custom domains, Dokku style: an app answers at APP.<SHIPOFF_DOMAIN> and at
// every domain given to it here (point the domain's DNS at this host).
//   domains:add    APP DOMAIN
//   domains:remove APP DOMAIN
//   domains:list   APP [--json]
// Routers pick changes up within milliseconds (LISTEN shipoff_domains).
import { certificateCovers, CUSTOM_DOMAIN_RULE, normalizeCustomDomain, ShipoffError } from '../../core/index.js';
import { actorName, type Command } from '../registry.js';
import { appForChange, appForRead } from './app-lookup.js';


const DOMAIN_HELP = `  DOMAIN   ${CUSTOM_DOMAIN_RULE}.
           Refused: the host's own names (SHIPOFF_DOMAIN and anything under it),
           and a domain another app has. An exact domain wins over a wildcard.`;

export const domainsAdd: Command = {
  name: 'domains:add',
  group: 'domains',
  summary: 'Make an app answer at DOMAIN too (over HTTP, and HTTPS once certs:add gives it a certificate)',
  usage: 'APP DOMAIN',
  description: DOMAIN_HELP + '\n\nNeeds the admin or owner role on the app.',
  arity: [2, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, given] = args.positionals as [string, string];
    const domain = normalizeCustomDomain(given, ctx.settings.domain);
    const added = await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      const isNew = await tx.domains.add(app.id, domain);
      if (isNew) await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'domains:add', details: { domain } });
      return isNew;
    });
    ctx.stdout.write(added ? `-----> Added ${domain} to ${appName}\n` : `-----> ${appName} already answers at ${domain}; nothing changed\n`);
  },
};

export const domainsRemove: Command = {
  name: 'domains:remove',
  group: 'domains',
  summary: 'Stop an app answering at DOMAIN',
  usage: 'APP DOMAIN',
  description: 'Needs the admin or owner role on the app. Its certificate stays (certs:remove takes it away).',
  arity: [2, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, given] = args.positionals as [string, string];
    const domain = given.toLowerCase().replace(/\.$/, '');
    await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      if (!(await tx.domains.remove(app.id, domain))) throw new ShipoffError('SHIPOFF_DOMAIN_NOT_FOUND', { app: app.name, domain: domain.slice(0, 300) });
      await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'domains:remove', details: { domain } });
    });
    ctx.stdout.write(`-----> Removed ${domain} from ${appName}\n`);
  },
};

export const domainsList: Command = {
  name: 'domains:list',
  group: 'domains',
  summary: "List an app's domains, and which of them its certificate serves over HTTPS",
  usage: 'APP [--json]',
  description: 'Any role on the app will do.',
  options: { json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    const { app, domains, cert } = await ctx.store.transaction(async (tx) => {
      const app = await appForRead(ctx, tx, appName);
      return { app, domains: await tx.domains.list(app.id), cert: await tx.domains.certificate(app.id) };
    });
    const rows = domains.map((d) => ({ domain: d.domain, https: cert !== undefined && certificateCovers(cert.names, d.domain), createdAt: d.createdAt.toISOString() }));
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify({ app: app.name, default: `${app.name}.${ctx.settings.domain}`, domains: rows }, null, 2) + '\n');
      return;
    }
    ctx.stdout.write(`=====> ${app.name} domains\n${app.name}.${ctx.settings.domain} (the host's name for it)\n`);
    const width = Math.max(0, ...rows.map((r) => r.domain.length)) + 2;
    for (const r of rows) ctx.stdout.write(`${r.domain.padEnd(width)}${r.https ? 'http, https' : 'http'}\n`);
    if (rows.length === 0) ctx.stdout.write(`(no custom domains; add one with: shipoff domains:add ${app.name} DOMAIN)\n`);
  },
};

export const domainCommands: Command[] = [domainsAdd, domainsRemove, domainsList];
