// Secrets & folders: a folder tree beside the secrets in the chosen folder, and the dialog
// that creates a folder.
import { useMemo, useState } from 'react';
import { api, qs } from '../../api';
import { useMe } from '../../auth';
import { CardTable } from '../../components/CardTable';
import { Icon } from '../../components/Icon';
import { ListShell, NewLink } from '../../components/ListShell';
import { Badge, Button, Empty, Modal, PageHeader, SearchBox, TextField, useToast } from '../../components/ui';
import { EditForm } from '../../components/EditForm';
import { useSubmit } from '../../editing';
import { relative } from '../../format';
import { useApi, useSearchQuery, useTitle } from '../../hooks';
import { Link, navigate, useLocation } from '../../router';
import type { Folder, Page, Secret } from '../../api-types';
import { atLeast, folderPaths, FolderSelect } from './folders';
import './SecretsAdmin.css';

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
  const { search, setSearch, q } = useSearchQuery(250);
  const folders = useApi<Page<Folder>>('/folders?limit=500');
  const secrets = useApi<Page<Secret>>(`/secrets${qs({ folderId: folder || undefined, search: q, limit: 500 })}`);
  const [newFolder, setNewFolder] = useState(false);
  const tree = useMemo(() => buildTree(folders.data?.items ?? []), [folders.data]);
  const current = folders.data?.items.find((f) => f.id === folder);
  const canCreate = me.can('manage_secrets');
  const newSecret = `/admin/secrets/new${folder && folder !== 'root' ? `?folder=${folder}` : ''}`;

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
              <NewLink to={newSecret}>New secret</NewLink>
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
            <h2 className="toolbar-title">{folder === '' ? 'All secrets' : folder === 'root' ? 'Not in a folder' : (current?.name ?? 'Folder')}</h2>
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
          <ListShell
            resource={secrets}
            error={secrets.error ?? folders.error}
            isEmpty={secrets.data?.items.length === 0}
            empty={
              <Empty
                icon="lock"
                title={q ? 'No matches' : 'No secrets here'}
                action={
                  canCreate &&
                  !q && (
                    <Link className="btn btn-primary" to={newSecret}>
                      New secret
                    </Link>
                  )
                }
              >
                {q ? `No secret matches “${q}”.` : 'Secrets you create or that are shared with you appear here.'}
              </Empty>
            }
          >
            <CardTable
              rows={secrets.data?.items}
              href={(s) => `/admin/secrets/${s.id}`}
              columns={[
                {
                  label: 'Name',
                  title: (s) => s.name,
                  cell: (s) => (
                    <div className="cell-sub">
                      {folder === '' && s.folderId && (
                        <>
                          <Icon name="folder" size={12} /> {folders.data?.items.find((f) => f.id === s.folderId)?.name ?? 'folder'} ·{' '}
                        </>
                      )}
                      {s.template.name}
                    </div>
                  ),
                },
                { label: 'Machine', className: 'mono', cell: (s) => s.machine ?? '—' },
                { label: 'Username', className: 'mono', cell: (s) => s.username ?? '—' },
                { label: 'Your access', cell: (s) => <Badge tone={s.access === 'owner' ? 'violet' : s.access === 'edit' ? 'blue' : 'neutral'}>{s.access}</Badge> },
                { label: 'Changed', className: 'nowrap', cell: (s) => relative(s.updatedAt) },
              ]}
            />
          </ListShell>
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
  const { busy, error, run } = useSubmit();
  const options = folderPaths(folders).filter((f) => atLeast(f.folder.access, 'edit'));
  return (
    <Modal title="New folder" onClose={onClose}>
      <EditForm
        onSave={() => void run(async () => onCreated(await api.post<Folder>('/folders', { name: name.trim(), parentId: parent || null })))}
        error={error}
        busy={busy}
        canSave={!!name.trim()}
        saveLabel="Create folder"
        onCancel={onClose}
        sticky={false}
      >
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus maxLength={256} />
        <FolderSelect id="nf-parent" label="Inside" none="(top level)" value={parent} onChange={setParent} options={options} />
      </EditForm>
    </Modal>
  );
}
