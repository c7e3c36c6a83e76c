// Secrets and folders: a folder tree, the secrets in the chosen folder, secret and folder
// editors with sharing.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, qs } from '../../api';
import { useMe } from '../../auth';
import { AclEditor } from '../../components/AclEditor';
import { Icon } from '../../components/Icon';
import { Alert, Badge, Button, Card, Empty, ErrorAlert, Field, InlineError, Loading, Modal, PageHeader, SearchBox, TextField, useConfirm, useToast } from '../../components/ui';
import { dateTime, relative } from '../../format';
import { useApi, useDebounced, useTitle } from '../../hooks';
import { Link, navigate, setQuery, useLocation } from '../../router';
import type { AccessLevel, FieldDef, Folder, Page, Secret, Template } from '../../api-types';
import { LEVELS } from '../../api-types';

const atLeast = (have: AccessLevel, need: AccessLevel) => LEVELS.indexOf(have) >= LEVELS.indexOf(need);

interface TreeNode {
  folder: Folder;
  children: TreeNode[];
}

function buildTree(folders: Folder[]): TreeNode[] {
  const nodes = new Map(folders.map((f) => [f.id, { folder: f, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.folder.parentId ? nodes.get(n.folder.parentId) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  const sort = (ns: TreeNode[]) => {
    ns.sort((a, b) => a.folder.name.localeCompare(b.folder.name));
    ns.forEach((n) => sort(n.children));
  };
  sort(roots);
  return roots;
}

/** "Parent / Child" paths for folder pickers. */
export function folderPaths(folders: Folder[]): { id: string; path: string; folder: Folder }[] {
  const byId = new Map(folders.map((f) => [f.id, f]));
  const path = (f: Folder, depth = 0): string => {
    const p = f.parentId ? byId.get(f.parentId) : undefined;
    return p && depth < 32 ? `${path(p, depth + 1)} / ${f.name}` : f.name;
  };
  return folders.map((f) => ({ id: f.id, path: path(f), folder: f })).sort((a, b) => a.path.localeCompare(b.path));
}

function FolderTree({ nodes, selected, depth = 0 }: { nodes: TreeNode[]; selected: string; depth?: number }) {
  return (
    <ul className="tree">
      {nodes.map((n) => (
        <li key={n.folder.id}>
          <Link to={`/admin/secrets?folder=${n.folder.id}`} className={`tree-item${selected === n.folder.id ? ' active' : ''}`} style={{ paddingLeft: 10 + depth * 14 }}>
            <Icon name="folder" />
            <span>{n.folder.name}</span>
          </Link>
          {n.children.length > 0 && <FolderTree nodes={n.children} selected={selected} depth={depth + 1} />}
        </li>
      ))}
    </ul>
  );
}

export function SecretsAdmin() {
  useTitle('Secrets & folders');
  const me = useMe();
  const toast = useToast();
  const { query } = useLocation();
  const folder = query.get('folder') ?? '';
  const [search, setSearch] = useState(query.get('q') ?? '');
  const q = useDebounced(search.trim(), 250);
  useEffect(() => {
    if ((query.get('q') ?? '') !== q) setQuery({ q: q || null });
  }, [q]);
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  const secrets = useApi<Page<Secret>>(`/secrets${qs({ folderId: folder || undefined, search: q, limit: 500 })}`);
  const [newFolder, setNewFolder] = useState(false);
  const tree = useMemo(() => buildTree(folders.data?.items ?? []), [folders.data]);
  const current = folders.data?.items.find((f) => f.id === folder);
  const canCreate = me.can('manage_secrets');

  return (
    <div className="page page-wide">
      <PageHeader
        title="Secrets & folders"
        subtitle="Credentials in the vault, organised in folders. Secret values are never shown here."
        actions={
          canCreate && (
            <>
              <Button icon="folder" onClick={() => setNewFolder(true)}>
                New folder
              </Button>
              <Link className="btn btn-primary" to={`/admin/secrets/new${folder && folder !== 'root' ? `?folder=${folder}` : ''}`}>
                <Icon name="plus" />
                <span>New secret</span>
              </Link>
            </>
          )
        }
      />
      <div className="split">
        <nav className="split-side card" aria-label="Folders">
          <Link to="/admin/secrets" className={`tree-item${folder === '' ? ' active' : ''}`}>
            <Icon name="lock" />
            <span>All secrets</span>
          </Link>
          <Link to="/admin/secrets?folder=root" className={`tree-item${folder === 'root' ? ' active' : ''}`}>
            <Icon name="key" />
            <span>Not in a folder</span>
          </Link>
          {folders.data && folders.data.items.length > 0 && <div className="tree-heading">Folders</div>}
          <FolderTree nodes={tree} selected={folder} />
          {folders.data?.items.length === 0 && <p className="muted small tree-empty">No folders yet.</p>}
        </nav>
        <div className="split-main">
          <div className="toolbar">
            <h2 className="toolbar-title">
              {folder === '' ? 'All secrets' : folder === 'root' ? 'Not in a folder' : (current?.name ?? 'Folder')}
            </h2>
            {current && (
              <Link className="btn btn-sm btn-ghost" to={`/admin/folders/${current.id}`}>
                <Icon name="settings" />
                <span>Folder settings and sharing</span>
              </Link>
            )}
          </div>
          <div className="toolbar">
            <SearchBox value={search} onChange={setSearch} placeholder="Search secrets by name" />
            {secrets.data && <span className="muted toolbar-count">{secrets.data.total} secrets</span>}
          </div>
          <ErrorAlert error={secrets.error ?? folders.error} />
          {!secrets.data && secrets.loading ? (
            <Loading />
          ) : secrets.data?.items.length === 0 ? (
            <Empty
              icon="lock"
              title={q ? 'No matches' : 'No secrets here'}
              action={
                canCreate &&
                !q && (
                  <Link className="btn btn-primary" to={`/admin/secrets/new${folder && folder !== 'root' ? `?folder=${folder}` : ''}`}>
                    New secret
                  </Link>
                )
              }
            >
              {q ? `No secret matches “${q}”.` : 'Secrets you create or that are shared with you appear here.'}
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="table table-cards table-click">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Machine</th>
                    <th>Username</th>
                    <th>Your access</th>
                    <th>Changed</th>
                  </tr>
                </thead>
                <tbody>
                  {secrets.data?.items.map((s) => (
                    <tr key={s.id} onClick={() => navigate(`/admin/secrets/${s.id}`)}>
                      <td data-label="Name">
                        <Link to={`/admin/secrets/${s.id}`} className="cell-title">
                          {s.name}
                        </Link>
                        <div className="cell-sub">
                          {folder === '' && s.folderId && (
                            <>
                              <Icon name="folder" size={12} /> {folders.data?.items.find((f) => f.id === s.folderId)?.name ?? 'folder'} ·{' '}
                            </>
                          )}
                          {s.template.name}
                        </div>
                      </td>
                      <td data-label="Machine" className="mono">
                        {s.machine ?? '—'}
                      </td>
                      <td data-label="Username" className="mono">
                        {s.username ?? '—'}
                      </td>
                      <td data-label="Your access">
                        <Badge tone={s.access === 'owner' ? 'violet' : s.access === 'edit' ? 'blue' : 'neutral'}>{s.access}</Badge>
                      </td>
                      <td data-label="Changed" className="nowrap">
                        {relative(s.updatedAt)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </div>
      {newFolder && (
        <NewFolderDialog
          folders={folders.data?.items ?? []}
          parentId={current?.id ?? null}
          onClose={() => setNewFolder(false)}
          onCreated={(f) => {
            setNewFolder(false);
            folders.reload();
            toast(`Folder ${f.name} created`);
            navigate(`/admin/secrets?folder=${f.id}`);
          }}
        />
      )}
    </div>
  );
}

function NewFolderDialog({ folders, parentId, onClose, onCreated }: { folders: Folder[]; parentId: string | null; onClose(): void; onCreated(f: Folder): void }) {
  const [name, setName] = useState('');
  const [parent, setParent] = useState(parentId ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const options = folderPaths(folders).filter((f) => atLeast(f.folder.access, 'edit'));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.post<Folder>('/folders', { name: name.trim(), parentId: parent || null }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title="New folder" onClose={onClose}>
      <form className="stack" onSubmit={submit}>
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus maxLength={256} />
        <Field label="Inside" htmlFor="nf-parent">
          <select id="nf-parent" className="input" value={parent} onChange={(e) => setParent(e.target.value)}>
            <option value="">(top level)</option>
            {options.map((f) => (
              <option key={f.id} value={f.id}>
                {f.path}
              </option>
            ))}
          </select>
        </Field>
        <InlineError error={error} />
        <div className="form-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} disabled={!name.trim()}>
            Create folder
          </Button>
        </div>
      </form>
    </Modal>
  );
}

// ---- one secret

function FieldInput({ f, value, onChange, stored, cleared, onClear, disabled }: { f: FieldDef; value: string; onChange(v: string): void; stored: boolean; cleared: boolean; onClear(v: boolean): void; disabled?: boolean }) {
  const id = `field-${f.name}`;
  const label = (
    <>
      {f.label}
      {f.required && <span className="required" aria-label="required"> *</span>}
    </>
  );
  if (f.secret) {
    const placeholder = cleared ? 'will be cleared' : stored ? '•••••••• stored — type to replace' : f.type === 'key' ? 'paste the private key' : '';
    return (
      <Field
        label={label}
        htmlFor={id}
        className={f.type === 'key' ? 'span-2' : undefined}
        hint={
          stored && !disabled ? (
            <label className="inline-check">
              <input type="checkbox" checked={cleared} onChange={(e) => onClear(e.target.checked)} /> Clear the stored value
            </label>
          ) : undefined
        }
      >
        {f.type === 'key' ? (
          <textarea id={id} className="input mono secret-textarea" rows={4} value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} spellCheck={false} autoComplete="off" disabled={disabled || cleared} />
        ) : (
          <input id={id} className="input" type="password" value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} autoComplete="new-password" disabled={disabled || cleared} />
        )}
      </Field>
    );
  }
  if (f.type === 'notes')
    return (
      <Field label={label} htmlFor={id} className="span-2">
        <textarea id={id} className="input" rows={3} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} />
      </Field>
    );
  return (
    <Field label={label} htmlFor={id}>
      <input id={id} className="input" type={f.type === 'number' ? 'number' : 'text'} value={value} onChange={(e) => onChange(e.target.value)} placeholder={f.default !== undefined ? String(f.default) : undefined} disabled={disabled} spellCheck={false} />
    </Field>
  );
}

export function SecretEdit({ id }: { id: string }) {
  const isNew = id === 'new';
  const toast = useToast();
  const confirm = useConfirm();
  const { query } = useLocation();
  const secret = useApi<Secret>(isNew ? null : `/secrets/${encodeURIComponent(id)}`);
  const templates = useApi<Page<Template>>('/templates?limit=500');
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  useTitle(isNew ? 'New secret' : (secret.data?.name ?? 'Secret'));

  const [templateId, setTemplateId] = useState('');
  const [name, setName] = useState('');
  const [folderId, setFolderId] = useState(query.get('folder') ?? '');
  const [values, setValues] = useState<Record<string, string>>({});
  const [cleared, setCleared] = useState<Record<string, boolean>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const s = secret.data;
    if (!s) return;
    setTemplateId(s.template.id);
    setName(s.name);
    setFolderId(s.folderId ?? '');
    setValues(Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, String(v)])));
    setCleared({});
  }, [secret.data]);

  useEffect(() => {
    if (isNew && !templateId && templates.data?.items[0]) setTemplateId(templates.data.items[0].id);
  }, [isNew, templateId, templates.data]);

  const template = templates.data?.items.find((t) => t.id === templateId);
  const access: AccessLevel = isNew ? 'owner' : (secret.data?.access ?? 'list');
  const canEdit = atLeast(access, 'edit');
  const folderOptions = folderPaths(folders.data?.items ?? []).filter((f) => atLeast(f.folder.access, 'edit') || f.id === secret.data?.folderId);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!template) return;
    setBusy(true);
    setError(null);
    const fields: Record<string, string | number | null> = {};
    for (const f of template.fields) {
      const v = values[f.name] ?? '';
      if (f.secret) {
        if (cleared[f.name]) fields[f.name] = null;
        else if (v) fields[f.name] = v;
      } else {
        const before = secret.data?.fields[f.name];
        if (isNew ? v !== '' : String(before ?? '') !== v) fields[f.name] = v === '' ? null : f.type === 'number' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
      }
    }
    try {
      if (isNew) {
        const s = await api.post<Secret>('/secrets', { name: name.trim(), template: template.id, folderId: folderId || null, fields });
        toast(`Secret ${s.name} created`);
        navigate(`/admin/secrets/${s.id}`, { replace: true });
      } else {
        const s = await api.patch<Secret>(`/secrets/${encodeURIComponent(id)}`, { name: name.trim(), folderId: folderId || null, ...(Object.keys(fields).length ? { fields } : {}) });
        secret.setData(() => s);
        toast('Changes saved');
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!isNew && !secret.data) return secret.error ? <ErrorAlert error={secret.error} /> : <Loading />;
  const s = secret.data;
  return (
    <div className="page page-narrow">
      <PageHeader
        back={
          <Link to={`/admin/secrets${s?.folderId ? `?folder=${s.folderId}` : ''}`}>
            <Icon name="arrowLeft" size={14} /> Secrets
          </Link>
        }
        title={isNew ? 'New secret' : s!.name}
        subtitle={
          s && (
            <>
              {s.template.name} · your access: <Badge>{s.access}</Badge> · changed {dateTime(s.updatedAt)}
            </>
          )
        }
      />
      {!isNew && !canEdit && <Alert kind="info">You can see this secret but not change it.</Alert>}
      <form className="stack" onSubmit={save}>
        <Card title="Details">
          <div className="form-grid">
            {isNew && (
              <Field label="Template" htmlFor="tpl">
                <select id="tpl" className="input" value={templateId} onChange={(e) => setTemplateId(e.target.value)}>
                  {templates.data?.items.map((t) => (
                    <option key={t.id} value={t.id}>
                      {t.name}
                    </option>
                  ))}
                </select>
              </Field>
            )}
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={!canEdit} autoFocus={isNew} maxLength={256} hint={isNew ? 'People find it by this name, e.g. “web1 deploy”.' : undefined} />
            <Field label="Folder" htmlFor="folder">
              <select id="folder" className="input" value={folderId} onChange={(e) => setFolderId(e.target.value)} disabled={!canEdit}>
                <option value="">(no folder)</option>
                {folderOptions.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.path}
                  </option>
                ))}
              </select>
            </Field>
          </div>
        </Card>
        <Card title="Fields" description={template ? `From the template “${template.name}”. Secret fields are encrypted; their values are never shown here.` : undefined}>
          {!template ? (
            templates.error ? <ErrorAlert error={templates.error} /> : <Loading />
          ) : (
            <div className="form-grid">
              {template.fields.map((f) => (
                <FieldInput
                  key={f.name}
                  f={f}
                  value={values[f.name] ?? ''}
                  onChange={(v) => setValues((x) => ({ ...x, [f.name]: v }))}
                  stored={!!s?.secretFields.includes(f.name)}
                  cleared={!!cleared[f.name]}
                  onClear={(v) => setCleared((x) => ({ ...x, [f.name]: v }))}
                  disabled={!canEdit}
                />
              ))}
            </div>
          )}
        </Card>
        <InlineError error={error} />
        {canEdit && (
          <div className="form-actions sticky-actions">
            <Button onClick={() => navigate(`/admin/secrets${folderId ? `?folder=${folderId}` : ''}`)}>Cancel</Button>
            <Button type="submit" variant="primary" busy={busy} disabled={!name.trim() || !template}>
              {isNew ? 'Create secret' : 'Save changes'}
            </Button>
          </div>
        )}
      </form>
      {s && atLeast(s.access, 'view') && <AclEditor kind="secret" path={`/secrets/${encodeURIComponent(s.id)}/permissions`} canEdit={s.access === 'owner'} inFolder={!!s.folderId} />}
      {s && atLeast(s.access, 'view') && <HostKeyCard id={s.id} canEdit={canEdit} />}
      {s && s.access === 'owner' && (
        <Card title="Delete">
          <div className="action-item">
            <p className="muted">Removes the secret and its stored values. Past sessions and the audit trail keep their history.</p>
            <Button
              variant="danger"
              onClick={async () => {
                const ok = await confirm({ title: `Delete ${s.name}?`, body: 'This cannot be undone.', confirmLabel: 'Delete', danger: true, action: () => api.del(`/secrets/${encodeURIComponent(s.id)}`) });
                if (ok !== null) {
                  toast('Secret deleted');
                  navigate(`/admin/secrets${s.folderId ? `?folder=${s.folderId}` : ''}`);
                }
              }}
            >
              Delete secret
            </Button>
          </div>
        </Card>
      )}
    </div>
  );
}

