// The host's configuration: environment variables with defaults, validated
// once at start so a bad value stops the host with a clear message instead of
// failing somewhere later.
import os from 'node:os';
import path from 'node:path';
import { ShipoffError } from './errors.js';
import { isValidHostname } from './names.js';

export interface Settings {
  /** Where the host keeps everything: repositories, the embedded database, the master key. */
  dataDir: string;
  /** Base domain: apps answer at http://APP.<domain>:<httpPort>/. */
  domain: string;
  httpPort: number;
  sshPort: number;
  /** An external PostgreSQL server; undefined means the embedded one. */
  databaseUrl: string | undefined;
  /** Builds that may run at once across apps. */
  buildConcurrency: number;
}

export interface SettingDoc {
  name: string;
  default: string;
  description: string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  // As root the embedded database runs as a dedicated system user, which
  // cannot enter /root; a system-wide location works for both.
  if (process.getuid?.() === 0) return '/var/lib/shipoff';
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'shipoff');
}

export const SETTING_DOCS: readonly SettingDoc[] = [
  { name: 'SHIPOFF_DATA', default: '/var/lib/shipoff as root, else ~/.local/share/shipoff', description: 'data directory: git repositories, build caches, the embedded database, the master key' },
  { name: 'SHIPOFF_DOMAIN', default: 'localhost', description: 'base domain; an app answers at http://APP.<domain>:<port>/' },
  { name: 'SHIPOFF_HTTP_PORT', default: '8080', description: 'port of the router (apps, git over HTTP, /healthz); 0 picks a free one' },
  { name: 'SHIPOFF_SSH_PORT', default: '2222', description: 'port of the SSH server (git push, admin commands); 0 picks a free one' },
  { name: 'SHIPOFF_BUILD_CONCURRENCY', default: '2', description: 'builds that may run at once across apps (pushes beyond it wait their turn)' },
  { name: 'DATABASE_URL', default: '(unset: embedded PostgreSQL)', description: 'postgres://user:pass@host:port/db of an external PostgreSQL server' },
];

function bad(name: string, rule: string, value: string): ShipoffError {
  return new ShipoffError('SHIPOFF_BAD_ENV', { name, rule, value });
}

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw bad(name, 'must be a port number from 0 to 65535', raw);
  }
  return Number(raw);
}

function parseDatabaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('DATABASE_URL', 'must be a URL like postgres://user:password@host:5432/shipoff', redact(raw));
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw bad('DATABASE_URL', 'must start with postgres:// or postgresql://', redact(raw));
  }
  return raw;
}

/** Never echo a password back into a terminal or a log. */
function redact(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const rawData = env.SHIPOFF_DATA;
  if (rawData !== undefined && rawData.trim() === '') throw bad('SHIPOFF_DATA', 'must be a directory path', rawData);
  if (rawData !== undefined && rawData.includes('\0')) throw bad('SHIPOFF_DATA', 'must not contain NUL bytes', rawData);
  const dataDir = path.resolve(rawData ?? defaultDataDir(env));

  const domain = (env.SHIPOFF_DOMAIN ?? 'localhost').toLowerCase();
  if (!isValidHostname(domain)) {
    throw bad('SHIPOFF_DOMAIN', 'must be a host name such as localhost or apps.example.com', env.SHIPOFF_DOMAIN ?? '');
  }

  const httpPort = parsePort('SHIPOFF_HTTP_PORT', env.SHIPOFF_HTTP_PORT, 8080);
  const sshPort = parsePort('SHIPOFF_SSH_PORT', env.SHIPOFF_SSH_PORT, 2222);
  if (httpPort !== 0 && httpPort === sshPort) {
    throw bad('SHIPOFF_SSH_PORT', 'must differ from SHIPOFF_HTTP_PORT', String(sshPort));
  }
  const rawConcurrency = env.SHIPOFF_BUILD_CONCURRENCY;
  let buildConcurrency = 2;
  if (rawConcurrency !== undefined && rawConcurrency !== '') {
    if (!/^\d{1,2}$/.test(rawConcurrency) || Number(rawConcurrency) < 1 || Number(rawConcurrency) > 64) {
      throw bad('SHIPOFF_BUILD_CONCURRENCY', 'must be a whole number from 1 to 64', rawConcurrency);
    }
    buildConcurrency = Number(rawConcurrency);
  }
  return { dataDir, domain, httpPort, sshPort, databaseUrl: parseDatabaseUrl(env.DATABASE_URL), buildConcurrency };
}
