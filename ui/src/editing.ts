// The save side of every edit form: busy/error state around one request (useSubmit), and
// create-or-patch for a resource at /things/:id, where "new" is the id of the create form
// (useEditor). One place decides what a save does next: a new item gets its own address,
// a changed one is shown as the server answered.
import { useCallback, useState } from 'react';
import { api } from './api';
import { useToast } from './components/ui';
import { useApi, type Resource } from './hooks';
import { navigate } from './router';

export interface Submit {
  busy: boolean;
  error: unknown;
  setError(e: unknown): void;
  /** Runs fn with busy set and the last error cleared; an error it throws is kept for the form to show. */
  run(fn: () => Promise<unknown>): Promise<void>;
}

export function useSubmit(): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

export interface EditorOptions<T> {
  /** The API collection, e.g. '/roles'. */
  collection: string;
  /** The item's id, or 'new' for the create form. */
  id: string;
  /** The portal's list page, e.g. '/admin/roles'; a created item opens at route/id. */
  route: string;
  /** The toast after a create, e.g. (r) => `Role ${r.name} created`. */
  created(item: T): string;
}

export interface Editor<T> extends Submit {
  isNew: boolean;
  /** The list page (where cancel and delete lead). */
  route: string;
  /** The item's API path (what delete removes). */
  path: string;
  /** The item as loaded (nothing is loaded for 'new'). */
  item: Resource<T>;
  /**
   * Creates (POST collection, with createBody when given) or patches (PATCH collection/id)
   * the item. A created item replaces the create form's address; a patched one replaces
   * the loaded data.
   */
  save(body: unknown, createBody?: unknown): Promise<void>;
}

export function useEditor<T extends { id: string }>({ collection, id, route, created }: EditorOptions<T>): Editor<T> {
  const isNew = id === 'new';
  const toast = useToast();
  const path = `${collection}/${encodeURIComponent(id)}`;
  const item = useApi<T>(isNew ? null : path);
  const submit = useSubmit();
  const save = (body: unknown, createBody: unknown = body) =>
    submit.run(async () => {
      if (isNew) {
        const t = await api.post<T>(collection, createBody);
        toast(created(t));
        navigate(`${route}/${t.id}`, { replace: true });
      } else {
        const t = await api.patch<T>(path, body);
        item.setData(() => t);
        toast('Changes saved');
      }
    });
  return { ...submit, isNew, route, path, item, save };
}
