// Temporary directories that tests remove in teardown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory that a non-root system user can enter (the embedded server needs that). */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shipoff-${prefix}-`));
  fs.chmodSync(dir, 0o711);
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
