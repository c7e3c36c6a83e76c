// OIDC single sign-on providers, for administrators (docs/identity.md "OIDC single sign-on"):
// the list, and one provider's settings — issuer, client, scopes, the claims read for the user
// name and the groups, allowed domains, the group map, enabled. The client secret is
// write-only, as in the API: the page shows whether one is set, takes a new one (the field is
// emptied once saved, so it never stays in the page) and can remove it. The redirect URI to
// register at the provider is shown as the server states it.
import { useEffect, useState } from 'react';
import { api } from '../../api';
import { CardTable } from '../../components/CardTable';
import { ActionItem, BackLink, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Alert, Badge, Button, Card, Checkbox, CopyButton, Empty, Field, PageHeader, Switch, TextField, useConfirm, useToast } from '../../components/ui';
import { useEditor } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import { Link } from '../../router';
import type { Group, OidcProvider, OidcProviderPage, Page } from '../../api-types';

/** Words of a field that takes several (scopes, domains): split on spaces and commas. */
const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);

function RedirectUri({ uri }: { uri: string }) {
  return (
    <div className="stack-sm">
      <code id="oidc-redirect-uri" className="mono">
        {uri}
      </code>{' '}
      <CopyButton text={uri} />
    </div>
  );
}

export function OidcProviders() {
  useTitle('Single sign-on');
  const providers = useApi<OidcProviderPage>('/oidc-providers?limit=500');
  const items = providers.data?.items ?? [];
  return (
    <div className="page">
      <PageHeader
        title="Single sign-on (OIDC)"
        subtitle="OpenID Providers people sign in with. Each enabled one is a “Sign in with …” button on the sign-in page; local sign-in keeps working next to them."
        actions={<NewLink to="/admin/oidc-providers/new">New provider</NewLink>}
      />
      <ListShell
        resource={providers}
        isEmpty={items.length === 0}
        empty={
          <Empty icon="key" title="No single sign-on providers yet" action={<Link to="/admin/oidc-providers/new">Add a provider</Link>}>
            Add your organisation's OpenID Provider (Keycloak, Entra ID, Google…) so people sign in with it.
          </Empty>
        }
      >
        <CardTable
          rows={items}
          href={(p) => `/admin/oidc-providers/${p.id}`}
          columns={[
            { label: 'Provider', title: (p) => p.displayName, cell: (p) => <div className="cell-sub mono">{p.name}</div> },
            { label: 'Issuer', className: 'mono small', cell: (p) => p.issuer },
            { label: 'Client secret', cell: (p) => (p.hasClientSecret ? <Badge tone="green">set</Badge> : <Badge>not set</Badge>) },
            { label: 'Group map', cell: (p) => (p.groupMap.length ? p.groupMap.map((m) => `${m.claim} → ${m.group.name}`).join(', ') : <span className="muted">—</span>) },
            { label: 'State', cell: (p) => (p.enabled ? <Badge tone="green">Enabled</Badge> : <Badge tone="amber">Disabled</Badge>) },
          ]}
        />
        {items[0] && (
          <Card title="Redirect URI" description="Register this at every provider (the setting publicUrl decides its address).">
            <RedirectUri uri={items[0].redirectUri} />
          </Card>
        )}
      </ListShell>
    </div>
  );
}

interface MapRow {
  claim: string;
  group: string;
}