function HostKeyCard({ id, canEdit }: { id: string; canEdit: boolean }) {
  const key = useApi<{ hostKey: { host: string; port: number; keyType: string; fingerprint: string; firstSeen: number } | null }>(`/secrets/${encodeURIComponent(id)}/host-key`);
  const toast = useToast();
  const confirm = useConfirm();
  const hk = key.data?.hostKey;
  return (
    <Card title="Target host key" description="Trusted on first connection and pinned: a different key refuses the session.">
      <ErrorAlert error={key.error} />
      {key.loading && !key.data ? (
        <Loading />
      ) : (
        <div className="action-item">
          {hk ? (
            <div>
              <code className="break">
                {hk.keyType} {hk.fingerprint}
              </code>
              <p className="muted small">
                {hk.host}:{hk.port} · first seen {dateTime(new Date(Number(hk.firstSeen)).toISOString())}
              </p>
            </div>
          ) : (
            <p className="muted">No key pinned yet: the next session pins the key the target presents.</p>
          )}
          {hk && canEdit && (
            <Button
              onClick={async () => {
                const ok = await confirm({
                  title: 'Forget the pinned host key?',
                  body: 'Do this only after a legitimate key change on the target (e.g. a reinstall). The next session trusts whatever key the target presents.',
                  confirmLabel: 'Forget key',
                  danger: true,
                  action: () => api.del(`/secrets/${encodeURIComponent(id)}/host-key`),
                });
                if (ok !== null) {
                  toast('Host key forgotten');
                  key.reload();
                }
              }}
            >
              Forget key
            </Button>
          )}
        </div>
      )}
    </Card>
  );
}

