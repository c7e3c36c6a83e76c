// TSplus-compatible logon tickets (seed 004, src/core/logon-tickets): the administrators' calls
// on the logon-ticket RSA key. The TSplus-compatible paths themselves (/socket.io/WCREDS,
// /socket.io/socket.io/LPW, /software/html5.html, /cgi-bin/hb.exe, each also under /~~<server>)
// answer text in TSplus's formats and are no API routes: see src/web/routes/logon-tickets.ts.
import { errors, int, obj, text } from './schema.js';
import { route } from './route.js';

const tags = ['logon-tickets'] as const;
const keySchema = obj({ fingerprint: text, bits: int });

export const logonTickets = {
  key: route('GET', '/api/v1/logon-tickets/key', {
    tags,
    summary: 'The logon-ticket RSA key: SHA-256 fingerprint of its public key and its size (needs administer)',
    response: { 200: keySchema, ...errors },
  }),
  rotateKey: route('POST', '/api/v1/logon-tickets/key/rotate', {
    tags,
    summary: 'A new logon-ticket RSA key in place of the old one (audited). Portals must fetch the public key again: requests encrypted with the old one are refused',
    response: { 200: obj({ fingerprint: text, previousFingerprint: text, bits: int }), ...errors },
  }),
} as const;
