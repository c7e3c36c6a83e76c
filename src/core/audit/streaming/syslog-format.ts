// Audit events as syslog messages (RFC 5424) framed by octet counting (RFC 6587 section 3.4.1,
// the framing RFC 5425 requires over TLS), socket-free. One message per event:
//   <PRI>1 TIMESTAMP HOSTNAME gatehouse - MSGID [gatehouse@32473 seq=".." hash=".." prevHash=".." outcome=".."] BOM{event JSON}
// PRI = facility * 8 + severity (notice for a success, warning for a failure); MSGID is the
// action (printable ASCII, at most 32 characters as the RFC allows); the structured data
// repeats the chain fields so a SIEM can index them without parsing the message; the message
// is the whole event (event.ts) as JSON in UTF-8 after a byte order mark, as RFC 5424 asks.
// 32473 is the private enterprise number RFC 5612 reserves for documentation: the SD-ID is
// "gatehouse@32473" until the project registers its own.
import type { StreamedCheckpoint, StreamedEvent } from './event.js';

export const SD_ID = 'gatehouse@32473';
const BOM = '\ufeff';
const SEVERITY = { notice: 5, warning: 4 } as const;

export interface SyslogHeader {
  /** 0-23; 13 is "log audit". */
  facility: number;
  /** The HOSTNAME field (this node's host name unless configured). */
  hostname: string;
  appName?: string;
}

/** A header field: printable US-ASCII without spaces, at most `max` characters, "-" when empty (the NILVALUE). */
export function headerField(v: string, max: number): string {
  const clean = v.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean || '-';
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
export const sdValue = (v: string): string => v.replace(/[\\"\]]/g, (c) => `\\${c}`);

export function syslogMessage(e: StreamedEvent, h: SyslogHeader): string {
  const pri = h.facility * 8 + (e.outcome === 'failure' ? SEVERITY.warning : SEVERITY.notice);
  const time = new Date(e.ts).toISOString();
  const sd = `[${SD_ID} seq="${e.seq}" hash="${sdValue(e.hash)}" prevHash="${sdValue(e.prevHash)}" outcome="${sdValue(e.outcome)}"]`;
  return `<${pri}>1 ${time} ${headerField(h.hostname, 255)} ${headerField(h.appName ?? 'gatehouse', 48)} - ${headerField(e.action, 32)} ${sd} ${BOM}${JSON.stringify(e)}`;
}

/** A signed checkpoint: MSGID "audit.checkpoint", its seq, hash and key in the structured data, the exported checkpoint as the message. */
export function syslogCheckpointMessage(cp: StreamedCheckpoint, h: SyslogHeader): string {
  const sd = `[${SD_ID} checkpointSeq="${cp.seq}" hash="${sdValue(cp.hash)}" keyId="${sdValue(cp.keyId)}"]`;
  return `<${h.facility * 8 + SEVERITY.notice}>1 ${cp.ts} ${headerField(h.hostname, 255)} ${headerField(h.appName ?? 'gatehouse', 48)} - audit.checkpoint ${sd} ${BOM}${JSON.stringify(cp)}`;
}

/** Octet counting: "MSG-LEN SP SYSLOG-MSG", the length in bytes of the UTF-8 message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export function syslogFrames(events: StreamedEvent[], h: SyslogHeader, checkpoints: StreamedCheckpoint[] = []): Buffer {
  return Buffer.concat([...events.map((e) => octetFrame(syslogMessage(e, h))), ...checkpoints.map((c) => octetFrame(syslogCheckpointMessage(c, h)))]);
}
