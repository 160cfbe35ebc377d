// Rules for names that users type. They are checked here, at the edge, before
// any file, container or row is touched, and never reach a shell.
import { ShipoffError } from './errors.js';

export const APP_NAME_RULE =
  'use lowercase letters, digits and dashes, start with a letter, end with a letter or digit, at most 63 characters';

/** Names the host uses for itself in host names and paths. */
export const RESERVED_APP_NAMES: ReadonlySet<string> = new Set([
  'git', 'www', 'api', 'admin', 'shipoff', 'dashboard', 'healthz', 'metrics', 'localhost', 'static', 'assets',
]);

const APP_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function appNameProblem(name: string): string | undefined {
  if (!APP_NAME.test(name)) return APP_NAME_RULE;
  if (name.includes('--')) return 'no two dashes in a row (they are reserved for punycode host names)';
  if (RESERVED_APP_NAMES.has(name)) return `"${name}" is reserved by the host; pick another name`;
  return undefined;
}

export function assertAppName(name: string): string {
  const problem = appNameProblem(name);
  if (problem) throw new ShipoffError('SHIPOFF_INVALID_APP_NAME', { name, rule: problem });
  return name;
}

export const USER_NAME_RULE = 'use lowercase letters, digits, dots, dashes and underscores, start with a letter, at most 32 characters';
const USER_NAME = /^[a-z][a-z0-9._-]{0,31}$/;

export function assertUserName(name: string): string {
  if (!USER_NAME.test(name)) throw new ShipoffError('SHIPOFF_INVALID_USER_NAME', { name, rule: USER_NAME_RULE });
  return name;
}

export const CONFIG_KEY_RULE = 'keys match ^[A-Za-z_][A-Za-z0-9_]*$ (letters, digits and underscores, not starting with a digit)';
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertConfigKey(key: string): string {
  if (!CONFIG_KEY.test(key) || key.length > 255) throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: CONFIG_KEY_RULE });
  return key;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isValidHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => LABEL.test(label));
}
