// Sharing editor for a secret or folder: entries of (user or group, level) and the
// "inherit from the folder" switch.
import { useEffect, useMemo, useState } from 'react';
import { api } from '../api';
import { useMe } from '../auth';
import { useApi } from '../hooks';
import type { Acl, AccessLevel, Group, Page, User } from '../api-types';
import { LEVELS } from '../api-types';
import { Icon } from './Icon';
import { Alert, Button, Card, ErrorAlert, InlineError, Loading, Switch, useToast } from './ui';
import './AclEditor.css';

const LEVEL_HINTS: Record<AccessLevel, string> = {
  list: 'List: see it and its details, never secret values',
  view: 'View: also reveal values and launch sessions',
  edit: 'Edit: also change it',
  owner: 'Owner: also delete it and change sharing',
};

interface Row {
  key: number;
  /** False when the principal's name could not be looked up (shown by id). */
  known?: boolean;
  principalType: 'user' | 'group';
  principal: string;
  level: AccessLevel;
}

export function AclEditor({ path, canEdit, inFolder, kind }: { path: string; canEdit: boolean; inFolder: boolean; kind: 'secret' | 'folder' }) {
  const me = useMe();
  const toast = useToast();
  const acl = useApi<Acl>(path);
  const admin = me.can('administer');
  const users = useApi<Page<User>>(admin ? '/users?limit=500' : null);
  const groups = useApi<Page<Group>>(admin ? '/groups?limit=500' : null);
  const [rows, setRows] = useState<Row[]>([]);
  const [inherit, setInherit] = useState(true);
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const seq = useMemo(() => ({ n: 0 }), []);

  const names = useMemo(() => {
    const m = new Map<string, string>();
    for (const u of users.data?.items ?? []) m.set(`user:${u.id}`, u.username);
    for (const g of groups.data?.items ?? []) m.set(`group:${g.id}`, g.name);
    m.set(`user:${me.id}`, me.username);
    for (const g of me.groups) m.set(`group:${g.id}`, g.name);
    return m;
  }, [users.data, groups.data, me]);

  useEffect(() => {
    if (!acl.data) return;
    setInherit(acl.data.inheritPermissions);
    setRows(
      acl.data.entries.map((e) => {
        const name = names.get(`${e.principalType}:${e.principalId}`);
        return { key: ++seq.n, principalType: e.principalType, principal: name ?? e.principalId, known: name !== undefined, level: e.level };
      }),
    );
    setDirty(false);
  }, [acl.data, names, seq]);

  const update = (key: number, p: Partial<Row>) => {
    setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...p } : r)));
    setDirty(true);
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const entries = rows.filter((r) => r.principal.trim()).map((r) => ({ principalType: r.principalType, principal: r.principal.trim(), level: r.level }));
      const r = await api.put<Acl>(path, { inheritPermissions: inherit, entries });
      acl.setData(() => r);
      toast('Sharing saved');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const userNames = (users.data?.items ?? []).map((u) => u.username);
  const groupNames = (groups.data?.items ?? []).map((g) => g.name);

  return (
    <Card
      title="Sharing"
      description={kind === 'folder' ? 'Who may use this folder. Secrets and subfolders that inherit get the same access.' : 'Who may use this secret.'}
    >
      {acl.error ? (
        <ErrorAlert error={acl.error} />
      ) : !acl.data ? (
        <Loading />
      ) : (
        <div className="stack">
          {!canEdit && <Alert kind="info">Only owners can change the sharing.</Alert>}
          <Switch
            label={
              inFolder
                ? `Inherit access from the ${kind === 'folder' ? 'parent folder' : 'folder'}`
                : `Inherit access from a folder (applies once it is in one)`
            }
            checked={inherit}
            onChange={(v) => {
              setInherit(v);
              setDirty(true);
            }}
            disabled={!canEdit}
          />
          {rows.length === 0 ? (
            <p className="muted">Not shared with anyone directly{inherit && inFolder ? '; access comes from the folder' : ''}.</p>
          ) : (
            <table className="table acl-table">
              <thead>
                <tr>
                  <th>Type</th>
                  <th>User or group</th>
                  <th>Access</th>
                  <th aria-label="Remove" />
                </tr>
              </thead>
              <tbody>
                {!canEdit &&
                  rows.map((r) => {
                    const known = r.known !== false;
                    return (
                      <tr key={r.key}>
                        <td>{r.principalType === 'user' ? 'User' : 'Group'}</td>
                        <td>{known ? <strong>{r.principal}</strong> : <span className="muted mono" title={r.principal}>{r.principal.slice(0, 8)}…</span>}</td>
                        <td>{r.level[0]!.toUpperCase() + r.level.slice(1)}</td>
                        <td />
                      </tr>
                    );
                  })}
                {canEdit && rows.map((r) => (
                  <tr key={r.key}>
                    <td>
                      <select className="input" value={r.principalType} onChange={(e) => update(r.key, { principalType: e.target.value as 'user' | 'group' })} disabled={!canEdit} aria-label="Type">
                        <option value="user">User</option>
                        <option value="group">Group</option>
                      </select>
                    </td>
                    <td>
                      <input className="input" value={r.principal} onChange={(e) => update(r.key, { principal: e.target.value })} list={`acl-${r.principalType}s`} placeholder={r.principalType === 'user' ? 'username' : 'group name'} disabled={!canEdit} aria-label="User or group" spellCheck={false} />
                    </td>
                    <td>
                      <select className="input" value={r.level} onChange={(e) => update(r.key, { level: e.target.value as AccessLevel })} disabled={!canEdit} aria-label="Access" title={LEVEL_HINTS[r.level]}>
                        {LEVELS.map((l) => (
                          <option key={l} value={l}>
                            {l[0]!.toUpperCase() + l.slice(1)}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td className="col-actions">
                      {canEdit && (
                        <button
                          type="button"
                          className="icon-btn"
                          aria-label="Remove entry"
                          onClick={() => {
                            setRows((rs) => rs.filter((x) => x.key !== r.key));
                            setDirty(true);
                          }}
                        >
                          <Icon name="trash" />
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <datalist id="acl-users">
            {userNames.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <datalist id="acl-groups">
            {groupNames.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <ul className="level-legend muted small">
            {LEVELS.map((l) => (
              <li key={l}>{LEVEL_HINTS[l]}</li>
            ))}
          </ul>
          <InlineError error={error} />
          {canEdit && (
            <div className="form-actions">
              <Button
                icon="plus"
                className="mr-auto"
                onClick={() => {
                  setRows((rs) => [...rs, { key: ++seq.n, principalType: 'user', principal: '', level: 'view' }]);
                  setDirty(true);
                }}
              >
                Add entry
              </Button>
              {dirty && (
                <Button onClick={() => acl.reload()} disabled={busy}>
                  Discard
                </Button>
              )}
              <Button variant="primary" busy={busy} disabled={!dirty} onClick={() => void save()}>
                Save sharing
              </Button>
            </div>
          )}
        </div>
      )}
    </Card>
  );
}
