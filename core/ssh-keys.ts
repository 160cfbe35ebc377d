// Parsing of OpenSSH public key lines ("ssh-ed25519 AAAA... comment"), with the
// same SHA256 fingerprint that `ssh-keygen -lf` prints.
import crypto from 'node:crypto';
import { ShipoffError } from './errors.js';

export const SUPPORTED_KEY_TYPES: readonly string[] = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

export interface PublicKey {
  type: string;
  /** The key blob, base64, as it appears in the line. */
  base64: string;
  comment: string;
  fingerprint: string;
  /** Canonical "type base64" line without the comment. */
  line: string;
}

function invalid(reason: string): ShipoffError {
  return new ShipoffError('SHIPOFF_INVALID_PUBLIC_KEY', { reason });
}

export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Accepts exactly one key line (blank lines around it are ignored). */
export function parsePublicKey(text: string): PublicKey {
  if (text.includes('PRIVATE KEY')) throw invalid('this is a private key; give the .pub file instead, and keep the private key secret');
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw invalid('the input is empty; pipe in a file such as ~/.ssh/id_ed25519.pub');
  if (lines.length > 1) throw invalid('give one key at a time');
  const line = lines[0]!;
  const [type = '', base64 = '', ...rest] = line.split(/\s+/);
  if (!SUPPORTED_KEY_TYPES.includes(type)) {
    throw invalid(`key type "${type.slice(0, 40)}" is not supported; use one of ${SUPPORTED_KEY_TYPES.join(', ')}`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw invalid('the key data is not base64');
  const blob = Buffer.from(base64, 'base64');
  // The blob starts with its own type as an SSH string: uint32 length + bytes.
  if (blob.length < 4) throw invalid('the key data is truncated');
  const typeLength = blob.readUInt32BE(0);
  if (typeLength > blob.length - 4 || blob.subarray(4, 4 + typeLength).toString('latin1') !== type) {
    throw invalid(`the key data does not hold a ${type} key`);
  }
  if (blob.length < 4 + typeLength + 16) throw invalid('the key data is truncated');
  return { type, base64, comment: rest.join(' '), fingerprint: fingerprintOf(blob), line: `${type} ${base64}` };
}
