// The config arithmetic of releases made without a build: what a change
// makes of the app's config, and writing exactly that back to the store.
import type { Formation, Store } from '../core/index.js';

/** Config vars to set and to remove. */
export type ConfigChanges = { set?: Record<string, string>; unset?: string[] };

export const sameConfig = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

export function applyChanges(config: Record<string, string>, changes: ConfigChanges | undefined): Record<string, string> {
  const next = { ...config, ...(changes?.set ?? {}) };
  for (const key of changes?.unset ?? []) delete next[key];
  return Object.fromEntries(Object.entries(next).sort(([a], [b]) => a.localeCompare(b)));
}

/** Makes the app's stored config exactly TO (given that it is FROM now). */
export async function replaceConfig(store: Store, appId: number, from: Record<string, string>, to: Record<string, string>): Promise<void> {
  const gone = Object.keys(from).filter((k) => !(k in to));
  const changed = Object.fromEntries(Object.entries(to).filter(([k, v]) => from[k] !== v));
  if (Object.keys(changed).length > 0) await store.config.set(appId, changed);
  if (gone.length > 0) await store.config.unset(appId, gone);
}

/** web=2 worker=1 */
export const formatFormation = (f: Formation): string =>
  Object.entries(f)
    .map(([t, n]) => `${t}=${n}`)
    .join(' ') || 'no process types';
