// The cluster's peer certificate: one self-signed P-256 key pair every node of a cluster holds
// (in the shared cluster identity) and presents to the others, as server and as client. Each
// side takes only this exact certificate (it is the only CA, and its fingerprint is checked).
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { PEER_NAME, type PeerTls } from './client.js';

const YEARS = 20;

export async function makePeerCert(): Promise<[cert: string, key: string]> {
  const notBefore = new Date(Date.now() - 3600_000);
  const pems = await generate([{ name: 'commonName', value: PEER_NAME }, { name: 'organizationName', value: 'Gatehouse cluster' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + YEARS * 365 * 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: PEER_NAME }] },
    ],
  } as Parameters<typeof generate>[1]);
  return [pems.cert, pems.private];
}

export const peerTls = ([cert, key]: string[]): PeerTls => ({ cert: cert!, key: key!, fingerprint256: new X509Certificate(cert!).fingerprint256 });
