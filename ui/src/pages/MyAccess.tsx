// Home: the secrets the signed-in person may open, with one action per launcher.
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, errorText } from '../api';
import { Link } from '../router';
import { useMe } from '../auth';
import { CardTable } from '../components/CardTable';
import { Icon } from '../components/Icon';
import { ListShell } from '../components/ListShell';
import { Alert, Badge, Button, CopyButton, Empty, PageHeader, SearchBox, copyText, useToast } from '../components/ui';
import { dayOrTime, duration, PROTOCOL_LABELS, timeOnly } from '../format';
import { useApi, useSearchQuery, useTitle } from '../hooks';
import { downloadUrl, launchersFor, launchForDoor, rdpAvailable } from '../launch';
import type { CheckoutStatus, Folder, Launcher, LaunchResponse, OpenPsmGateway, OpenPsmLink, Page, Secret, Session, Template, UsableAccessLevel } from '../api-types';
import { CheckoutControl } from '../components/CheckoutControl';
import { JoinInvitations } from '../components/JoinInvitations';
import { JoinRequests } from '../components/JoinRequests';
import { useStepUp } from '../components/StepUpDialog';
import { windowDesktop } from '../rdp-browser/display';
import { KEYBOARD_LAYOUTS, preferredLayout, rememberLayout } from '../rdp-browser/keyboard';
import './MyAccess.css';

const PAGE = 500;

interface RowState {
  busy?: string;
  error?: string;
  result?: LaunchResponse;
  rdpMissing?: boolean;
  /** The secret is under an access request policy and the person has no open grant. */
  needsRequest?: boolean;
  /** The access level chosen for the next launch (issue 12); empty: none. */
  level?: string;
}

const needsRequest = (e: unknown) => e instanceof ApiError && (e.code === 'access_request_required' || e.code === 'access_not_yet_open');

