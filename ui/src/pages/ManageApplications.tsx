// Manage Applications (docs/integrations/credential-provider.md): the applications (an
// Endpoint Credential Manager's account) that asked to retrieve your credentials on your
// behalf. Approve or deny a request; revoke an approval at any time.
import { api } from '../api';
import { CardTable } from '../components/CardTable';
import { Badge, Button, Card, Empty, ErrorAlert, PageHeader, useToast } from '../components/ui';
import { useSubmit } from '../editing';
import { useApi, useTitle } from '../hooks';
import type { WebserviceApplication, WebserviceApplications } from '../api-types';

const TONE: Record<WebserviceApplication['status'], 'neutral' | 'green' | 'red' | 'amber'> = { pending: 'amber', approved: 'green', denied: 'red', revoked: 'neutral' };
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

export function ManageApplications() {
  useTitle('Manage Applications');
  const toast = useToast();
  const apps = useApi<WebserviceApplications>('/webservices/applications', { pollMs: 15_000 });
  const act = useSubmit();

  const decide = (a: WebserviceApplication, action: 'approve' | 'deny' | 'revoke') =>
    void act.run(async () => {
      if (action === 'revoke') {
        await api.del(`/webservices/applications/${encodeURIComponent(a.id)}`);
        toast(`${a.application.name}: access revoked`);
      } else {
        const r = await api.post<WebserviceApplication>(`/webservices/applications/${encodeURIComponent(a.id)}/${action}`, undefined);
        toast(`${r.application.name}: ${r.status}`);
      }
      apps.reload();
    });

  return (
    <>
      <PageHeader title="Manage Applications" subtitle="Applications that retrieve your credentials on your behalf (for example a remote-access appliance injecting them into your sessions)." />
      <ErrorAlert error={apps.error ?? act.error} />
      <Card>
        {apps.data && apps.data.items.length === 0 ? (
          <Empty icon="check" title="No application has asked for your credentials" />
        ) : (
          <CardTable
            rows={apps.data?.items ?? []}
            columns={[
              { label: 'Application', cell: (a) => a.application.name },
              { label: 'Status', cell: (a) => <Badge tone={TONE[a.status]}>{a.status}</Badge> },
              { label: 'First asked for', cell: (a) => a.endpoint ?? '—' },
              { label: 'Requested', cell: (a) => when(a.requestedAt), className: 'nowrap small' },
              { label: 'Last used', cell: (a) => when(a.lastUsedAt), className: 'nowrap small' },
              {
                label: 'Actions',
                actions: true,
                cell: (a) => (
                  <>
                    {(a.status === 'pending' || a.status === 'denied') && (
                      <Button small variant="primary" busy={act.busy} onClick={() => decide(a, 'approve')}>
                        Approve
                      </Button>
                    )}{' '}
                    {a.status === 'pending' && (
                      <Button small busy={act.busy} onClick={() => decide(a, 'deny')}>
                        Deny
                      </Button>
                    )}{' '}
                    {a.status !== 'revoked' && (
                      <Button small busy={act.busy} onClick={() => decide(a, 'revoke')}>
                        Revoke
                      </Button>
                    )}
                  </>
                ),
              },
            ]}
          />
        )}
      </Card>
    </>
  );
}
