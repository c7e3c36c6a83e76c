// A launch ticket belongs in the `ticket` query parameter of the browser terminal and the
// .rdp download, nowhere else in a URL. One found elsewhere (another parameter, the path,
// e.g. a hand-made terminal URL) has been exposed — browser history, proxies — so it is
// voided and `ticket.refused` (reason misplaced) audited, after the response is sent. The
// request log never shows it either way (scrubUrl in src/log.ts).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/core.js';
import { mayHoldTicket } from '../core/launch/ticket-text.js';
import { normalizeIp, TICKET_PATTERN } from '../core/launch/tickets.js';

/** The URL without a rightful ticket: the terminal's (its redeem checks it) and any exact ticket in `ticket=`. */
function withoutRightfulTicket(url: string): string {
  const terminal = url.split('?')[0] === '/api/v1/terminal';
  return url.replace(/([?&])ticket=([^&#]*)/g, (all, sep: string, value: string) => (terminal || TICKET_PATTERN.test(value) ? sep : all));
}

export function voidMisplacedTicketsInUrls(app: FastifyInstance, core: Core): void {
  app.addHook('onResponse', async (req) => {
    const rest = withoutRightfulTicket(req.url);
    if (!mayHoldTicket(rest)) return;
    await core.launching
      .voidMisplacedTickets(rest, { clientIp: normalizeIp(req.ip), door: 'web' }, 'URL')
      .catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'misplaced ticket check failed'));
  });
}
