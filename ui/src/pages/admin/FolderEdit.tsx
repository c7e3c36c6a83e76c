// One folder: its name and parent, sharing, and deleting it once it is empty.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { AclEditor } from '../../components/AclEditor';
import { BackLink, DeleteCard, Pending, SaveBar } from '../../components/EditForm';
import { Icon } from '../../components/Icon';
import { Badge, Card, InlineError, PageHeader, TextField, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import type { Folder, Page } from '../../api-types';
import { useMe } from '../../auth';
import { atLeast, folderPaths, FolderSelect } from './folders';
import { PolicyCard } from './PolicyCard';

export function FolderEdit({ id }: { id: string }) {
  const toast = useToast();
  const folder = useApi<Folder>(`/folders/${encodeURIComponent(id)}`);
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  const me = useMe();
  useTitle(folder.data?.name ?? 'Folder');
  const [name, setName] = useState('');
  const [parentId, setParentId] = useState('');
  const { busy, error, run } = useSubmit();
  useEffect(() => {
    if (!folder.data) return;
    setName(folder.data.name);
    setParentId(folder.data.parentId ?? '');
  }, [folder.data]);

  const f = folder.data;
  if (!f) return <Pending resource={folder} />;
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

  const save = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await api.patch<Folder>(`/folders/${encodeURIComponent(id)}`, { name: name.trim(), parentId: parentId || null });
      folder.setData(() => r);
      folders.reload();
      toast('Changes saved');
    });
  };

  return (
    <div className="page page-narrow">
      <PageHeader
        back={<BackLink to={`/admin/secrets?folder=${f.id}`}>{f.name}</BackLink>}
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
            <FolderSelect id="parent" label="Inside" none="(top level)" value={parentId} onChange={setParentId} options={parents} disabled={!canEdit} />
          </div>
          <InlineError error={error} />
          {canEdit && <SaveBar sticky={false} busy={busy} canSave={!!name.trim()} saveLabel="Save changes" />}
        </Card>
      </form>
      {me.can('administer') && (
        <PolicyCard<Folder>
          kind="folder"
          path={`/folders/${encodeURIComponent(f.id)}`}
          policyId={f.policyId}
          parentFolderId={f.parentId}
          folders={folders.data?.items}
          canEdit={canEdit}
          onSaved={(r) => {
            folder.setData(() => r);
            folders.reload();
          }}
        />
      )}
      {atLeast(f.access, 'view') && <AclEditor kind="folder" path={`/folders/${encodeURIComponent(f.id)}/permissions`} canEdit={f.access === 'owner'} inFolder={!!f.parentId} />}
      {f.access === 'owner' && (
        <DeleteCard
          about="Only an empty folder can be deleted: move or delete its secrets and subfolders first."
          confirmTitle={`Delete the folder ${f.name}?`}
          path={`/folders/${encodeURIComponent(f.id)}`}
          done="Folder deleted"
          then="/admin/secrets"
        >
          Delete folder
        </DeleteCard>
      )}
    </div>
  );
}
