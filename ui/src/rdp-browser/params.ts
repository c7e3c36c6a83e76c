// What the /rdp/session address carries, read once when the app starts (before the large
// web client chunk loads) with the ticket taken out of the address bar at once: it is a
// credential for one session and has no business in the history or a bookmark.
import { displaySettings, type DisplaySettings } from './display';

export interface RdpPageParams {
  ticket: string;
  consent: boolean;
  clipboard: boolean;
  display: DisplaySettings & { fromQuery: boolean };
}

export function takeRdpPageParams(): RdpPageParams {
  const q = new URLSearchParams(location.search);
  const ticket = q.get('ticket') ?? '';
  if (q.has('ticket')) {
    q.delete('ticket');
    const rest = q.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : ''));
  }
  return { ticket, consent: q.get('consent') === '1', clipboard: q.get('clipboard') !== '0', display: displaySettings(q, window) };
}
