// Process types: the buildpack's `default_process_types` (bin/release output)
// overlaid with the app's Procfile, which wins for every name it declares.

const NAME = /^[a-zA-Z0-9_-]+$/;

/** `name: command` lines; blank lines and `#` comments are skipped, and so
 * are lines that do not have that shape (Heroku ignores them too). */
export function parseProcfile(text: string): Record<string, string> {
  const types: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const match = /^([a-zA-Z0-9_-]+)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(raw);
    if (!match || !match[2]) continue;
    types[match[1]!] = match[2];
  }
  return types;
}

/** The `default_process_types` map of bin/release's YAML. Only that shape is
 * read (a key line, then indented `name: command` lines), which is all the
 * buildpack API uses; a full YAML parser would be a dependency for nothing.
 * Several documents (one per buildpack of a multi-buildpack build) merge,
 * the later buildpack winning, as Heroku's multi buildpack does. */
export function parseReleaseYaml(text: string): Record<string, string> {
  const types: Record<string, string> = {};
  let inside = false;
  for (const raw of text.split(/\r?\n/)) {
    if (/^default_process_types:\s*(\{\s*\})?\s*$/.test(raw)) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (!/^\s/.test(raw)) {
      inside = false; // the next top-level key or document
      continue;
    }
    const match = /^\s+([^:\s]+)\s*:\s*(.*?)\s*$/.exec(raw);
    if (!match || !NAME.test(match[1]!) || !match[2]) continue;
    types[match[1]!] = unquote(match[2]);
  }
  return types;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1).replace(/''/g, "'");
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      return JSON.parse(value) as string;
    } catch {
      return value.slice(1, -1);
    }
  }
  return value;
}

export function mergeProcessTypes(defaults: Record<string, string>, procfile: Record<string, string> | null): Record<string, string> {
  return { ...defaults, ...(procfile ?? {}) };
}
