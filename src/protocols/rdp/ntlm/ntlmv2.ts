// NTLMv2 computations (MS-NLMP 3.3.2) and session key derivations (3.4.5). Pure functions
// of their inputs, so the published test vectors (4.2.4) pin them down.
import { createHash, createHmac } from 'node:crypto';
import { md4 } from './md4.js';
import { NTLMSSP } from './constants.js';

export const hmacMd5 = (key: Buffer, ...data: Buffer[]): Buffer => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};

const md5 = (...data: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest();
};

const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');

/** NT hash: MD4(UTF-16LE(password)). */
export const ntHash = (password: string): Buffer => md4(utf16(password));

/** NTOWFv2 (= LMOWFv2) = HMAC_MD5(NT hash, UTF-16LE(Uppercase(user) + domain)). */
export function ntowfv2(ntHashOrPassword: Buffer | string, user: string, domain: string): Buffer {
  const key = typeof ntHashOrPassword === 'string' ? ntHash(ntHashOrPassword) : ntHashOrPassword;
  return hmacMd5(key, utf16(user.toUpperCase() + domain));
}

export interface Ntlmv2Input {
  responseKey: Buffer;
  serverChallenge: Buffer;
  clientChallenge: Buffer;
  /** FILETIME: 100 ns ticks since 1601-01-01. */
  timestamp: bigint;
  /** The AV pairs to embed, EOL included. */
  targetInfo: Buffer;
}

export interface Ntlmv2Result {
  ntProofStr: Buffer;
  /** NTProofStr followed by the client blob ("temp"). */
  ntChallengeResponse: Buffer;
  /** LMv2: HMAC over both challenges, then the client challenge. */
  lmChallengeResponse: Buffer;
  sessionBaseKey: Buffer;
}

export function computeNtlmv2Response(i: Ntlmv2Input): Ntlmv2Result {
  const head = Buffer.alloc(28);
  head.writeUInt8(1, 0); // Responserversion
  head.writeUInt8(1, 1); // HiResponserversion
  head.writeBigUInt64LE(i.timestamp, 8);
  i.clientChallenge.copy(head, 16);
  const temp = Buffer.concat([head, i.targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(i.responseKey, i.serverChallenge, temp);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    lmChallengeResponse: Buffer.concat([hmacMd5(i.responseKey, i.serverChallenge, i.clientChallenge), i.clientChallenge]),
    sessionBaseKey: hmacMd5(i.responseKey, ntProofStr),
  };
}

const magic = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
const CLIENT_SIGN = magic('session key to client-to-server signing key magic constant');
const SERVER_SIGN = magic('session key to server-to-client signing key magic constant');
const CLIENT_SEAL = magic('session key to client-to-server sealing key magic constant');
const SERVER_SEAL = magic('session key to server-to-client sealing key magic constant');

/** SIGNKEY with extended session security. */
export const signKey = (exportedSessionKey: Buffer, direction: 'client-to-server' | 'server-to-client'): Buffer =>
  md5(exportedSessionKey, direction === 'client-to-server' ? CLIENT_SIGN : SERVER_SIGN);

/** SEALKEY with extended session security: the key is cut to 128, 56 or 40 bits first. */
export function sealKey(exportedSessionKey: Buffer, flags: number, direction: 'client-to-server' | 'server-to-client'): Buffer {
  const len = flags & NTLMSSP.NEGOTIATE_128 ? 16 : flags & NTLMSSP.NEGOTIATE_56 ? 7 : 5;
  return md5(exportedSessionKey.subarray(0, len), direction === 'client-to-server' ? CLIENT_SEAL : SERVER_SEAL);
}

/** Unix milliseconds → FILETIME. */
export const fileTime = (unixMs: number): bigint => (BigInt(Math.trunc(unixMs)) + 11644473600000n) * 10000n;
