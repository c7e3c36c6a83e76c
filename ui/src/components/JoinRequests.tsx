// Shared control, the owner's side where the session's window cannot ask: join requests
// waiting for your answer on your live sessions (GET /me/join-requests), each with Accept
// and Decline. Shown on My access (native SSH and RDP clients have no prompt of their own)
// and in the browser RDP page's bar. Polled; nothing is shown when there is none, nor when
// the page has no Gatehouse sign-in (a logon-ticket session).
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from '../api';
import type { Join, Page } from '../api-types';

export function useJoinRequests(pollMs = 3000) {
  const [items, setItems] = useState<Join[]>([]);
  // Not signed in here (a 401): there is nobody to ask, and polling stops.
  const [signedOut, setSignedOut] = useState(false);
  const load = useCallback(() => {
    api
      .get<Page<Join>>('/me/join-requests', { anonymous: true })
      .then((p) => setItems(p.items))
      .catch((e: unknown) => {
        setItems([]);
        if (e instanceof ApiError && e.status === 401) setSignedOut(true);
      });
  }, []);
  useEffect(() => {
    if (signedOut) return;
    load();
    const t = setInterval(load, pollMs);
    return () => clearInterval(t);
  }, [load, pollMs, signedOut]);
  const answer = async (j: Join, accept: boolean) => {
    setItems((xs) => xs.filter((x) => x.id !== j.id));
    await api.post(`/sessions/${encodeURIComponent(j.sessionId)}/joins/${encodeURIComponent(j.id)}/${accept ? 'accept' : 'decline'}`, {}, { anonymous: true }).catch(() => undefined);
    load();
  };
  return { items, answer };
}

/** One line per request: "audrey asks to join your session on win-box (shared control)" [Accept] [Decline]. */
export function JoinRequests({ className = 'join-requests', buttonClass = 'btn btn-sm' }: { className?: string; buttonClass?: string }) {
  const { items, answer } = useJoinRequests();
  if (items.length === 0) return null;
  return (
    <div className={className} role="alert" aria-label="Join requests">
      {items.map((j) => (
        <div key={j.id} className="join-request">
          <span>
            <strong>{j.user.username}</strong> asks to join your session on <strong>{j.secret}</strong> (shared control: they see your screen and may type)
          </span>{' '}
          <button type="button" className={`${buttonClass} join-accept`} onClick={() => void answer(j, true)}>
            Accept
          </button>{' '}
          <button type="button" className={`${buttonClass} join-decline`} onClick={() => void answer(j, false)}>
            Decline
          </button>
        </div>
      ))}
    </div>
  );
}
