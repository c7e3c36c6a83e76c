// Finding tickets in text a client sent somewhere a ticket does not belong: an RDP cookie
// (`rdesktop -u <ticket>`), an SSH user name with junk around the ticket, a URL. Such text
// must never reach a log as is, and a ticket found in it has been exposed. No imports: the
// logger (src/log.ts) uses it as well as the core.

/** Ticket alphabet (base64url); a ticket is exactly 32 of these (TICKET_PATTERN). */
const RUN = /[A-Za-z0-9_-]{32,}/g;
/** Object ids are UUIDs: long runs of the same alphabet that are not secrets. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Longest text searched for embedded tickets (a user name or cookie is far shorter). */
const MAX_SEARCHED = 1024;

const runs = (s: string): string[] => [...s.slice(0, MAX_SEARCHED).matchAll(RUN)].map((m) => m[0]).filter((r) => !UUID.test(r));

/** Whether `s` holds a run of ticket characters long enough to be (or contain) a ticket. */
export const mayHoldTicket = (s: string): boolean => runs(s).length > 0;

/**
 * `s` with every run that could be or contain a ticket (32 or more base64url characters,
 * UUIDs excepted) replaced by `[redacted]`. Also catches API tokens and other long secrets.
 */
export const redactTickets = (s: string): string => s.replace(RUN, (m) => (UUID.test(m) ? m : '[redacted]'));

/** Every 32-character window of those runs: the tickets `s` may hide (at most 512). */
export function ticketCandidates(s: string): string[] {
  const out = new Set<string>();
  for (const r of runs(s)) for (let i = 0; i + 32 <= r.length && out.size < 512; i++) out.add(r.slice(i, i + 32));
  return [...out];
}
