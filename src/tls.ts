// TLS material: the operator's certificate when configured, else a self-signed one made
// at first start and kept in the data dir (RSA for the widest RDP client support).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  fingerprint256: string;
  selfSigned: boolean;
}

export async function loadTls(dataDir: string, files?: { cert?: string; key?: string }): Promise<TlsMaterial> {
  if (files?.cert && files.key) {
    const cert = readFileSync(files.cert, 'utf8');
    return { key: readFileSync(files.key, 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256, selfSigned: false };
  }
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const now = new Date();
    const pems = await generate([{ name: 'commonName', value: hostname() || 'gatehouse' }, { name: 'organizationName', value: 'Gatehouse (self-signed)' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 3600_000),
      notAfterDate: new Date(now.getTime() + 825 * 86400_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: hostname() || 'gatehouse' }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
      ],
    } as Parameters<typeof generate>[1]);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  const cert = readFileSync(certFile, 'utf8');
  return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256, selfSigned: true };
}
