// The credential-provider API for an Endpoint Credential Manager, for administrators
// (docs/integrations/credential-provider.md): Test Settings (the seed's button: the
// credentials a user would be offered on an endpoint, never a password, with the settings
// as entered here, not necessarily saved) and the token cache with Clear Token Cache.
// The settings themselves are saved on the Settings page.
import { useEffect, useState } from 'react';
import { api } from '../../api';
import { CardTable } from '../../components/CardTable';
import { Alert, Badge, Button, Card, Checkbox, Empty, ErrorAlert, PageHeader, TextField, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import { Link } from '../../router';
import type { SettingsResponse, TokenCache, WebserviceTest } from '../../api-types';

export function CredentialProvider() {
  useTitle('Credential provider');
  const toast = useToast();
  const settings = useApi<SettingsResponse>('/settings');
  const cache = useApi<TokenCache>('/webservices/token-cache');
  const [user, setUser] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [application, setApplication] = useState('');
  const [form, setForm] = useState({ machineField: '', domainField: '', domains: '', defaultDomain: '', fallback: false, includeOrg: false });
  const [result, setResult] = useState<WebserviceTest | null>(null);
  const test = useSubmit();
  const clear = useSubmit();

  useEffect(() => {
    const v = settings.data?.values;
    if (!v) return;
    setForm({
      machineField: v.webservicesMachineField,
      domainField: v.webservicesDomainField,
      domains: v.webservicesIncludeDomainCredentialsFor,
      defaultDomain: v.webservicesDefaultDomain,
      fallback: v.webservicesFallbackToLocal,
      includeOrg: v.webservicesIncludeDefaultOrganization,
    });
  }, [settings.data]);

  const runTest = () =>
    void test.run(async () => {
      setResult(null);
      setResult(
        await api.post<WebserviceTest>('/webservices/test', {
          user: user.trim(),
          endpoint: endpoint.trim(),
          ...(application.trim() ? { application: application.trim() } : {}),
          settings: {
            webservicesMachineField: form.machineField.trim(),
            webservicesDomainField: form.domainField.trim(),
            webservicesIncludeDomainCredentialsFor: form.domains.trim(),
            webservicesDefaultDomain: form.defaultDomain.trim(),
            webservicesFallbackToLocal: form.fallback,
            webservicesIncludeDefaultOrganization: form.includeOrg,
          },
        }),
      );
    });

  const clearCache = () =>
    void clear.run(async () => {
      const r = await api.del<{ cleared: number }>('/webservices/token-cache');
      toast(`Token cache cleared (${r.cleared} token${r.cleared === 1 ? '' : 's'})`);
      cache.reload();
    });

  const off = settings.data && !settings.data.values.webservicesEnabled;
  return (
    <div className="page page-narrow">
      <PageHeader title="Credential provider" subtitle="The API an Endpoint Credential Manager (BeyondTrust / Bomgar) uses to list and inject credentials on behalf of users." />
      {off && (
        <Alert kind="warning">
          Webservices are off: turn on <Link to="/admin/settings">Enable Webservices</Link> in the settings first.
        </Alert>
      )}
      <Card title="Test Settings">
        <TextField label="User ID" hint="user1, DOMAIN\username or username@domain" value={user} onChange={(e) => setUser(e.target.value)} spellCheck={false} />
        <TextField label="Machine / Endpoint" hint="e.g. my-server-hostname" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} spellCheck={false} />
        <TextField label="Application account" hint="Empty: delegated trust is not checked." value={application} onChange={(e) => setApplication(e.target.value)} spellCheck={false} />
        <TextField label="Machine Field" value={form.machineField} onChange={(e) => setForm({ ...form, machineField: e.target.value })} />
        <TextField label="Domain Field" value={form.domainField} onChange={(e) => setForm({ ...form, domainField: e.target.value })} />
        <TextField label="Include domain credentials for" hint="Domains separated with commas." value={form.domains} onChange={(e) => setForm({ ...form, domains: e.target.value })} />
        <TextField label="Default Domain for Local Users" value={form.defaultDomain} onChange={(e) => setForm({ ...form, defaultDomain: e.target.value })} />
        <Checkbox label="Enable fall-back to local account if domain account not found" checked={form.fallback} onChange={(v) => setForm({ ...form, fallback: v })} />
        <Checkbox label="Include default organization" checked={form.includeOrg} onChange={(v) => setForm({ ...form, includeOrg: v })} />
        <p className="small muted">The test uses the settings as entered here, not necessarily what is saved. No password is retrieved or shown.</p>
        {test.error ? <ErrorAlert error={test.error} /> : null}
        <Button variant="primary" busy={test.busy} disabled={!user.trim() || !endpoint.trim()} onClick={runTest}>
          Test Settings
        </Button>
        {result && (
          <div className="stack-sm" data-testid="ecm-test-result">
            <Alert kind={result.approval === 'pending' || result.approval === 'denied' ? 'warning' : 'info'}>{result.message}</Alert>
            {result.user && (
              <p className="small">
                {result.user.username} (matched as {result.user.matchedAs}) {result.application && <Badge>{`${result.application.name}: ${result.approval}`}</Badge>}
              </p>
            )}
            {result.credentials.length > 0 && (
              <CardTable
                rows={result.credentials}
                columns={[
                  { label: 'Name', cell: (c) => c.name },
                  { label: 'Kind', cell: (c) => c.kind },
                  { label: 'Username', cell: (c) => c.username ?? '—' },
                  { label: 'Domain', cell: (c) => c.domain ?? '—' },
                  { label: 'Machine', cell: (c) => c.machine ?? '—' },
                  { label: 'Template', cell: (c) => c.template },
                ]}
              />
            )}
          </div>
        )}
      </Card>
      <Card title="Token cache">
        <ErrorAlert error={cache.error ?? clear.error} />
        {cache.data && cache.data.entries === 0 ? (
          <Empty icon="check" title="No cached tokens" />
        ) : (
          <CardTable
            rows={cache.data?.items ?? []}
            columns={[
              { label: 'Application', cell: (i) => i.application.name },
              { label: 'User', cell: (i) => i.user.name },
              { label: 'Expires', cell: (i) => new Date(i.expiresAt).toLocaleString(), className: 'nowrap small' },
            ]}
          />
        )}
        <Button busy={clear.busy} disabled={off} onClick={clearCache}>
          Clear Token Cache
        </Button>
      </Card>
    </div>
  );
}
