// TLS material: the operator's certificate when configured, else a self-signed one made
// at first start and kept in the data dir (RSA for the widest RDP client support).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

// The HTTPS listener: TLS 1.2 and 1.3 with forward-secret AEAD suites only (ECDHE with
// AES-GCM or ChaCha20-Poly1305; no CBC, no static RSA key exchange), server's order first.
// The TLS 1.3 names are listed too: a cipher list without any of them turns TLS 1.3 off.
export const HTTPS_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_AES_128_GCM_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
  ].join(':'),
  honorCipherOrder: true,
} as const;

/** Longest validity of the self-signed certificate (the CA/Browser and Apple limit). */
export const SELF_SIGNED_MAX_DAYS = 825;

export interface TlsMaterial {
  key: string;
  cert: string;
  fingerprint256: string;
  selfSigned: boolean;
  /** Why the stored self-signed certificate was replaced at this start (its fingerprint changed). */
  renewed?: string;
}

export async function loadTls(dataDir: string, files?: { cert?: string; key?: string }): Promise<TlsMaterial> {
  if (files?.cert && files.key) {
    const cert = readFileSync(files.cert, 'utf8');
    return { key: readFileSync(files.key, 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256, selfSigned: false };
  }
  const certFile = join(dataDir, SELF_SIGNED_FILES.cert);
  const keyFile = join(dataDir, SELF_SIGNED_FILES.key);
  const renew = existsSync(certFile) && existsSync(keyFile) ? renewalReason(readFileSync(certFile, 'utf8')) : undefined;
  if (!existsSync(certFile) || !existsSync(keyFile) || renew) {
    const pems = await makeSelfSigned();
    writeFileSync(keyFile, pems.key, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  const cert = readFileSync(certFile, 'utf8');
  return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256, selfSigned: true, ...(renew ? { renewed: renew } : {}) };
}

/** The self-signed certificate files in the data dir (a cluster shares them: src/cluster-identity.ts). */
export const SELF_SIGNED_FILES = { cert: 'tls-cert.pem', key: 'tls-key.pem' } as const;

/** A new self-signed certificate and key (PEM). */
export async function makeSelfSigned(): Promise<{ cert: string; key: string }> {
  // An hour back for clients whose clocks lag; the whole period stays within the limit.
  const notBefore = new Date(Date.now() - 3600_000);
  const pems = await generate([{ name: 'commonName', value: hostname() || 'gatehouse' }, { name: 'organizationName', value: 'Gatehouse (self-signed)' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + SELF_SIGNED_MAX_DAYS * 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname() || 'gatehouse' }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  } as Parameters<typeof generate>[1]);
  return { cert: pems.cert, key: pems.private };
}

// A self-signed certificate of ours is replaced at start when clients would refuse it: valid
// longer than the limit (older versions made 825 days and an hour), expired, or about to be.
function renewalReason(pem: string): string | undefined {
  const c = new X509Certificate(pem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (to - from > SELF_SIGNED_MAX_DAYS * 86400_000) return `it was valid for more than ${SELF_SIGNED_MAX_DAYS} days`;
  if (to - Date.now() < 30 * 86400_000) return to < Date.now() ? 'it had expired' : 'it expires within 30 days';
  return undefined;
}
