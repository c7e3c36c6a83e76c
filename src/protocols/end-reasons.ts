// The end reasons doors give a session when the target, not the person, ended it before
// it began. They land in the session record and the session.end audit event, so they say
// what happened ("the target refused the credential"), not what it looked like from the
// person's side (a disconnect).

/** The target rejected the vaulted password or key (SSH auth, Telnet login, RDP NLA). */
export const TARGET_REFUSED_CREDENTIAL = 'target refused the vaulted credential';

/** The target could not be reached or logged on to for another reason (kind: network, timeout, hostkey …). */
export const targetConnectFailed = (kind: string): string => `target connection failed (${kind})`;
