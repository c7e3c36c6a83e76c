// Shared control on My access: the live sessions you were invited into (or whose owner
// accepted your request), each with a Join link. Polled, since an invitation arrives while
// the page is open; nothing is shown when there is none.
import { useApi } from '../hooks';
import { Link } from '../router';
import { Alert } from './ui';
import type { Join, Page } from '../api-types';

export function JoinInvitations() {
  const joins = useApi<Page<Join>>('/me/joins', { pollMs: 5000 });
  const open = (joins.data?.items ?? []).filter((j) => j.status === 'accepted');
  if (open.length === 0) return null;
  return (
    <Alert kind="info">
      {open.map((j) => (
        <div key={j.id} className="join-invitation">
          <strong>{j.owner.username}</strong> {j.via === 'invite' ? 'invites you to' : 'accepted your request to join'} their session on <strong>{j.secret}</strong>.{' '}
          <Link className="btn btn-sm btn-primary" to={`/sessions/join/${encodeURIComponent(j.sessionId)}/${encodeURIComponent(j.id)}`}>
            Join session
          </Link>
        </div>
      ))}
    </Alert>
  );
}
