// What the SSH door offers, in order of preference. Only what outside audits (ssh-audit)
// accept: no NIST curves (ECDH or ECDSA), no SHA-1 anywhere (no `ssh-rsa` signatures, no
// group14-sha1, no hmac-sha1), no encrypt-and-MAC (MACs are encrypt-then-MAC only; GCM and
// ChaCha20-Poly1305 need none), and compression only after authentication
// (`zlib@openssh.com`, never pre-auth `zlib`). Every stock client the tests drive (OpenSSH,
// PuTTY/plink, paramiko, asyncssh) has a match in each list.
// ssh2 adds `kex-strict-s-v00@openssh.com` itself (Terrapin countermeasure).
import type { Algorithms } from 'ssh2';

export const DOOR_ALGORITHMS: Algorithms = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512', 'diffie-hellman-group-exchange-sha256'],
  // ssh2 only consults this to order an RSA key's signature names and would still add
  // `ssh-rsa`; what is offered is decided by serverHostKeys() in host-keys.ts. Kept as the record.
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  cipher: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com', 'aes256-ctr', 'aes192-ctr', 'aes128-ctr'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none', 'zlib@openssh.com'],
};
