// The pieces of a cluster's shared identity (core/cluster/identity.ts keeps them in the
// database, sealed, and writes them where the loaders read them): the SSH door's host keys, the
// self-signed TLS certificate (unless the operator gives one with GATEHOUSE_TLS_CERT/KEY: then
// every node must be given the same), the audit signing key, the logon-ticket RSA key, and the
// peer certificate nodes authenticate each other with (held in memory only). Named here, next
// to server.ts, because making them takes the protocols' and the TLS code's knowledge.
import type { Config } from './config.js';
import type { IdentityPiece } from './core/cluster/identity.js';
import { newSigningKeyPem, SIGNING_KEY_FILE } from './core/audit/signer.js';
import { LOGON_KEY_FILE, newPem as newLogonKeyPem } from './core/logon-tickets/rsa-key.js';
import { HOST_KEY_FILES, makeEd25519, makeRsaHostKey } from './protocols/ssh/host-keys.js';
import { makeSelfSigned, SELF_SIGNED_FILES } from './tls.js';
import { makePeerCert } from './web/peer/cert.js';

const SECRET = 0o600;

export const PEER_PIECE = 'peer-certificate';
export const TLS_PIECE = 'tls-certificate';
export const LOGON_KEY_PIECE = 'logon-ticket-key';

export function clusterIdentityPieces(config: Config): IdentityPiece[] {
  const tls: IdentityPiece[] = config.tlsCertFile
    ? []
    : [
        {
          name: TLS_PIECE,
          files: [
            { file: SELF_SIGNED_FILES.cert, mode: 0o644 },
            { file: SELF_SIGNED_FILES.key, mode: SECRET },
          ],
          make: async () => {
            const { cert, key } = await makeSelfSigned();
            return [cert, key];
          },
        },
      ];
  return [
    { name: 'ssh-host-key-ed25519', files: [{ file: HOST_KEY_FILES.ed25519, mode: SECRET }], make: () => [makeEd25519()] },
    { name: 'ssh-host-key-rsa', files: [{ file: HOST_KEY_FILES.rsa, mode: SECRET }], make: () => [makeRsaHostKey()] },
    ...tls,
    { name: 'audit-signing-key', files: [{ file: SIGNING_KEY_FILE, mode: SECRET }], make: () => [newSigningKeyPem()] },
    { name: LOGON_KEY_PIECE, files: [{ file: LOGON_KEY_FILE, mode: SECRET }], make: () => [newLogonKeyPem()] },
    { name: PEER_PIECE, files: [], make: makePeerCert },
  ];
}
