// Shared control, the owner's side: "Invite" asks for a user name and invites that person
// into this live session (POST /sessions/:id/invites; the launcher must allow invitations,
// otherwise the dialog shows the refusal). One building block for every session window that
// offers invitations: the browser terminal and the browser RDP page. The invited person
// joins from My access. Needs a FeedbackProvider (the dialog and the toast).
import { api } from '../api';
import { useConfirm, useToast } from './ui';

/**
 * The invite action for one session: opens the dialog, sends the invitation, says so.
 * `what` names what the invited person will see ("the terminal", "the remote desktop").
 * `done` runs after the dialog closes either way (e.g. to give the focus back to the session).
 */
export function useInvite(sessionId: string | null, what: string, done?: () => void): () => Promise<void> {
  const confirm = useConfirm();
  const toast = useToast();
  return async () => {
    if (!sessionId) return;
    const r = await confirm({
      title: 'Invite someone to this session',
      body: `They can then join from My access: they see ${what} and can type; what they type is recorded under their name.`,
      input: { label: 'User name', placeholder: 'e.g. alice', required: true },
      confirmLabel: 'Invite',
      action: (user) => api.post(`/sessions/${encodeURIComponent(sessionId)}/invites`, { user }),
    });
    if (r !== null) toast('Invitation sent');
    done?.();
  };
}
