// The one error type the RDP parsers and codecs throw on bad input. A front door catches
// it, logs `layer`/`reason`/`message` and drops the connection; anything else escaping a
// parser is a bug (the fuzz tests hold the parsers to this).

export type RdpLayer =
  | 'tpkt'
  | 'x224'
  | 'preconnection'
  | 'fastpath'
  | 'ber'
  | 'per'
  | 'mcs'
  | 'gcc'
  | 'ntlm'
  | 'credssp'
  | 'spnego'
  /** Static virtual channel chunks (CHANNEL_PDU_HEADER). */
  | 'vchannel'
  /** Device redirection (MS-RDPEFS) on the rdpdr channel. */
  | 'rdpdr';

export type RdpErrorReason =
  /** The input ends before a field it announces. */
  | 'truncated'
  /** A field holds a value the protocol does not allow. */
  | 'malformed'
  /** A length is above the configured or protocol maximum. */
  | 'too_large'
  /** Valid in the protocol, but not something Gatehouse handles. */
  | 'unsupported'
  /** A well-formed PDU that does not belong at this point of the exchange. */
  | 'unexpected'
  /** A signature or checksum did not verify. */
  | 'integrity';

export class RdpProtocolError extends Error {
  override readonly name = 'RdpProtocolError';
  constructor(
    readonly layer: RdpLayer,
    readonly reason: RdpErrorReason,
    detail: string,
  ) {
    super(`${layer}: ${detail}`);
  }
}

export const isRdpProtocolError = (e: unknown): e is RdpProtocolError => e instanceof RdpProtocolError;
