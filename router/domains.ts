// Custom domains and their certificates, as the router uses them: an
// in-memory table (a Map lookup per request, a ready TLS context per SNI
// name), loaded whole from the store and loaded again whenever the store
// says something changed (LISTEN shipoff_domains, signalled by triggers on
// domains, certificates and app renames: within milliseconds of the commit,
// whichever process made the change). A full reload every minute, and after
// the listening connection comes back, covers notifications that were missed.
import tls from 'node:tls';
import type pg from 'pg';
import { certificateCovers, DOMAINS_CHANNEL, type DomainsSnapshot } from '../core/index.js';

/** What the router asks of custom domains on every request and TLS handshake. */
export interface DomainLookup {
  /** The app HOST (lower case, no port) belongs to: an exact domain, else a wildcard one label up. */
  appFor(host: string): string | undefined;
  /** The TLS context for an SNI name: the certificate of the app the name belongs to, when it covers the name. */
  secureContextFor(servername: string): tls.SecureContext | undefined;
}

export interface DomainSource {
  load(): Promise<DomainsSnapshot>;
  /** A dedicated connection to LISTEN on; released (destroyed) by the table. */
  connect?(): Promise<pg.PoolClient>;
}

export interface DomainTableOptions {
  log?: (line: string) => void;
  /** Full reload period, as a backstop for lost notifications. Default 60 s. */
  refreshMs?: number;
  /** Wait before listening again after the connection was lost. Default 1 s. */
  reconnectMs?: number;
}

interface CertEntry {
  names: string[];
  fingerprint: string;
  context: tls.SecureContext;
}

export class DomainTable implements DomainLookup {
  private domains = new Map<string, string>();
  private certs = new Map<string, CertEntry>();
  private loading: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private client: pg.PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;
  /** Reloads done, for tests and /metrics-style curiosity. */
  loads = 0;

  constructor(
    private readonly source: DomainSource,
    private readonly options: DomainTableOptions = {},
  ) {
    this.log = options.log ?? (() => {});
  }

  appFor(host: string): string | undefined {
    if (this.domains.size === 0) return undefined;
    const exact = this.domains.get(host);
    if (exact !== undefined) return exact;
    const dot = host.indexOf('.');
    return dot > 0 ? this.domains.get('*' + host.slice(dot)) : undefined;
  }

  secureContextFor(servername: string): tls.SecureContext | undefined {
    const name = servername.toLowerCase();
    const app = this.appFor(name);
    const cert = app === undefined ? undefined : this.certs.get(app);
    return cert && certificateCovers(cert.names, name) ? cert.context : undefined;
  }

  /** Loads the table, then follows changes. Throws when the first load fails. */
  async start(): Promise<void> {
    await this.reload();
    if (this.source.connect) await this.listen().catch((err: Error) => this.lostListener(err));
    const refreshMs = this.options.refreshMs ?? 60_000;
    this.timer = setInterval(() => void this.reload().catch((err: Error) => this.log(` !     custom domains: reload failed: ${err.message}`)), refreshMs);
    this.timer.unref();
  }

  /** Loads everything again; calls made while a load runs share one more load after it. */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          this.apply(await this.source.load());
          this.loads++;
        } while (this.again && !this.closed);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private apply(snapshot: DomainsSnapshot): void {
    const certs = new Map<string, CertEntry>();
    for (const c of snapshot.certificates) {
      const had = this.certs.get(c.app);
      if (had && had.fingerprint === c.fingerprint) {
        certs.set(c.app, had);
        continue;
      }
      try {
        certs.set(c.app, { names: c.names, fingerprint: c.fingerprint, context: tls.createSecureContext({ cert: c.certPem, key: c.keyPem }) });
      } catch (err) {
        this.log(` !     custom domains: the certificate of ${c.app} cannot be used: ${(err as Error).message}`);
      }
    }
    this.domains = new Map(snapshot.domains.map((d) => [d.domain, d.app]));
    this.certs = certs;
  }

  private async listen(): Promise<void> {
    const client = await this.source.connect!();
    if (this.closed) return void client.release(true);
    this.client = client;
    const onLost = (err: Error): void => {
      if (this.client !== client) return;
      this.client = undefined;
      client.release(true);
      this.lostListener(err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === DOMAINS_CHANNEL) void this.reload().catch((err: Error) => this.log(` !     custom domains: reload failed: ${err.message}`));
    });
    try {
      await client.query(`LISTEN ${DOMAINS_CHANNEL}`);
    } catch (err) {
      if (this.client === client) {
        this.client = undefined;
        client.release(true);
      }
      throw err;
    }
  }

  private lostListener(err: Error): void {
    if (this.closed) return;
    this.log(` !     custom domains: lost the store's notifications (${err.message}); listening again in a moment`);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      void this.listen()
        // Changes made while nobody listened: read everything again.
        .then(() => this.reload())
        .catch((e: Error) => this.lostListener(e));
    }, this.options.reconnectMs ?? 1_000);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${DOMAINS_CHANNEL}`).catch(() => {});
      client.release(true);
    }
    await this.loading?.catch(() => {});
  }
}
