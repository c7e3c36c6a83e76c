// The pieces of every edit page: the way back to the list, the wait for the item, the form
// with its error and its save bar (delete on the left, cancel and save on the right), the
// delete button that asks first, checkbox grids of roles or groups, and rows of actions.
import type { ComponentProps, ReactNode } from 'react';
import { api } from '../api';
import type { Editor } from '../editing';
import type { Resource } from '../hooks';
import { navigate, Link } from '../router';
import { Icon } from './Icon';
import { Button, Card, Checkbox, ErrorAlert, InlineError, Loading, useConfirm, useToast } from './ui';

/** The link above an edit page's title, back to where it came from. */
export function BackLink({ to, children }: { to: string; children: ReactNode }) {
  return (
    <Link to={to}>
      <Icon name="arrowLeft" size={14} /> {children}
    </Link>
  );
}

/** What an edit page shows until its item has loaded. */
export function Pending({ resource }: { resource: Resource<unknown> }) {
  return resource.error ? <ErrorAlert error={resource.error} /> : <Loading />;
}

export interface SaveBarProps {
  saveLabel: string;
  busy: boolean;
  /** False keeps the save button disabled (e.g. a required field is empty). */
  canSave?: boolean;
  onCancel?(): void;
  /** On the left, apart from the rest (a delete button). */
  start?: ReactNode;
  /** Between cancel and save. */
  extra?: ReactNode;
  /** Stays at the bottom of the window while the form scrolls. */
  sticky?: boolean;
}

export function SaveBar({ saveLabel, busy, canSave = true, onCancel, start, extra, sticky = true }: SaveBarProps) {
  return (
    <div className={`form-actions${sticky ? ' sticky-actions' : ''}`}>
      {start}
      {onCancel && <Button onClick={onCancel}>Cancel</Button>}
      {extra}
      <Button type="submit" variant="primary" busy={busy} disabled={!canSave}>
        {saveLabel}
      </Button>
    </div>
  );
}

/** A form of cards, its error, and its save bar (left out when readOnly). */
export function EditForm({ onSave, error, readOnly, className, children, ...bar }: { onSave(): void; error: unknown; readOnly?: boolean; className?: string; children: ReactNode } & SaveBarProps) {
  return (
    <form
      className={`stack${className ? ' ' + className : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        onSave();
      }}
    >
      {children}
      <InlineError error={error} />
      {!readOnly && <SaveBar {...bar} />}
    </form>
  );
}

/**
 * The form of an item edited through useEditor: "Create <noun>" or "Save changes", cancel back
 * to the list, and (for an existing item, unless remove is false) "Delete <noun>" on the left.
 */
export function ResourceForm({
  editor,
  noun,
  remove,
  onCancel = () => navigate(editor.route),
  ...form
}: {
  editor: Editor<unknown>;
  noun: string;
  remove?: false | { confirmTitle: string; body?: string; done: string; path?: string };
  onSave(): void;
  canSave: boolean;
  readOnly?: boolean;
  onCancel?(): void;
  children: ReactNode;
}) {
  return (
    <EditForm
      {...form}
      error={editor.error}
      busy={editor.busy}
      saveLabel={editor.isNew ? `Create ${noun}` : 'Save changes'}
      onCancel={onCancel}
      start={
        remove &&
        !editor.isNew && (
          <DeleteButton className="mr-auto" then={editor.route} {...remove} path={remove.path ?? editor.path}>
            {`Delete ${noun}`}
          </DeleteButton>
        )
      }
    />
  );
}

/** Deletes after asking; then says so and goes to `then`. */
export function DeleteButton({
  confirmTitle,
  body,
  path,
  done,
  then,
  children,
  ...button
}: { confirmTitle: string; body?: ReactNode; path: string; done: string; then: string; children: ReactNode } & Omit<ComponentProps<typeof Button>, 'onClick' | 'children'>) {
  const confirm = useConfirm();
  const toast = useToast();
  return (
    <Button
      variant="danger"
      {...button}
      onClick={async () => {
        const ok = await confirm({ title: confirmTitle, body, confirmLabel: 'Delete', danger: true, action: () => api.del(path) });
        if (ok !== null) {
          toast(done);
          navigate(then);
        }
      }}
    >
      {children}
    </Button>
  );
}

/** One row of an actions card: what it does, and its button. */
export function ActionItem({ title, children, action }: { title?: ReactNode; children: ReactNode; action: ReactNode }) {
  return (
    <div className="action-item">
      {title ? (
        <div>
          <strong>{title}</strong>
          <p className="muted small">{children}</p>
        </div>
      ) : (
        <p className="muted">{children}</p>
      )}
      {action}
    </div>
  );
}

/** The last card of an edit page: why deleting is safe or not, and the delete button. */
export function DeleteCard({ about, ...del }: { about: ReactNode } & ComponentProps<typeof DeleteButton>) {
  return (
    <Card title="Delete">
      <ActionItem action={<DeleteButton {...del} />}>{about}</ActionItem>
    </Card>
  );
}

/** Checkboxes choosing some of a loaded list (roles, groups, launchers) by id. */
export function CheckGrid<T extends { id: string }>({
  items,
  value,
  onChange,
  label,
  hint,
  matches = (t, v) => v === t.id,
}: {
  /** Undefined while loading. */
  items: T[] | undefined;
  value: string[];
  onChange(v: string[]): void;
  label(t: T): ReactNode;
  hint?(t: T): ReactNode;
  /** Whether an entry of value names t (e.g. by id or by name). */
  matches?(t: T, v: string): boolean;
}) {
  if (!items) return <Loading />;
  return (
    <div className="check-grid">
      {items.map((t) => (
        <Checkbox key={t.id} label={label(t)} hint={hint?.(t)} checked={value.some((v) => matches(t, v))} onChange={(on) => onChange(on ? [...value, t.id] : value.filter((v) => !matches(t, v)))} />
      ))}
    </div>
  );
}
