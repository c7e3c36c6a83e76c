// What the audit trail is verified against, kept outside the database: the pinned public
// signing keys (`audit-signing.pub` in the data dir, or GATEHOUSE_AUDIT_PUBLIC_KEY, or
// `--public-key`) and anchors — signed checkpoints kept elsewhere (`audit-anchor.json` in
// the data dir, rewritten at every checkpoint, and files exported with
// `gatehouse audit checkpoint export`). Someone who can only write to the database can
// neither add a trusted key nor move an anchor.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { AuditSigner, fingerprintOf, keyIdOf } from './signer.js';

export const PINNED_KEYS_FILE = 'audit-signing.pub';
export const ANCHOR_FILE = 'audit-anchor.json';
export const CHECKPOINT_FORMAT = 'gatehouse-audit-checkpoint/1';

export class PinningError extends Error {}

/** A checkpoint as stored in the database and signed (message v2 when createdAt is signed). */
export interface Checkpoint {
  seq: number;
  hash: string;
  signature: string;
  keyId: string;
  createdAt: number;
}

/** A checkpoint held outside the database, and where it came from (for messages). */
export interface Anchor extends Checkpoint {
  source: string;
}

/** The portable form: what `audit checkpoint export` prints and what an anchor file holds. */
export interface ExportedCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  seq: number;
  hash: string;
  ts: string;
  keyId: string;
  fingerprint: string | null;
  signature: string;
}

export function exportCheckpoint(cp: Checkpoint, publicKeyPem: string | null): ExportedCheckpoint {
  return { format: CHECKPOINT_FORMAT, seq: cp.seq, hash: cp.hash, ts: new Date(cp.createdAt).toISOString(), keyId: cp.keyId, fingerprint: publicKeyPem ? fingerprintOf(publicKeyPem) : null, signature: cp.signature };
}

// ---- pinned keys

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/** Ed25519 public keys from PEM blocks and/or one-line base64 SPKI keys; '#' starts a comment line. */
export function parsePublicKeys(text: string, source: string): string[] {
  const out: string[] = [];
  const add = (key: Parameters<typeof createPublicKey>[0], what: string) => {
    let k;
    try {
      k = createPublicKey(key);
    } catch {
      throw new PinningError(`${source}: ${what} is not a public key`);
    }
    if (k.asymmetricKeyType !== 'ed25519') throw new PinningError(`${source}: ${what} is a ${k.asymmetricKeyType} key, not Ed25519`);
    const pem = k.export({ type: 'spki', format: 'pem' }).toString();
    if (!out.includes(pem)) out.push(pem);
  };
  for (const block of text.match(PEM_BLOCK) ?? []) add(block, 'a PEM block');
  for (const raw of text.replace(PEM_BLOCK, '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) throw new PinningError(`${source}: cannot read "${line.slice(0, 40)}" (expected PEM public keys or one base64 key per line)`);
    add({ key: Buffer.from(line, 'base64'), format: 'der', type: 'spki' }, `"${line.slice(0, 24)}…"`);
  }
  if (!out.length) throw new PinningError(`${source}: holds no public key`);
  return out;
}

export interface PinnedKeys {
  keys: string[];
  source: string;
}

/**
 * The keys checkpoints are verified against: GATEHOUSE_AUDIT_PUBLIC_KEY (a file, PEM text
 * or one base64 key) when set, otherwise `audit-signing.pub` in the data dir; null when
 * neither exists.
 */
export function loadPinnedKeys(dataDir: string, configured?: string): PinnedKeys | null {
  if (configured) {
    if (existsSync(configured)) return { keys: parsePublicKeys(readFileSync(configured, 'utf8'), configured), source: configured };
    if (!configured.includes('-----BEGIN') && !/^[A-Za-z0-9+/=\s]+$/.test(configured)) throw new PinningError(`GATEHOUSE_AUDIT_PUBLIC_KEY: names a file that does not exist: ${configured}`);
    return { keys: parsePublicKeys(configured.replace(/\\n/g, '\n'), 'GATEHOUSE_AUDIT_PUBLIC_KEY'), source: 'GATEHOUSE_AUDIT_PUBLIC_KEY' };
  }
  const file = join(dataDir, PINNED_KEYS_FILE);
  return existsSync(file) ? { keys: parsePublicKeys(readFileSync(file, 'utf8'), file), source: file } : null;
}

const keyBlock = (pem: string) => `# key ${keyIdOf(pem)} ${fingerprintOf(pem)} pinned ${new Date().toISOString()}\n${pem.trim()}\n`;

/**
 * Makes sure the node's own signing key is pinned in the data dir: writes the file at first
 * start, and appends a new key (after the key file was replaced to rotate it) so checkpoints
 * signed by the older keys keep verifying.
 */
export function pinSigningKey(dataDir: string, signer: AuditSigner): 'created' | 'added' | 'present' {
  const file = join(dataDir, PINNED_KEYS_FILE);
  if (!existsSync(file)) {
    writeFileSync(
      file,
      '# Gatehouse audit signing keys (public). Audit checkpoints are trusted only if one of these\n' +
        '# keys signed them. Keep a copy elsewhere; add the keys of other gateway nodes here.\n' +
        keyBlock(signer.publicKeyPem),
      { flag: 'wx' },
    );
    chmodSync(file, 0o644);
    return 'created';
  }
  if (parsePublicKeys(readFileSync(file, 'utf8'), file).includes(signer.publicKeyPem)) return 'present';
  writeFileSync(file, keyBlock(signer.publicKeyPem), { flag: 'a' });
  return 'added';
}

// ---- anchors

/** Reads checkpoints from an exported checkpoint, a list of them, or an anchor file ({latest, witnessed}). */
export function parseAnchors(text: string, source: string): Anchor[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new PinningError(`${source}: not JSON (expected the output of \`gatehouse audit checkpoint export\`)`);
  }
  return anchorsFrom(v, source);
}