// ---- one folder

export function FolderEdit({ id }: { id: string }) {
  const toast = useToast();
  const confirm = useConfirm();
  const folder = useApi<Folder>(`/folders/${encodeURIComponent(id)}`);
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  useTitle(folder.data?.name ?? 'Folder');
  const [name, setName] = useState('');
  const [parentId, setParentId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!folder.data) return;
    setName(folder.data.name);
    setParentId(folder.data.parentId ?? '');
  }, [folder.data]);

  const f = folder.data;
  if (!f) return folder.error ? <ErrorAlert error={folder.error} /> : <Loading />;
  const canEdit = atLeast(f.access, 'edit');
  // A folder cannot move into itself or its own subfolders.
  const all = folders.data?.items ?? [];
  const descendants = new Set<string>([f.id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const x of all) if (x.parentId && descendants.has(x.parentId) && !descendants.has(x.id)) (descendants.add(x.id), (grew = true));
  }
  const parents = folderPaths(all).filter((x) => !descendants.has(x.id) && (atLeast(x.folder.access, 'edit') || x.id === f.parentId));

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.patch<Folder>(`/folders/${encodeURIComponent(id)}`, { name: name.trim(), parentId: parentId || null });
      folder.setData(() => r);
      folders.reload();
      toast('Changes saved');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page page-narrow">
      <PageHeader
        back={
          <Link to={`/admin/secrets?folder=${f.id}`}>
            <Icon name="arrowLeft" size={14} /> {f.name}
          </Link>
        }
        title={
          <>
            <Icon name="folder" size={22} /> {f.name}
          </>
        }
        subtitle={
          <>
            Folder · your access: <Badge>{f.access}</Badge>
          </>
        }
      />
      <form className="stack" onSubmit={save}>
        <Card title="Folder">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={!canEdit} maxLength={256} />
            <Field label="Inside" htmlFor="parent">
              <select id="parent" className="input" value={parentId} onChange={(e) => setParentId(e.target.value)} disabled={!canEdit}>
                <option value="">(top level)</option>
                {parents.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.path}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <InlineError error={error} />
          {canEdit && (
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={busy} disabled={!name.trim()}>
                Save changes
              </Button>
            </div>
          )}
        </Card>
      </form>
      {atLeast(f.access, 'view') && <AclEditor kind="folder" path={`/folders/${encodeURIComponent(f.id)}/permissions`} canEdit={f.access === 'owner'} inFolder={!!f.parentId} />}
      {f.access === 'owner' && (
        <Card title="Delete">
          <div className="action-item">
            <p className="muted">Only an empty folder can be deleted: move or delete its secrets and subfolders first.</p>
            <Button
              variant="danger"
              onClick={async () => {
                const ok = await confirm({ title: `Delete the folder ${f.name}?`, confirmLabel: 'Delete', danger: true, action: () => api.del(`/folders/${encodeURIComponent(f.id)}`) });
                if (ok !== null) {
                  toast('Folder deleted');
                  navigate('/admin/secrets');
                }
              }}
            >
              Delete folder
            </Button>
          </div>
        </Card>
      )}
    </div>
  );
}
