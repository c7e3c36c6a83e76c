// What Active Directory does differently from other LDAP directories for account operations:
// a password is written to `unicodePwd` as the UTF-16LE bytes of the password in double
// quotes (never read back, only over an encrypted connection), and an account is disabled by
// the ACCOUNTDISABLE bit of `userAccountControl`. Pure functions, unit-tested on the bytes.

/** userAccountControl bits (MS-ADTS 2.2.16). */
export const UAC_ACCOUNTDISABLE = 0x0002;
export const UAC_NORMAL_ACCOUNT = 0x0200;

/** The value AD takes in `unicodePwd`: `"password"` encoded as UTF-16LE, without a byte-order mark. */
export function encodeUnicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

/** userAccountControl with the account disabled (other bits kept). */
export function disabledUserAccountControl(current: number): number {
  return (current | UAC_ACCOUNTDISABLE) >>> 0;
}

/** sAMAccountName is limited to 20 characters. */
export const AD_SAM_MAX = 20;