export function OidcProviderEdit({ id }: { id: string }) {
  const editor = useEditor<OidcProvider>({ collection: '/oidc-providers', id, route: '/admin/oidc-providers', created: (p) => `Provider ${p.displayName} created` });
  const { isNew, item: provider } = editor;
  const groups = useApi<Page<Group>>('/groups?limit=500');
  // Any provider states the redirect URI; the create form borrows it from the list.
  const others = useApi<OidcProviderPage>(isNew ? '/oidc-providers?limit=1' : null);
  const toast = useToast();
  const confirm = useConfirm();
  useTitle(isNew ? 'New single sign-on provider' : (provider.data?.displayName ?? 'Single sign-on provider'));
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [newSecret, setNewSecret] = useState('');
  const [scopes, setScopes] = useState('openid profile email');
  const [usernameClaim, setUsernameClaim] = useState('preferred_username');
  const [groupsClaim, setGroupsClaim] = useState('groups');
  const [domains, setDomains] = useState('');
  const [groupMap, setGroupMap] = useState<MapRow[]>([]);
  const [requireMappedGroup, setRequireMappedGroup] = useState(true);
  const [enabled, setEnabled] = useState(true);

  useEffect(() => {
    const p = provider.data;
    if (!p) return;
    setName(p.name);
    setDisplayName(p.displayName);
    setIssuer(p.issuer);
    setClientId(p.clientId);
    setScopes(p.scopes.join(' '));
    setUsernameClaim(p.usernameClaim);
    setGroupsClaim(p.groupsClaim);
    setDomains(p.allowedDomains.join(' '));
    setGroupMap(p.groupMap.map((m) => ({ claim: m.claim, group: m.group.id })));
    setRequireMappedGroup(p.requireMappedGroup);
    setEnabled(p.enabled);
    // A saved secret is not kept in the page.
    setNewSecret('');
  }, [provider.data]);

  const p = provider.data;
  if (!isNew && !p) return <Pending resource={provider} />;
  const map = groupMap.filter((m) => m.claim.trim() && m.group);
  const save = () => {
    const body = {
      name: name.trim(),
      displayName: displayName.trim(),
      issuer: issuer.trim(),
      clientId: clientId.trim(),
      ...(newSecret ? { clientSecret: newSecret } : {}),
      scopes: words(scopes),
      usernameClaim: usernameClaim.trim(),
      groupsClaim: groupsClaim.trim(),
      allowedDomains: words(domains),
      groupMap: map.map((m) => ({ claim: m.claim.trim(), group: m.group })),
      requireMappedGroup,
      enabled,
    };
    // A saved secret leaves the field when the answer is shown (the effect above); a refused
    // save keeps it for another try.
    void editor.save(body);
  };
  const removeSecret = async () => {
    let saved: OidcProvider | null = null;
    const ok = await confirm({
      title: 'Remove the client secret?',
      body: 'Gatehouse then signs in as a public client (PKCE only). The provider must allow that, or sign-ins through it fail.',
      confirmLabel: 'Remove',
      danger: true,
      action: async () => void (saved = await api.patch<OidcProvider>(editor.path, { clientSecret: null })),
    });
    if (ok !== null && saved) {
      const answer: OidcProvider = saved;
      provider.setData(() => answer);
      toast('Client secret removed');
    }
  };
  const redirectUri = p?.redirectUri ?? others.data?.items[0]?.redirectUri;
  const groupItems = groups.data?.items ?? [];
  return (
    <div className="page page-narrow">
      <PageHeader
        back={<BackLink to="/admin/oidc-providers">Single sign-on</BackLink>}
        title={isNew ? 'New single sign-on provider' : p!.displayName}
        subtitle={p && (p.enabled ? <Badge tone="green">Enabled</Badge> : <Badge tone="amber">Disabled</Badge>)}
      />
      <ResourceForm
        editor={editor}
        noun="provider"
        onSave={save}
        canSave={!!name.trim() && !!displayName.trim() && !!issuer.trim() && !!clientId.trim()}
        remove={p && { confirmTitle: `Delete the provider ${p.displayName}?`, body: 'Its sign-in button goes away; people it linked keep their accounts (and can sign in another way if they have one).', done: 'Provider deleted' }}
      >
        <Card title="Provider">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus={isNew} maxLength={64} pattern="[a-z0-9][a-z0-9\-]{0,63}" spellCheck={false} hint="Lower-case letters, digits and -; the CLI's gatehouse login --sso <name>." />
            <TextField label="Display name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} required maxLength={128} hint="The button says “Sign in with” this." />
            <TextField label="Issuer" value={issuer} onChange={(e) => setIssuer(e.target.value)} required maxLength={2048} spellCheck={false} placeholder="https://sso.example.com/realms/corp" hint="Exactly as the provider's discovery document states it." />
          </div>
          <Switch label={enabled ? 'Enabled: offered on the sign-in page' : 'Disabled: not offered, sign-ins through it refused'} checked={enabled} onChange={setEnabled} />
        </Card>
        <Card title="Client" description="The client registered at the provider for Gatehouse.">
          <div className="form-grid">
            <TextField label="Client ID" value={clientId} onChange={(e) => setClientId(e.target.value)} required maxLength={512} spellCheck={false} />
          </div>
          {!isNew && (
            <ActionItem
              title={
                <>
                  Client secret: <span id="oidc-secret-state">{p!.hasClientSecret ? 'set' : 'not set'}</span>
                </>
              }
              action={
                p!.hasClientSecret && (
                  <Button variant="danger" onClick={() => void removeSecret()}>
                    Remove client secret
                  </Button>
                )
              }
            >
              Sealed in the vault and never shown again. Without one Gatehouse is a public client (PKCE only).
            </ActionItem>
          )}
          <div className="form-grid">
            <TextField
              label={isNew ? 'Client secret' : 'New client secret'}
              type="password"
              autoComplete="new-password"
              value={newSecret}
              onChange={(e) => setNewSecret(e.target.value)}
              maxLength={4096}
              hint={isNew ? 'Leave empty for a public client.' : 'Leave empty to keep the one that is set.'}
            />
          </div>
        </Card>
        <Card title="Redirect URI" description="Register this at the provider as the client's redirect (callback) URI.">
          {redirectUri ? <RedirectUri uri={redirectUri} /> : <p className="muted">Shown once the provider is created.</p>}
        </Card>
        <Card title="Claims" description="What Gatehouse reads from the ID token (or the userinfo answer).">
          <div className="form-grid">
            <TextField label="Scopes" value={scopes} onChange={(e) => setScopes(e.target.value)} spellCheck={false} hint="Separated by spaces; openid is always added." />
            <TextField label="User name claim" value={usernameClaim} onChange={(e) => setUsernameClaim(e.target.value)} spellCheck={false} maxLength={128} hint="Dots reach into objects." />
            <TextField label="Groups claim" value={groupsClaim} onChange={(e) => setGroupsClaim(e.target.value)} spellCheck={false} maxLength={128} />
            <TextField label="Allowed e-mail domains" value={domains} onChange={(e) => setDomains(e.target.value)} spellCheck={false} placeholder="any" hint="Separated by spaces; empty allows any." />
          </div>
        </Card>
        <Card title="Group map" description="A value of the groups claim → a Gatehouse group (groups carry roles and secret sharing). The groups the map names follow the claims at every sign-in.">
          {groupMap.map((m, i) => (
            <div className="form-grid" key={i}>
              <TextField label={`Claim value ${i + 1}`} value={m.claim} onChange={(e) => setGroupMap(groupMap.map((x, j) => (j === i ? { ...x, claim: e.target.value } : x)))} spellCheck={false} maxLength={256} />
              <Field label={`Gatehouse group ${i + 1}`}>
                <select className="input" value={m.group} onChange={(e) => setGroupMap(groupMap.map((x, j) => (j === i ? { ...x, group: e.target.value } : x)))}>
                  <option value="">Choose a group…</option>
                  {groupItems.map((g) => (
                    <option key={g.id} value={g.id}>
                      {g.name}
                    </option>
                  ))}
                </select>
              </Field>
              <div>
                <Button variant="ghost" icon="x" onClick={() => setGroupMap(groupMap.filter((_, j) => j !== i))}>
                  Remove mapping {i + 1}
                </Button>
              </div>
            </div>
          ))}
          {groups.data && groupItems.length === 0 && <Alert kind="info">There are no Gatehouse groups yet: create one under Groups first.</Alert>}
          <div>
            <Button icon="plus" onClick={() => setGroupMap([...groupMap, { claim: '', group: '' }])}>
              Add a mapping
            </Button>
          </div>
          <Checkbox label="Refuse people none of whose groups is mapped" hint="They get no access at all; turn off for providers that send no groups (Google) and manage groups in Gatehouse." checked={requireMappedGroup} onChange={setRequireMappedGroup} />
        </Card>
      </ResourceForm>
    </div>
  );
}
