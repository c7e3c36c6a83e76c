// The NTLMv2 client side (MS-NLMP 3.1.5.1): NEGOTIATE, then CHALLENGE in and
// AUTHENTICATE out, leaving an NtlmSessionSecurity for CredSSP's sealed messages.
// Gatehouse is the client here, logging on to the target with a vaulted credential.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { RdpProtocolError } from '../errors.js';
import { AV, AV_FLAGS, CLIENT_FLAGS, NTLMSSP, ntlmVersion } from './constants.js';
import { encodeAvPairs, type AvPair } from './av-pairs.js';
import { AUTHENTICATE_MIC_OFFSET, buildAuthenticateMessage, buildNegotiateMessage, parseChallengeMessage, type ChallengeMessage } from './messages.js';
import { computeNtlmv2Response, fileTime, hmacMd5, ntHash, ntowfv2 } from './ntlmv2.js';
import { rc4 } from './rc4.js';
import { NtlmSessionSecurity } from './session-security.js';

export interface NtlmClientOptions {
  username: string;
  domain: string;
  /** The password, or its NT hash. */
  password?: string;
  ntHash?: Buffer;
  /** Sent in AUTHENTICATE; Windows shows it in logon events. */
  workstation?: string;
  /** NEGOTIATE flags (default CLIENT_FLAGS). */
  flags?: number;
  /** VERSION field (default 10.0.20348). */
  version?: Buffer;
  /** MsvAvTargetName, e.g. `TERMSRV/host`. */
  targetName?: string;
  /** MsvAvChannelBindings: the 16-byte MD5 of gss_channel_bindings_struct. CredSSP binds through pubKeyAuth instead. */
  channelBindings?: Buffer;
  // Fixed values for reproducible tests; random / current time otherwise.
  clientChallenge?: Buffer;
  exportedSessionKey?: Buffer;
  /** FILETIME used when the server sends no MsvAvTimestamp. */
  timestamp?: bigint;
}

export class NtlmClient {
  private negotiateMessage: Buffer | undefined;
  private sessionSecurity: NtlmSessionSecurity | undefined;
  /** The parsed CHALLENGE (server names, for logs). */
  challenge: ChallengeMessage | undefined;
  negotiatedFlags = 0;
  exportedSessionKey: Buffer | undefined;

  constructor(private readonly o: NtlmClientOptions) {
    if (o.password === undefined && !o.ntHash) throw new RangeError('NTLM needs a password or an NT hash');
  }

  negotiate(): Buffer {
    this.negotiateMessage = buildNegotiateMessage({ flags: this.o.flags ?? CLIENT_FLAGS, version: this.o.version ?? ntlmVersion() });
    return this.negotiateMessage;
  }