export function anchorsFrom(v: unknown, source: string): Anchor[] {
  const items: unknown[] = Array.isArray(v) ? v : v && typeof v === 'object' && 'latest' in v ? [(v as { latest: unknown }).latest, ...((v as { witnessed?: unknown[] }).witnessed ?? [])].filter(Boolean) : [v];
  return items.map((x, i) => {
    const o = x as Partial<ExportedCheckpoint>;
    const createdAt = typeof o?.ts === 'string' ? Date.parse(o.ts) : NaN;
    if (!o || typeof o !== 'object' || !Number.isSafeInteger(o.seq) || o.seq! < 1 || typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash) || typeof o.signature !== 'string' || typeof o.keyId !== 'string' || Number.isNaN(createdAt)) {
      throw new PinningError(`${source}: checkpoint ${i + 1} lacks seq, hash, ts, keyId or signature`);
    }
    return { seq: o.seq!, hash: o.hash, signature: o.signature, keyId: o.keyId, createdAt, source };
  });
}

export function readAnchorFile(file: string): Anchor[] {
  return existsSync(file) ? parseAnchors(readFileSync(file, 'utf8'), file) : [];
}

/** Rewrites the data dir's anchor file atomically (a crash leaves the old or the new one). */
export function writeAnchorFile(file: string, latest: ExportedCheckpoint | null, witnessed: ExportedCheckpoint[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ latest, witnessed }, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** The anchor file's current contents in the portable form (witnessed checkpoints are kept forever). */
export function readAnchorFileRaw(file: string): { latest: ExportedCheckpoint | null; witnessed: ExportedCheckpoint[] } {
  if (!existsSync(file)) return { latest: null, witnessed: [] };
  parseAnchors(readFileSync(file, 'utf8'), file);
  const v = JSON.parse(readFileSync(file, 'utf8'));
  return { latest: v.latest ?? null, witnessed: Array.isArray(v.witnessed) ? v.witnessed : [] };
}
