// Which live session this browser RDP page is (for shared control's Invite): the page holds
// only its launch ticket, and the RDP stream carries no word of ours. When the browser is
// signed in to Gatehouse, the page asks for the person's own live browser RDP sessions
// (GET /sessions, everyone sees their own) and takes the newest that started after the page
// began to connect. Two browser RDP tabs connecting in the same instant could pick each
// other's session (both are the person's own): the Invite button's title names the secret,
// so the person can tell.
// Not signed in (a logon-ticket session): null, and the page offers no Invite.
import { useEffect, useState } from 'react';
import { api } from '../api';
import type { Page, Session } from '../api-types';

/** Started this long before the page began to connect still counts (clock differences between browser and gateway). */
const SKEW_MS = 30_000;

export function useOwnSession(connected: boolean, connectingSince: number): Session | null {
  const [own, setOwn] = useState<Session | null>(null);
  useEffect(() => {
    if (!connected || own) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const look = async (tries: number) => {
      try {
        const me = await api.get<{ id: string }>('/me', { anonymous: true });
        const q = new URLSearchParams({ status: 'live', protocol: 'rdp', userId: me.id, limit: '50' });
        const items = (await api.get<Page<Session>>(`/sessions?${q}`, { anonymous: true })).items;
        const mine = items.filter((s) => s.door === 'web' && Date.parse(s.startedAt) >= connectingSince - SKEW_MS).sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
        if (stop) return;
        if (mine[0]) return setOwn(mine[0]);
      } catch {
        return; // not signed in here: nobody to invite as
      }
      // The session row may lag the connection by a moment.
      if (tries > 0) timer = setTimeout(() => void look(tries - 1), 1000);
    };
    void look(10);
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [connected, connectingSince, own]);
  return own;
}
