// What every door applies the same way, whatever protocol it speaks: the syntax of a
// launch ticket, how a client address is written before it is compared or logged, and
// the launcher's redirection policy. Protocol-neutral and import-free, so the core's
// launch services and the doors (through broker.ts) share one definition of each.

/** A launch ticket: exactly 32 base64url characters (192 random bits). */
export const TICKET_PATTERN = /^[A-Za-z0-9_-]{32}$/;

/** An IPv4 peer seen on a dual-stack socket (`::ffff:1.2.3.4`) is the IPv4 address it carries. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The launcher options that say what a graphical client may map (absent = allowed). */
export interface RedirectionOptions {
  rdpClipboard?: unknown;
  rdpDrives?: unknown;
  rdpPrinters?: unknown;
}

export interface RedirectionPolicy {
  clipboard: boolean;
  drives: boolean;
  printers: boolean;
}

/** The launcher's RDP redirection policy: true = allowed (only an explicit false denies). */
export function rdpRedirection(options: RedirectionOptions): RedirectionPolicy {
  return { clipboard: options.rdpClipboard !== false, drives: options.rdpDrives !== false, printers: options.rdpPrinters !== false };
}
