// The account operator for Windows/RDP targets (issue 12, point 3: "RDP via an NLA
// authentication only"): the heartbeat logs on with the stored password through the same
// connector the RDP door uses (targets/rdp.ts), asking for NLA only and stopping at CredSSP's
// verdict, before the password is delegated and before any MCS or session: the target accepts
// the NTLM logon ('ok') or refuses it ('refused'). Nothing else: a Windows password is changed
// where it lives (a directory, kind ldap; a Linux host running xrdp, kind linux), so every
// other operation is refused as invalid. Handed to the core by server.ts as `rdpNlaOperator`.
import { OperatorError, type AccountOperator, type OperatorCredential } from '../../../core/broker.js';
import { connectRdp, TargetError } from '../rdp.js';

const CONNECT_TIMEOUT_MS = 15_000;

const NOT_SUPPORTED = 'RDP targets support the heartbeat only: password changes, just-in-time accounts and access levels need a management link to a directory or a Linux host';

/** A failed NLA logon as the heartbeat reads it: the target's own refusal, or why it could not be asked (socket-free). */
export function nlaVerdict(e: unknown): 'refused' | OperatorError {
  if (!(e instanceof TargetError)) return new OperatorError('error', 'the NLA logon failed');
  if (e.kind === 'auth' && e.refused) return 'refused';
  if (e.kind === 'no_nla') return new OperatorError('invalid', e.message);
  if (e.kind === 'credential_missing') return new OperatorError('invalid', e.message);
  return new OperatorError('unreachable', e.message);
}

/** The NLA logon of an account: its user name, and its domain (the secret's domain field,
 *  else DOMAIN\name or name@domain as given, which NTLM takes as they are). */
export function nlaLogon(account: OperatorCredential, password: string) {
  if (!password) throw new OperatorError('invalid', 'the secret stores no password to check');
  const m = /^([^\\]+)\\(.+)$/.exec(account.username);
  if (!account.domain && m) return { domain: m[1]!, username: m[2]!, password };
  return { domain: account.domain ?? '', username: account.username, password };
}

const notSupported = async (): Promise<never> => {
  throw new OperatorError('invalid', NOT_SUPPORTED);
};

export const rdpNlaOperator: AccountOperator = {
  kind: 'windows',
  heartbeatOnly: true,
  async verify(account, password) {
    const logon = nlaLogon(account, password);
    try {
      const c = await connectRdp({ host: account.host, port: account.port }, { connectTimeoutMs: CONNECT_TIMEOUT_MS, logon, nlaOnly: true });
      c.socket.destroy();
      return 'ok';
    } catch (e) {
      const v = nlaVerdict(e);
      if (v === 'refused') return v;
      throw v;
    }
  },
  changePassword: notSupported,
  createAccount: notSupported,
  disableAccount: notSupported,
  removeAccount: notSupported,
  addToGroups: notSupported,
  removeFromGroups: notSupported,
  listAccounts: notSupported,
};
