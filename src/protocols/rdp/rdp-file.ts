// The .rdp file Gatehouse hands a person for one launch. The ticket travels as
// `loadbalanceinfo`, which clients send as the X.224 routing token (and optionally as
// `pcb`, the MS-RDPEPS preconnection blob). CredSSP is off on the client side: the client
// authenticates to Gatehouse with the ticket, and Gatehouse logs on to the target with
// the vaulted credential.
//
// Encoding: the file is plain ASCII with CRLF line ends and no byte-order mark, served as
// application/x-rdp. FreeRDP reads UTF-16LE when the file starts with FF FE and the raw
// bytes as UTF-8 otherwise (a UTF-8 BOM would be glued to the first key's name). mstsc
// reads the UTF-16LE (with BOM) it saves itself, and 8-bit text as RD Web Access serves
// it, decoded in the ANSI code page. Only ASCII reads the same everywhere, so every value
// is restricted to printable ASCII (host names in punycode).

export const RDP_FILE_CONTENT_TYPE = 'application/x-rdp';

export interface RdpFileOptions {
  /** Gatehouse's RDP door as the client should reach it (name or IP; IPv6 without brackets is fine). */
  host: string;
  port: number;
  /** The single-use launch ticket. */
  ticket: string;
  /** Session Connector "Allow Connection Sharing"; off writes disableconnectionsharing:i:1. */
  allowConnectionSharing: boolean;
  /** Both or neither: a window of this size; otherwise full screen. */
  width?: number;
  height?: number;
  colorDepth?: 15 | 16 | 24 | 32;
  redirectClipboard?: boolean;
  redirectDrives?: boolean;
  redirectPrinters?: boolean;
  /** Also send the ticket as an MS-RDPEPS preconnection blob (`pcb:s:`). */
  preconnectionBlob?: boolean;
  /** Used only for the download's file name (rdpFileName): no .rdp key sets a window title in both mstsc and FreeRDP. */
  title?: string;
}

function checkValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new RangeError(`${name} must not contain CR or LF`);
  if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError(`${name} must be printable ASCII`);
  // FreeRDP trims string values; a value that changes under trimming would not round-trip.
  if (value.trim() !== value) throw new RangeError(`${name} must not start or end with spaces`);
  return value;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}`);
  return v;
}

export function buildRdpFile(o: RdpFileOptions): string {
  const host = checkValue('host', o.host);
  if (!host || /[\s/]/.test(host)) throw new RangeError('host must be a host name or address');
  const port = checkInt('port', o.port, 1, 65535);
  const ticket = checkValue('ticket', o.ticket);
  if (!ticket || /\s/.test(ticket)) throw new RangeError('ticket must be non-empty without spaces');
  if ((o.width === undefined) !== (o.height === undefined)) throw new RangeError('width and height go together');
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;

  const lines: string[] = [
    `full address:s:${address}:${port}`,
    `server port:i:${port}`,
    `loadbalanceinfo:s:${ticket}`,
  ];
  if (o.preconnectionBlob) lines.push(`pcb:s:${ticket}`);
  lines.push(
    `disableconnectionsharing:i:${o.allowConnectionSharing ? 0 : 1}`,
    // TLS only toward Gatehouse: there is no password for the client to hand over.
    'enablecredsspsupport:i:0',
    'authentication level:i:0',
    'prompt for credentials:i:0',
    'negotiate security layer:i:1',
  );
  if (o.width !== undefined && o.height !== undefined) {
    lines.push('screen mode id:i:1', `desktopwidth:i:${checkInt('width', o.width, 200, 8192)}`, `desktopheight:i:${checkInt('height', o.height, 200, 8192)}`);
  } else {
    lines.push('screen mode id:i:2');
  }
  const bpp = o.colorDepth ?? 32;
  if (![15, 16, 24, 32].includes(bpp)) throw new RangeError('colorDepth must be 15, 16, 24 or 32');
  lines.push(
    `session bpp:i:${bpp}`,
    `redirectclipboard:i:${o.redirectClipboard ? 1 : 0}`,
    `drivestoredirect:s:${o.redirectDrives ? '*' : ''}`,
    `redirectprinters:i:${o.redirectPrinters ? 1 : 0}`,
    // The ticket is single-use and the door drops the target's auto-reconnect cookies, so
    // every automatic reconnect would be refused: the client must not promise one.
    'autoreconnection enabled:i:0',
  );
  return lines.map((l) => `${l}\r\n`).join('');
}

/** A safe download name: `<title>.rdp` reduced to ASCII letters, digits, `.`, `_`, `-` and spaces. */
export function rdpFileName(title?: string): string {
  const base = (title ?? '')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._ -]+/g, '_')
    .replace(/^[.\s_]+|[.\s_]+$/g, '')
    .slice(0, 64);
  return `${base || 'gatehouse'}.rdp`;
}