export function MyAccess() {
  useTitle('My access');
  const me = useMe();
  const toast = useToast();
  const { search, setSearch, q } = useSearchQuery(200);

  // Everything up to PAGE secrets is filtered here, instantly; beyond that the server searches.
  const all = useApi<Page<Secret>>(`/secrets?limit=${PAGE}`);
  const serverSearch = !!all.data && all.data.total > PAGE && q !== '';
  const searched = useApi<Page<Secret>>(serverSearch ? `/secrets?limit=${PAGE}&search=${encodeURIComponent(q)}` : null);
  const templates = useApi<Page<Template>>('/templates?limit=500');
  const launchers = useApi<Page<Launcher>>('/launchers?limit=500');
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  const [rows, setRows] = useState<Record<string, RowState>>({});
  // Exclusive checkouts of the secrets shown (one call; actions merge the secret's new status in).
  const checkouts = useApi<Page<CheckoutStatus>>('/checkouts?limit=500', { pollMs: 30000 });
  const checkoutOf = useMemo(() => new Map((checkouts.data?.items ?? []).map((c) => [c.secretId, c])), [checkouts.data]);
  const setCheckout = (id: string, c: CheckoutStatus | null) =>
    checkouts.setData((d) => d && { ...d, items: [...d.items.filter((x) => x.secretId !== id), ...(c && (c.checkedOut || c.queue.length) ? [c] : [])] });
  const [rdpOk, setRdpOk] = useState<boolean | null>(null);

  const folderName = useMemo(() => new Map((folders.data?.items ?? []).map((f) => [f.id, f.name])), [folders.data]);
  const templateById = useMemo(() => new Map((templates.data?.items ?? []).map((t) => [t.id, t])), [templates.data]);

  const items = useMemo(() => {
    const source = serverSearch ? (searched.data?.items ?? []) : (all.data?.items ?? []);
    if (!q || serverSearch) return source;
    const words = q.toLowerCase().split(/\s+/);
    return source.filter((s) => {
      const hay = [s.name, s.template.name, s.machine, s.username, s.domain, s.folderId ? folderName.get(s.folderId) : ''].join(' ').toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  }, [all.data, searched.data, serverSearch, q, folderName]);

  const launchable = (s: Secret) => launchersFor(templateById.get(s.template.id), launchers.data?.items ?? []);
  const needsRdp = useMemo(() => (all.data?.items ?? []).some((s) => launchersFor(templateById.get(s.template.id), launchers.data?.items ?? []).some((l) => l.protocol === 'rdp')), [all.data, templateById, launchers.data]);
  useEffect(() => {
    if (needsRdp && rdpOk === null) void rdpAvailable().then(setRdpOk);
  }, [needsRdp, rdpOk]);

  const stepUp = useStepUp();
  const patch = (id: string, p: RowState) => setRows((r) => ({ ...r, [id]: { ...r[id], ...p } }));

  const copyCommand = async (s: Secret, l: Launcher) => {
    patch(s.id, { busy: `${l.id}:copy`, error: undefined });
    try {
      const r = await stepUp.run((totp) => launchForDoor(s.id, l.id, totp, rows[s.id]?.level || undefined));
      if (!r) return patch(s.id, { busy: undefined, error: 'You declined the recording: no session.' });
      patch(s.id, { busy: undefined, result: r });
      if (r.ssh && (await copyText(r.ssh.command))) toast('SSH command copied to the clipboard');
    } catch (e) {
      patch(s.id, { busy: undefined, error: errorText(e), needsRequest: needsRequest(e), result: undefined });
    }
  };

  const rdp = async (s: Secret, l: Launcher) => {
    patch(s.id, { busy: `${l.id}:rdp`, error: undefined });
    try {
      const r = await stepUp.run((totp) => launchForDoor(s.id, l.id, totp, rows[s.id]?.level || undefined));
      if (!r) return patch(s.id, { busy: undefined, error: 'You declined the recording: no session.' });
      if (r.rdpFile) {
        downloadUrl(r.rdpFile);
        patch(s.id, { busy: undefined });
        toast('Remote Desktop file downloaded; open it to connect');
      } else patch(s.id, { busy: undefined, rdpMissing: true, error: 'This server does not hand out Remote Desktop files yet.' });
    } catch (e) {
      patch(s.id, { busy: undefined, error: errorText(e), needsRequest: needsRequest(e) });
    }
  };

  /** Remote Desktop in a browser tab (issue 14): the tab opens with the click (a tab opened after an await is a blocked pop-up) and gets the ticket's page. */
  const rdpBrowser = async (s: Secret, l: Launcher) => {
    // The desktop from this window (the new tab has its size) and the chosen keyboard, sent at launch.
    const display = { ...windowDesktop(window), keyboardLayout };
    const tab = window.open('', '_blank');
    patch(s.id, { busy: `${l.id}:rdp-web`, error: undefined });
    try {
      const r = await stepUp.run((totp) => launchForDoor(s.id, l.id, totp, rows[s.id]?.level || undefined, display));
      if (!r) {
        tab?.close();
        return patch(s.id, { busy: undefined, error: 'You declined the recording: no session.' });
      }
      // consent=1 when nothing is left to agree to; a launcher that records is agreed to on the session page.
      const q = new URLSearchParams({ ticket: r.ticket, ...(r.consent.required && !r.consent.given ? {} : { consent: '1' }) });
      const url = `/rdp/session?${q}`;
      if (tab) tab.location.href = url;
      else location.assign(url);
      patch(s.id, { busy: undefined });
    } catch (e) {
      tab?.close();
      patch(s.id, { busy: undefined, error: errorText(e), needsRequest: needsRequest(e) });
    }
  };
  const canLaunch = me.can('launch');
  const [keyboardLayout, setKeyboardLayout] = useState<string>(() => preferredLayout());
  // OpenPSM, IAM side (docs/integrations/openpsm.md): this node sends people to a gateway node's /start.
  const psmGateway = useApi<OpenPsmGateway>(canLaunch ? '/openpsm/gateway' : null);
  const openPsm = async (s: Secret, l: Launcher) => {
    // The tab is opened now, while the click still counts as one (popup blockers), and sent on once the link exists.
    const tab = window.open('', '_blank');
    if (tab) tab.opener = null;
    patch(s.id, { busy: `${l.id}:psm`, error: undefined });
    try {
      const r = await api.post<OpenPsmLink>('/openpsm/links', { secretId: s.id, mode: l.protocol === 'telnet' ? 'Telnet' : 'SSH' });
      if (tab) tab.location.href = r.url;
      else window.open(r.url, '_blank', 'noopener');
      patch(s.id, { busy: undefined });
    } catch (e) {
      tab?.close();
      patch(s.id, { busy: undefined, error: errorText(e), needsRequest: needsRequest(e), result: undefined });
    }
  };

  const loading = all.loading && !all.data;

  return (
    <div className="page">
      {stepUp.dialog}
      <PageHeader title="My access" subtitle="Systems you can reach through Gatehouse. Credentials stay in the vault: Gatehouse signs you in on the target." />
      <JoinInvitations />
      <JoinRequests />
      {!canLaunch && all.data && all.data.total > 0 && (
        <Alert kind="info">You can see these entries but not open sessions: none of your roles has the launch permission.</Alert>
      )}
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search by name, machine, username, template or folder" autoFocus />
        {all.data && (
          <span className="muted toolbar-count">
            {q ? `${items.length} of ${all.data.total}` : all.data.total} {all.data.total === 1 ? 'entry' : 'entries'}
          </span>
        )}
      </div>
      <ListShell
        error={all.error ?? templates.error ?? launchers.error}
        loading={loading}
        isEmpty={(!!all.data && all.data.total === 0) || (items.length === 0 && !searched.loading)}
        empty={
          all.data && all.data.total === 0 ? (
            <Empty icon="key" title="Nothing shared with you yet">
              When someone shares a system with you{me.can('manage_secrets') ? ', or you add one under Secrets & folders' : ''}, it appears here.
            </Empty>
          ) : (
            <Empty icon="search" title="No matches" action={<Button onClick={() => setSearch('')}>Clear search</Button>}>
              Nothing matches “{q}”.
            </Empty>
          )
        }
      >
        <CardTable className="access-table" columns={[{ label: 'Name' }, { label: 'Template' }, { label: 'Machine' }, { label: 'Username' }, { label: 'Connect', actions: true }]}>
          {items.map((s) => {
            const st = rows[s.id] ?? {};
            return (
              <AccessRow
                key={s.id}
                s={s}
                folder={s.folderId ? folderName.get(s.folderId) : undefined}
                launchers={launchable(s)}
                ready={!!templates.data && !!launchers.data && !(rdpOk === null && launchable(s).some((l) => l.protocol === 'rdp'))}
                st={st}
                canLaunch={canLaunch}
                rdpOk={rdpOk === true && !st.rdpMissing}
                onCopy={(l) => void copyCommand(s, l)}
                onRdp={(l) => void rdp(s, l)}
                onRdpBrowser={(l) => void rdpBrowser(s, l)}
                keyboardLayout={keyboardLayout}
                onKeyboardLayout={(v) => {
                  rememberLayout(v);
                  setKeyboardLayout(v);
                }}
                onOpenPsm={psmGateway.data?.gatewayUrl ? (l) => void openPsm(s, l) : undefined}
                onClose={() => patch(s.id, { result: undefined, error: undefined })}
                onLevel={(level) => patch(s.id, { level })}
                checkout={
                  canLaunch && s.access !== 'list' ? (
                    <CheckoutControl secretId={s.id} status={checkoutOf.get(s.id)} onChange={(c) => setCheckout(s.id, c)} onError={(m) => patch(s.id, { error: m, result: undefined })} />
                  ) : undefined
                }
              />
            );
          })}
        </CardTable>
      </ListShell>
      {canLaunch && <RecentSessions userId={me.id} />}
    </div>
  );
}

/** The person's own last sessions: what they did recently, and how each ended. */
function RecentSessions({ userId }: { userId: string }) {
  const sessions = useApi<Page<Session>>(`/sessions?userId=${encodeURIComponent(userId)}&limit=6`, { pollMs: 15000 });
  const items = sessions.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <section className="recent">
      <h2 className="section-title">Your recent sessions</h2>
      <CardTable
        rows={items}
        rowKey={(s) => s.id}
        columns={[
          {
            label: 'Secret',
            cell: (s) => (
              <>
                <span className="cell-title">{s.secret.name}</span> <Badge tone="blue">{PROTOCOL_LABELS[s.protocol] ?? s.protocol}</Badge>
                <div className="cell-sub">via {s.door === 'web' ? 'browser' : s.door}</div>
              </>
            ),
          },
          { label: 'Started', className: 'nowrap', cell: (s) => dayOrTime(s.startedAt) },
          {
            label: 'Duration',
            className: 'nowrap',
            cell: (s) =>
              s.status === 'live' ? (
                <>
                  <span className="live-dot" aria-hidden="true" /> live
                </>
              ) : s.endedAt ? (
                duration(Date.parse(s.endedAt) - Date.parse(s.startedAt))
              ) : (
                '—'
              ),
          },
          { label: 'Ended because', className: 'small', cell: (s) => s.endReason ?? '—' },
        ]}
      />
    </section>
  );
}

function AccessRow({
  s,
  folder,
  launchers,
  ready,
  st,
  canLaunch,
  rdpOk,
  onCopy,
  onRdp,
  onRdpBrowser,
  keyboardLayout,
  onKeyboardLayout,
  onOpenPsm,
  onClose,
  onLevel,
  checkout,
}: {
  s: Secret;
  folder?: string;
  launchers: Launcher[];
  /** Templates, launchers and (for RDP) the server's RDP door are known: until then no verdict is shown. */
  ready: boolean;
  st: RowState;
  canLaunch: boolean;
  rdpOk: boolean;
  onCopy(l: Launcher): void;
  onRdp(l: Launcher): void;
  onRdpBrowser(l: Launcher): void;
  /** The keyboard layout browser RDP sessions ask for (remembered in this browser). */
  keyboardLayout: string;
  onKeyboardLayout(v: string): void;
  /** Set when this node issues OpenPSM /start links (setting openpsmGatewayUrl): open the session on that gateway. */
  onOpenPsm?: (l: Launcher) => void;
  onClose(): void;
  onLevel(level: string): void;
  /** The checkout state and action (exclusive use of the shared credential). */
  checkout?: ReactNode;
}) {
  const canOpen = canLaunch && s.access !== 'list';
  const terminalLaunchers = launchers.filter((l) => l.protocol === 'ssh' || l.protocol === 'telnet');
  const rdpLaunchers = launchers.filter((l) => l.protocol === 'rdp' && rdpOk);
  const shown = [...terminalLaunchers, ...rdpLaunchers];
  return (
    <>
      <tr className={st.result || st.error ? 'has-detail' : undefined}>
        <td data-label="Name">
          <div className="cell-title">{s.name}</div>
          {folder && (
            <div className="cell-sub">
              <Icon name="folder" size={12} /> {folder}
            </div>
          )}
        </td>
        <td data-label="Template">{s.template.name}</td>
        <td data-label="Machine" className="mono">
          {s.machine ?? <span className="muted">—</span>}
        </td>
        <td data-label="Username" className="mono">
          {s.domain && s.username ? `${s.domain}\\${s.username}` : (s.username ?? <span className="muted">—</span>)}
        </td>
        <td className="col-actions">
          {!canOpen ? (
            <span className="muted small">{canLaunch ? 'List access only' : '—'}</span>
          ) : !ready ? (
            <span className="muted small" aria-busy="true">
              …
            </span>
          ) : shown.length === 0 ? (
            <span className="muted small note">{launchers.some((l) => l.protocol === 'rdp') ? 'Remote Desktop is not available on this server yet' : 'No launcher for this template'}</span>
          ) : (
            <div className="launchers">
              {checkout && <div className="checkout-row">{checkout}</div>}
              {s.account.targetKind && s.account.targetKind !== 'windows' && <LevelSelect secretId={s.id} value={st.level ?? ''} onChange={onLevel} />}
              {shown.map((l) => (
                <div className="launcher-row" key={l.id}>
                  {shown.length > 1 && <span className="launcher-name">{l.name}</span>}
                  {l.protocol === 'rdp' ? (
                    <>
                      <select className="kb-layout" aria-label="Keyboard layout" title="The keyboard layout of the remote desktop in the browser" value={keyboardLayout} onChange={(e) => onKeyboardLayout(e.target.value)}>
                        {KEYBOARD_LAYOUTS.map((k) => (
                          <option key={k.id} value={k.id}>
                            {k.label} keyboard
                          </option>
                        ))}
                      </select>
                      <Button small icon="monitor" busy={st.busy === `${l.id}:rdp-web`} onClick={() => onRdpBrowser(l)} title={`Open a ${l.name} session in a new browser tab`}>
                        Open in browser
                      </Button>
                      <Button small icon="download" busy={st.busy === `${l.id}:rdp`} onClick={() => onRdp(l)}>
                        Download .rdp
                      </Button>
                    </>
                  ) : (
                    <>
                      <a className="btn btn-soft btn-sm" href={`/terminal/${encodeURIComponent(s.id)}/${encodeURIComponent(l.id)}${st.level ? `?level=${encodeURIComponent(st.level)}` : ''}`} target="_blank" rel="noopener" title={`Open a ${l.name} session in a new browser tab`}>
                        <Icon name="terminal" />
                        <span>Open in browser</span>
                      </a>
                      <Button small variant="ghost" icon="copy" busy={st.busy === `${l.id}:copy`} onClick={() => onCopy(l)} title="Get a single-use ssh command for your own terminal">
                        Copy ssh command
                      </Button>
                      {onOpenPsm && (
                        <Button small variant="ghost" icon="link" busy={st.busy === `${l.id}:psm`} onClick={() => onOpenPsm(l)} title="Open the session on the OpenPSM gateway in a new browser tab (it asks for your master password)">
                          Open through OpenPSM gateway
                        </Button>
                      )}
                    </>
                  )}
                </div>
              ))}
            </div>
          )}
        </td>
      </tr>
      {(st.result?.ssh || st.error) && (
        <tr className="detail-row">
          <td colSpan={5}>
            {st.error ? (
              <Alert kind="error" onClose={onClose} action={st.needsRequest ? <Link to={`/access?secret=${encodeURIComponent(s.id)}`}>Request access</Link> : undefined}>
                {st.error}
              </Alert>
            ) : (
              st.result?.ssh && <CommandPanel r={st.result} onClose={onClose} />
            )}
          </td>
        </tr>
      )}
    </>
  );
}

function CommandPanel({ r, onClose }: { r: LaunchResponse; onClose(): void }) {
  const [hosts, setHosts] = useState(false);
  const ssh = r.ssh!;
  return (
    <div className="command-panel">
      <div className="command-line">
        <code>{ssh.command}</code>
        <CopyButton text={ssh.command} />
        <button type="button" className="icon-btn" onClick={onClose} aria-label="Close">
          <Icon name="x" />
        </button>
      </div>
      <p className="muted small">
        Paste it into your terminal. It works once, until {timeOnly(r.expiresAt)}; no password is asked.
        {r.consent?.required && ' The session is recorded.'}{' '}
        {ssh.knownHosts.length > 0 && (
          <button type="button" className="link-btn" onClick={() => setHosts((h) => !h)}>
            {hosts ? 'Hide' : 'Show'} Gatehouse host keys for known_hosts
          </button>
        )}
      </p>
      {hosts && (
        <div className="known-hosts">
          <pre>{ssh.knownHosts.join('\n')}</pre>
          <CopyButton text={ssh.knownHosts.join('\n') + '\n'} label="Copy lines" />
        </div>
      )}
      {r.launcher.protocol === 'telnet' && <Badge tone="blue">Telnet target: your side is still SSH</Badge>}
    </div>
  );
}

/**
 * The access levels of a managed secret the person may choose (issue 12): the groups the
 * session's account gets. Asked only for managed target accounts; shown only when there is a
 * choice to make.
 */
function LevelSelect({ secretId, value, onChange }: { secretId: string; value: string; onChange(v: string): void }) {
  const levels = useApi<Page<UsableAccessLevel>>(`/secrets/${encodeURIComponent(secretId)}/access-levels?limit=100`);
  const items = levels.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <label className="level-row small">
      Access level{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Access level for the session">
        <option value="">none</option>
        {items.map((l) => (
          <option key={l.id} value={l.id} title={l.targetGroups.join(', ')}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}
