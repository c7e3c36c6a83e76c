// One secret: its template, name and folder, its fields (secret values are write-only here),
// sharing, its account on the target (rotation, heartbeat), the pinned host key of its target,
// and deleting it.
import { useEffect, useState } from 'react';
import { api } from '../../api';
import { AclEditor } from '../../components/AclEditor';
import { BackLink, DeleteCard, Pending, ResourceForm } from '../../components/EditForm';
import { Alert, Badge, Button, Card, ErrorAlert, Field, Loading, PageHeader, SelectField, TextField, useConfirm, useToast } from '../../components/ui';
import { useEditor } from '../../editing';
import { dateTime } from '../../format';
import { useApi, useTitle } from '../../hooks';
import { navigate, useLocation } from '../../router';
import type { AccessLevel, FieldDef, Folder, HostKeyAnswer, Page, Secret, Template } from '../../api-types';
import { useMe } from '../../auth';
import { atLeast, folderPaths, FolderSelect } from './folders';
import { PolicyCard } from './PolicyCard';
import { TargetAccountCard } from './TargetAccountCard';

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
  const { query } = useLocation();
  const editor = useEditor<Secret>({ collection: '/secrets', id, route: '/admin/secrets', created: (s) => `Secret ${s.name} created` });
  const { isNew, item: secret } = editor;
  const templates = useApi<Page<Template>>('/templates?limit=500');
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  const me = useMe();
  useTitle(isNew ? 'New secret' : (secret.data?.name ?? 'Secret'));

  const [templateId, setTemplateId] = useState('');
  const [name, setName] = useState('');
  const [folderId, setFolderId] = useState(query.get('folder') ?? '');
  const [values, setValues] = useState<Record<string, string>>({});
  const [cleared, setCleared] = useState<Record<string, boolean>>({});

  useEffect(() => {
    const s = secret.data;
    if (!s) return;
    setTemplateId(s.template.id);
    setName(s.name);
    setFolderId(s.folderId ?? '');
    setValues(Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, String(v)])));
    setCleared({});
  }, [secret.data]);

  // A new secret starts on the first template. The update keeps a choice made in the
  // meantime: this effect runs after the paint, when a quick user may already have picked one.
  useEffect(() => {
    const first = templates.data?.items[0]?.id;
    if (isNew && first) setTemplateId((current) => current || first);
  }, [isNew, templates.data]);

  const template = templates.data?.items.find((t) => t.id === templateId);
  const access: AccessLevel = isNew ? 'owner' : (secret.data?.access ?? 'list');
  const canEdit = atLeast(access, 'edit');
  const folderOptions = folderPaths(folders.data?.items ?? []).filter((f) => atLeast(f.folder.access, 'edit') || f.id === secret.data?.folderId);

  const save = () => {
    if (!template) return;
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
    void editor.save(
      { name: name.trim(), folderId: folderId || null, ...(Object.keys(fields).length ? { fields } : {}) },
      { name: name.trim(), template: template.id, folderId: folderId || null, fields },
    );
  };

  if (!isNew && !secret.data) return <Pending resource={secret} />;
  const s = secret.data;
  const inFolder = (folder: string | null | undefined) => `/admin/secrets${folder ? `?folder=${folder}` : ''}`;
  return (
    <div className="page page-narrow">
      <PageHeader
        back={<BackLink to={inFolder(s?.folderId)}>Secrets</BackLink>}
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
      <ResourceForm editor={editor} noun="secret" onSave={save} readOnly={!canEdit} canSave={!!name.trim() && !!template} onCancel={() => navigate(inFolder(folderId))}>
        <Card title="Details">
          <div className="form-grid">
            {isNew && (
              <SelectField id="tpl" label="Template" options={(templates.data?.items ?? []).map((t) => ({ value: t.id, label: t.name }))} value={templateId} onChange={setTemplateId} />
            )}
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={!canEdit} autoFocus={isNew} maxLength={256} hint={isNew ? 'People find it by this name, e.g. “web1 deploy”.' : undefined} />
            <FolderSelect id="folder" label="Folder" none="(no folder)" value={folderId} onChange={setFolderId} options={folderOptions} disabled={!canEdit} />
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
      </ResourceForm>
      {s && me.can('administer') && (
        <PolicyCard<Secret> kind="secret" path={`/secrets/${encodeURIComponent(s.id)}`} policyId={s.policyId} parentFolderId={s.folderId} folders={folders.data?.items} canEdit={canEdit} onSaved={(r) => secret.setData(() => r)} />
      )}
      {s && atLeast(s.access, 'view') && <AclEditor kind="secret" path={`/secrets/${encodeURIComponent(s.id)}/permissions`} canEdit={s.access === 'owner'} inFolder={!!s.folderId} />}
      {s && <TargetAccountCard secret={s} canEdit={canEdit} onChanged={() => secret.reload()} />}
      {s && atLeast(s.access, 'view') && <HostKeyCard id={s.id} canEdit={canEdit} />}
      {s && s.access === 'owner' && (
        <DeleteCard
          about="Removes the secret and its stored values. Past sessions and the audit trail keep their history."
          confirmTitle={`Delete ${s.name}?`}
          body="This cannot be undone."
          path={`/secrets/${encodeURIComponent(s.id)}`}
          done="Secret deleted"
          then={inFolder(s.folderId)}
        >
          Delete secret
        </DeleteCard>
      )}
    </div>
  );
}

function HostKeyCard({ id, canEdit }: { id: string; canEdit: boolean }) {
  const key = useApi<HostKeyAnswer>(`/secrets/${encodeURIComponent(id)}/host-key`);
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