  /** Takes the server's CHALLENGE and returns the AUTHENTICATE to send. */
  authenticate(challengeMessage: Buffer): Buffer {
    if (!this.negotiateMessage) throw new RdpProtocolError('ntlm', 'unexpected', 'CHALLENGE before NEGOTIATE');
    if (this.sessionSecurity) throw new RdpProtocolError('ntlm', 'unexpected', 'a second CHALLENGE');
    const ch = parseChallengeMessage(challengeMessage);
    this.challenge = ch;
    const ours = this.o.flags ?? CLIENT_FLAGS;
    if (!(ch.flags & NTLMSSP.NEGOTIATE_UNICODE)) throw new RdpProtocolError('ntlm', 'unsupported', 'server does not do Unicode');
    if (!(ch.flags & NTLMSSP.NEGOTIATE_EXTENDED_SESSIONSECURITY)) throw new RdpProtocolError('ntlm', 'unsupported', 'server does not do extended session security');
    if (ch.targetInfo.length === 0) throw new RdpProtocolError('ntlm', 'unsupported', 'no target info: NTLMv2 impossible');
    // What both sides support, plus what the client states about itself.
    const flags = ((ours & ch.flags) | (ours & NTLMSSP.REQUEST_TARGET) | (ch.flags & NTLMSSP.NEGOTIATE_TARGET_INFO)) >>> 0;
    this.negotiatedFlags = flags;

    // With a server timestamp the client must use it, send a MIC, and send no LM response.
    const withMic = ch.timestamp !== undefined;
    const targetInfo = this.responseTargetInfo(ch.avPairs, ch.targetInfo, withMic);
    const responseKey = ntowfv2(this.o.ntHash ?? ntHash(this.o.password!), this.o.username, this.o.domain);
    const r = computeNtlmv2Response({
      responseKey,
      serverChallenge: ch.serverChallenge,
      clientChallenge: this.o.clientChallenge ?? cryptoRandomBytes(8),
      timestamp: ch.timestamp ?? this.o.timestamp ?? fileTime(Date.now()),
      targetInfo,
    });
    if (r.ntChallengeResponse.length > 0xffff) throw new RdpProtocolError('ntlm', 'too_large', `target info of ${targetInfo.length} bytes`);
    // NTLMv2: KeyExchangeKey = SessionBaseKey.
    const keyExchangeKey = r.sessionBaseKey;
    let exported: Buffer = keyExchangeKey;
    let encryptedRandomSessionKey: Buffer = Buffer.alloc(0);
    if (flags & NTLMSSP.NEGOTIATE_KEY_EXCH) {
      exported = this.o.exportedSessionKey ?? cryptoRandomBytes(16);
      encryptedRandomSessionKey = rc4(keyExchangeKey, exported);
    }
    const message = buildAuthenticateMessage(
      {
        flags,
        lmChallengeResponse: withMic ? Buffer.alloc(24) : r.lmChallengeResponse,
        ntChallengeResponse: r.ntChallengeResponse,
        domain: this.o.domain,
        user: this.o.username,
        workstation: this.o.workstation ?? '',
        encryptedRandomSessionKey,
        version: this.o.version ?? ntlmVersion(),
      },
      withMic,
    );
    if (withMic) hmacMd5(exported, this.negotiateMessage, challengeMessage, message).copy(message, AUTHENTICATE_MIC_OFFSET);
    this.exportedSessionKey = exported;
    this.sessionSecurity = new NtlmSessionSecurity(exported, flags, 'client');
    return message;
  }

  /** Seal/unseal for CredSSP, once AUTHENTICATE is built. */
  get security(): NtlmSessionSecurity {
    if (!this.sessionSecurity) throw new RdpProtocolError('ntlm', 'unexpected', 'no session security before AUTHENTICATE');
    return this.sessionSecurity;
  }

  /** The server's list, with MsvAvFlags/channel bindings/target name added when called for. */
  private responseTargetInfo(pairs: AvPair[], raw: Buffer, withMic: boolean): Buffer {
    if (!withMic && this.o.targetName === undefined && !this.o.channelBindings) return raw;
    const out = pairs.filter((p) => p.id !== AV.TARGET_NAME && p.id !== AV.CHANNEL_BINDINGS && p.id !== AV.FLAGS);
    const serverFlags = pairs.find((p) => p.id === AV.FLAGS)?.value;
    let avFlags = serverFlags && serverFlags.length === 4 ? serverFlags.readUInt32LE(0) : 0;
    if (withMic) avFlags |= AV_FLAGS.MIC_PROVIDED;
    if (serverFlags || withMic) {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(avFlags >>> 0, 0);
      out.push({ id: AV.FLAGS, value: v });
    }
    if (this.o.channelBindings) {
      if (this.o.channelBindings.length !== 16) throw new RangeError('channel bindings hash is 16 bytes');
      out.push({ id: AV.CHANNEL_BINDINGS, value: this.o.channelBindings });
    }
    if (this.o.targetName !== undefined) out.push({ id: AV.TARGET_NAME, value: Buffer.from(this.o.targetName, 'utf16le') });
    return encodeAvPairs(out);
  }
}
