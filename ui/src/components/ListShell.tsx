// The states every list goes through, drawn the same way everywhere: an error above, a
// spinner while the first page loads (later reloads keep the old rows), an empty state
// when there is nothing to show, and the list itself otherwise.
import type { ReactNode } from 'react';
import { Icon } from './Icon';
import { ErrorAlert, Loading } from './ui';
import { Link } from '../router';

export function ListShell({
  resource,
  error = resource?.error,
  loading = !!resource && !resource.data && resource.loading,
  loadingLabel,
  isEmpty,
  empty,
  children,
}: {
  /** The loaded list; its error and first load are shown unless error/loading say otherwise. */
  resource?: { data: unknown; error: unknown; loading: boolean };
  error?: unknown;
  loading?: boolean;
  loadingLabel?: string;
  isEmpty: boolean;
  /** Shown instead of the list when isEmpty. */
  empty: ReactNode;
  children: ReactNode;
}) {
  return (
    <>
      <ErrorAlert error={error} />
      {loading ? <Loading label={loadingLabel} /> : isEmpty ? empty : children}
    </>
  );
}

/** The list page's main action: a link styled as the primary button. */
export function NewLink({ to, children }: { to: string; children: ReactNode }) {
  return (
    <Link className="btn btn-primary" to={to}>
      <Icon name="plus" />
      <span>{children}</span>
    </Link>
  );
}
