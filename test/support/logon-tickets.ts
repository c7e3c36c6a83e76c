// What an external portal does for a TSplus logon ticket (seed 004), with Node's crypto only:
// the public key from WCREDS' modulus:exponent, the credential text RSA-encrypted with PKCS#1
// v1.5 (as the seed's C# sample) and put in base64.
import { constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';

/** The public key from the WCREDS answer ("modulus:exponent" in hex). */
export function keyFromModulusExponent(answer: string): KeyObject {
  const [n, e] = answer.split(':') as [string, string];
  const b64 = (hex: string) => Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
  return createPublicKey({ key: { kty: 'RSA', n: b64(n), e: b64(e) }, format: 'jwk' });
}

/** base64(RSA-PKCS#1 v1.5("WinUser=…&WinPassword=…[&WinLPWphrase=…]")). */
export function encryptCredentials(answer: string, text: string): string {
  return publicEncrypt({ key: keyFromModulusExponent(answer), padding: constants.RSA_PKCS1_PADDING }, Buffer.from(text, 'utf8')).toString('base64');
}
