// Config vars are encrypted at rest with AES-256-GCM under a master key that
// lives only in the data directory (mode 0600), never in the database: a copy
// of the database alone reveals no secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ShipoffError } from './errors.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_V1 = 1;

export const MASTER_KEY_FILE = 'master.key';

/**
 * Reads the master key, creating it on first start. Creation uses O_EXCL so two
 * processes starting at once agree on one key.
 */
export function loadOrCreateMasterKey(dataDir: string): Buffer {
  const file = path.join(dataDir, MASTER_KEY_FILE);
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, crypto.randomBytes(KEY_BYTES).toString('base64') + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ShipoffError('SHIPOFF_MASTER_KEY', { path: file, reason: `could not be created: ${(err as Error).message}` });
    }
  }
  return readMasterKey(file);
}

function readMasterKey(file: string): Buffer {
  let stat: fs.Stats;
  let text: string;
  // A key being written by another process may be briefly empty.
  for (let attempt = 0; ; attempt++) {
    stat = fs.statSync(file);
    text = fs.readFileSync(file, 'utf8').trim();
    if (text !== '' || attempt > 50) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new ShipoffError('SHIPOFF_MASTER_KEY', {
      path: file,
      reason: `is readable by other users (mode ${(stat.mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
    });
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new ShipoffError('SHIPOFF_MASTER_KEY', { path: file, reason: `does not hold a ${KEY_BYTES}-byte base64 key; restore it from a backup` });
  }
  return key;
}

/**
 * Encrypts with a fresh random IV. `context` is bound as additional data, so a
 * ciphertext copied to another row (another app or key) fails to decrypt.
 * Layout: version(1) | iv(12) | tag(16) | ciphertext.
 */
export function seal(masterKey: Buffer, plaintext: string, context: string): Buffer {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
}

export function open(masterKey: Buffer, sealed: Buffer, context: string): string {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) {
    throw new Error('encrypted value has an unknown format');
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = crypto.createDecipheriv('aes-256-gcm', masterKey, iv);
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}
