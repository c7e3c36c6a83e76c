// What the secret and folder pages share: comparing access levels, and choosing a folder by
// its path ("Parent / Child").
import { SelectField } from '../../components/ui';
import type { AccessLevel, Folder } from '../../api-types';
import { LEVELS } from '../../api-types';

export const atLeast = (have: AccessLevel, need: AccessLevel) => LEVELS.indexOf(have) >= LEVELS.indexOf(need);

export interface FolderPath {
  id: string;
  path: string;
  folder: Folder;
}

/** "Parent / Child" paths for folder pickers. */
export function folderPaths(folders: Folder[]): FolderPath[] {
  const byId = new Map(folders.map((f) => [f.id, f]));
  const path = (f: Folder, depth = 0): string => {
    const p = f.parentId ? byId.get(f.parentId) : undefined;
    return p && depth < 32 ? `${path(p, depth + 1)} / ${f.name}` : f.name;
  };
  return folders.map((f) => ({ id: f.id, path: path(f), folder: f })).sort((a, b) => a.path.localeCompare(b.path));
}

/** A folder picker; the empty choice (none) means no folder or the top level. */
export function FolderSelect({ options, ...select }: { id: string; label: string; none: string; value: string; onChange(v: string): void; options: FolderPath[]; disabled?: boolean }) {
  return <SelectField {...select} options={options.map((f) => ({ value: f.id, label: f.path }))} />;
}
