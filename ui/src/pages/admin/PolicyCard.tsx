// The "Access policy" card of the secret and folder pages (administrators): which access
// request policy applies — the object's own, or one inherited from the nearest folder up the
// tree that has one — and a select that attaches a policy or detaches the own one (PATCH
// policyId; the API also wants edit on the object). The API shows each object's own policyId
// only, so the inherited one is read from the folders the person can see.
import { useEffect, useState } from 'react';
import { api } from '../../api';
import { Button, Card, ErrorAlert, InlineError, SelectField, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi } from '../../hooks';
import { Link } from '../../router';
import type { AccessPolicy, Folder, Page } from '../../api-types';
import './PolicyCard.css';

/** The nearest folder from `folderId` up that has a policy, or null. */
export function inheritedPolicy(folders: Folder[], folderId: string | null): { policyId: string; folder: Folder } | null {
  const byId = new Map(folders.map((f) => [f.id, f]));
  let f = folderId ? byId.get(folderId) : undefined;
  for (let depth = 0; f && depth < 64; depth++) {
    if (f.policyId) return { policyId: f.policyId, folder: f };
    f = f.parentId ? byId.get(f.parentId) : undefined;
  }
  return null;
}

export function PolicyCard<T extends { policyId: string | null }>({
  kind,
  path,
  policyId,
  parentFolderId,
  folders,
  canEdit,
  onSaved,
}: {
  kind: 'secret' | 'folder';
  /** The object's API path (PATCHed with policyId). */
  path: string;
  /** The object's own policy (null: inherited or none). */
  policyId: string | null;
  /** The folder the secret is in, or the folder's parent. */
  parentFolderId: string | null;
  /** Every folder the person can see (undefined while loading). */
  folders: Folder[] | undefined;
  canEdit: boolean;
  onSaved(answer: T): void;
}) {
  const toast = useToast();
  const policies = useApi<Page<AccessPolicy>>('/access-policies?limit=500');
  const [value, setValue] = useState(policyId ?? '');
  const { busy, error, run } = useSubmit();
  useEffect(() => setValue(policyId ?? ''), [policyId]);

  const list = policies.data?.items ?? [];
  const nameOf = (id: string) => list.find((p) => p.id === id)?.name ?? id;
  const inherited = folders ? inheritedPolicy(folders, parentFolderId) : null;
  const applies = policyId ? { id: policyId, from: null } : inherited ? { id: inherited.policyId, from: inherited.folder } : null;
  const none = inherited ? `Inherited: ${nameOf(inherited.policyId)} (from the folder ${inherited.folder.name})` : 'None';

  const save = () =>
    void run(async () => {
      const r = await api.patch<T>(path, { policyId: value || null });
      onSaved(r);
      toast(value ? `Policy ${nameOf(value)} attached` : 'Own policy detached');
    });

  return (
    <Card title="Access policy" description={`Launching ${kind === 'secret' ? 'this secret' : 'the secrets in this folder'} may need an approved request, and more, as the policy says.`}>
      <ErrorAlert error={policies.error} />
      <p className="policy-applies" data-testid="policy-applies">
        {applies ? (
          <>
            Applies: <Link to={`/admin/access-policies/${applies.id}`}>{nameOf(applies.id)}</Link>
            {applies.from ? ` — inherited from the folder ${applies.from.name}` : ` — attached to this ${kind}`}
          </>
        ) : (
          <span className="muted">No policy applies: whoever may view {kind === 'secret' ? 'it' : 'its secrets'} may launch at any time.</span>
        )}
      </p>
      <div className="form-grid">
        <SelectField id={`${kind}-policy`} label="Access policy" none={none} value={value} onChange={setValue} options={list.map((p) => ({ value: p.id, label: p.name }))} disabled={!canEdit || busy} />
      </div>
      <InlineError error={error} />
      {canEdit && (
        <div className="form-actions">
          <Button variant="primary" busy={busy} disabled={value === (policyId ?? '')} onClick={save}>
            Save policy
          </Button>
        </div>
      )}
    </Card>
  );
}
