// Building blocks shared by every page: buttons, alerts, empty states, fields, dialogs,
// toasts, search boxes, pagers.
import {
  cloneElement,
  createContext,
  isValidElement,
  useCallback,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
  type ButtonHTMLAttributes,
  type FormEvent,
  type ComponentPropsWithRef,
  type ReactNode,
} from 'react';
import { createPortal } from 'react-dom';
import { errorText } from '../api';
import { Icon, type IconName } from './Icon';
import './ui/surfaces.css';
import './ui/buttons.css';
import './ui/forms.css';
import './ui/feedback.css';
import './ui/toolbar.css';
import './ui/dialogs.css';
import './ui/display.css';

// ---- buttons

type Variant = 'primary' | 'secondary' | 'ghost' | 'danger' | 'link';

export function Button({
  variant = 'secondary',
  icon,
  busy,
  small,
  children,
  className,
  disabled,
  type = 'button',
  ...rest
}: { variant?: Variant; icon?: IconName; busy?: boolean; small?: boolean } & ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button type={type} className={`btn btn-${variant}${small ? ' btn-sm' : ''}${className ? ' ' + className : ''}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy ? <span className="spinner" aria-hidden="true" /> : icon ? <Icon name={icon} /> : null}
      {children !== undefined && <span>{children}</span>}
    </button>
  );
}

// ---- feedback

export function Alert({ kind = 'error', title, children, onClose, action }: { kind?: 'error' | 'info' | 'success' | 'warning'; title?: string; children?: ReactNode; onClose?: () => void; action?: ReactNode }) {
  const icon: IconName = kind === 'success' ? 'check' : kind === 'info' ? 'info' : 'alert';
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <Icon name={icon} size={18} className="alert-icon" />
      <div className="alert-body">
        {title && <strong className="alert-title">{title}</strong>}
        {children && <div>{children}</div>}
      </div>
      {action}
      {onClose && (
        <button type="button" className="alert-close" onClick={onClose} aria-label="Dismiss">
          <Icon name="x" />
        </button>
      )}
    </div>
  );
}

export function ErrorAlert({ error, onClose, title }: { error: unknown; onClose?: () => void; title?: string }) {
  if (!error) return null;
  return (
    <Alert kind="error" title={title} onClose={onClose}>
      {errorText(error)}
    </Alert>
  );
}

export function InlineError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="inline-error" role="alert">
      <Icon name="alert" /> {typeof error === 'string' ? error : errorText(error)}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Empty({ icon = 'info', title, children, action }: { icon?: IconName; title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-icon">
        <Icon name={icon} size={28} />
      </div>
      <h3>{title}</h3>
      {children && <p>{children}</p>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'neutral' | 'green' | 'red' | 'amber' | 'blue' | 'violet'; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

// ---- layout pieces

export function PageHeader({ title, subtitle, actions, back }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode; back?: ReactNode }) {
  return (
    <header className="page-header">
      <div className="page-header-text">
        {back && <div className="page-back">{back}</div>}
        <h1>{title}</h1>
        {subtitle && <p className="page-subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export function Card({ title, description, actions, children, className }: { title?: ReactNode; description?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card${className ? ' ' + className : ''}`}>
      {(title || actions) && (
        <div className="card-header">
          <div>
            {title && <h2>{title}</h2>}
            {description && <p className="card-description">{description}</p>}
          </div>
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      <div className="card-body">{children}</div>
    </section>
  );
}

export function Toolbar({ children }: { children: ReactNode }) {
  return <div className="toolbar">{children}</div>;
}

// ---- form fields

export function Field({ label, hint, error, children, htmlFor, className }: { label: ReactNode; hint?: ReactNode; error?: ReactNode; children: ReactNode; htmlFor?: string; className?: string }) {
  const auto = useId();
  let id = htmlFor;
  let content = children;
  // A lone input, select or textarea gets an id so that the label names it.
  if (!id && isValidElement<{ id?: string }>(children) && typeof children.type === 'string' && ['input', 'select', 'textarea'].includes(children.type)) {
    id = children.props.id ?? auto;
    content = cloneElement(children, { id });
  }
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ' ' + className : ''}`}>
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      {content}
      {hint && !error && <p className="field-hint">{hint}</p>}
      {error && <p className="field-error">{error}</p>}
    </div>
  );
}

export function TextField({ label, hint, error, className, ...input }: { label: ReactNode; hint?: ReactNode; error?: ReactNode } & ComponentPropsWithRef<'input'>) {
  const id = useId();
  return (
    <Field label={label} hint={hint} error={error} htmlFor={input.id ?? id} className={className}>
      <input id={input.id ?? id} className="input" {...input} />
    </Field>
  );
}

/** A drop-down of options; `none` adds an empty first choice with that text. */
export function SelectField({ label, hint, id, none, options, value, onChange, disabled }: { label: ReactNode; hint?: ReactNode; id?: string; none?: string; options: { value: string; label: ReactNode }[]; value: string; onChange(v: string): void; disabled?: boolean }) {
  return (
    <Field label={label} hint={hint} htmlFor={id}>
      <select id={id} className="input" value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled}>
        {none !== undefined && <option value="">{none}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function Checkbox({ label, hint, checked, onChange, disabled }: { label: ReactNode; hint?: ReactNode; checked: boolean; onChange(v: boolean): void; disabled?: boolean }) {
  return (
    <label className={`checkbox${disabled ? ' disabled' : ''}`}>
      <input type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
      <span>
        <span className="checkbox-label">{label}</span>
        {hint && <span className="checkbox-hint">{hint}</span>}
      </span>
    </label>
  );
}

export function Switch({ label, checked, onChange, disabled }: { label: ReactNode; checked: boolean; onChange(v: boolean): void; disabled?: boolean }) {
  return (
    <label className={`switch${disabled ? ' disabled' : ''}`}>
      <input type="checkbox" role="switch" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
      <span className="switch-track" aria-hidden="true" />
      <span>{label}</span>
    </label>
  );
}

export function SearchBox({ value, onChange, placeholder = 'Search', autoFocus, label }: { value: string; onChange(v: string): void; placeholder?: string; autoFocus?: boolean; label?: string }) {
  return (
    <div className="search-box">
      <Icon name="search" />
      <input type="search" className="input" value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} aria-label={label ?? placeholder} autoFocus={autoFocus} spellCheck={false} />
      {value && (
        <button type="button" className="search-clear" onClick={() => onChange('')} aria-label="Clear search">
          <Icon name="x" size={14} />
        </button>
      )}
    </div>
  );
}

/** One labelled input of a filter bar (.filters). */
export function FilterInput({ label, ...input }: { label: string } & ComponentPropsWithRef<'input'>) {
  return (
    <label>
      <span>{label}</span>
      <input className="input" {...input} />
    </label>
  );
}

export function Pager({ offset, limit, total, onChange, noun = 'item' }: { offset: number; limit: number; total: number; onChange(offset: number): void; noun?: string }) {
  if (total === 0) return null;
  const from = offset + 1;
  const to = Math.min(offset + limit, total);
  return (
    <div className="pager">
      <span className="muted">
        {from === 1 && to === total ? `${total} ${noun}${total === 1 ? '' : 's'}` : `${from}–${to} of ${total} ${noun}s`}
      </span>
      {total > limit && (
        <span className="pager-buttons">
          <Button small onClick={() => onChange(Math.max(0, offset - limit))} disabled={offset === 0}>
            Previous
          </Button>
          <Button small onClick={() => onChange(offset + limit)} disabled={to >= total}>
            Next
          </Button>
        </span>
      )}
    </div>
  );
}

// ---- dialogs

export function Modal({ title, children, onClose, footer, wide }: { title: ReactNode; children: ReactNode; onClose(): void; footer?: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[autofocus], input:not([type=hidden]):not([disabled]), textarea, select, button.btn-primary') ?? el;
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
      if (e.key === 'Tab' && el) {
        const f = [...el.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])')];
        if (f.length === 0) return;
        const a = f[0]!;
        const z = f[f.length - 1]!;
        if (e.shiftKey && document.activeElement === a) {
          e.preventDefault();
          z.focus();
        } else if (!e.shiftKey && document.activeElement === z) {
          e.preventDefault();
          a.focus();
        }
      }
    };
    document.addEventListener('keydown', onKey, true);
    document.body.classList.add('modal-open');
    return () => {
      document.removeEventListener('keydown', onKey, true);
      document.body.classList.remove('modal-open');
      prev?.focus?.();
    };
  }, []);
  return createPortal(
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal${wide ? ' modal-wide' : ''}`} role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref} tabIndex={-1}>
        <div className="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="modal-close" onClick={onClose} aria-label="Close">
            <Icon name="x" size={18} />
          </button>
        </div>
        <div className="modal-body">{children}</div>
        {footer && <div className="modal-footer">{footer}</div>}
      </div>
    </div>,
    document.body,
  );
}

interface ConfirmOptions {
  title: string;
  body?: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  /** Ask for a line of text (e.g. a reason); the promise resolves to it. */
  input?: { label: string; placeholder?: string; required?: boolean; multiline?: boolean };
  /** Runs on confirm; its error is shown in the dialog, which stays open. */
  action?: (text: string) => Promise<unknown>;
}

type ConfirmFn = (o: ConfirmOptions) => Promise<string | null>;
const ConfirmCtx = createContext<ConfirmFn | null>(null);

function ConfirmDialog({ o, done }: { o: ConfirmOptions; done(v: string | null): void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (o.input?.required && !text.trim()) {
      setError(`${o.input.label} is required.`);
      return;
    }
    if (o.action) {
      setBusy(true);
      setError(null);
      try {
        await o.action(text.trim());
      } catch (err) {
        setBusy(false);
        setError(err);
        return;
      }
    }
    done(text.trim());
  };
  return (
    <Modal title={o.title} onClose={() => done(null)}>
      <form onSubmit={submit} className="stack">
        {o.body && <div className="confirm-body">{o.body}</div>}
        {o.input && (
          <Field label={o.input.label} htmlFor={id}>
            {o.input.multiline ? (
              <textarea id={id} className="input" rows={3} value={text} onChange={(e) => setText(e.target.value)} placeholder={o.input.placeholder} autoFocus />
            ) : (
              <input id={id} className="input" value={text} onChange={(e) => setText(e.target.value)} placeholder={o.input.placeholder} autoFocus />
            )}
          </Field>
        )}
        <InlineError error={error} />
        <div className="form-actions">
          <Button onClick={() => done(null)}>Cancel</Button>
          <Button type="submit" variant={o.danger ? 'danger' : 'primary'} busy={busy} autoFocus={!o.input}>
            {o.confirmLabel ?? 'OK'}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

// ---- toasts

interface Toast {
  id: number;
  text: string;
  kind: 'success' | 'error' | 'info';
}
type ToastFn = (text: string, kind?: Toast['kind']) => void;
const ToastCtx = createContext<ToastFn | null>(null);

export function FeedbackProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [dialog, setDialog] = useState<{ o: ConfirmOptions; resolve(v: string | null): void } | null>(null);
  const seq = useRef(0);
  const toast = useCallback<ToastFn>((text, kind = 'success') => {
    const id = ++seq.current;
    setToasts((t) => [...t, { id, text, kind }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 7000 : 3500);
  }, []);
  const confirm = useCallback<ConfirmFn>((o) => new Promise((resolve) => setDialog({ o, resolve })), []);
  return (
    <ToastCtx.Provider value={toast}>
      <ConfirmCtx.Provider value={confirm}>
        {children}
        {dialog && (
          <ConfirmDialog
            o={dialog.o}
            done={(v) => {
              dialog.resolve(v);
              setDialog(null);
            }}
          />
        )}
        <div className="toasts" aria-live="polite">
          {toasts.map((t) => (
            <div key={t.id} className={`toast toast-${t.kind}`}>
              <Icon name={t.kind === 'success' ? 'check' : t.kind === 'error' ? 'alert' : 'info'} />
              <span>{t.text}</span>
            </div>
          ))}
        </div>
      </ConfirmCtx.Provider>
    </ToastCtx.Provider>
  );
}

export function useToast(): ToastFn {
  const t = useContext(ToastCtx);
  if (!t) throw new Error('useToast outside FeedbackProvider');
  return t;
}

export function useConfirm(): ConfirmFn {
  const c = useContext(ConfirmCtx);
  if (!c) throw new Error('useConfirm outside FeedbackProvider');
  return c;
}

// ---- clipboard

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Fallback for browsers that refuse the async clipboard (e.g. without a user gesture).
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label = 'Copy', small = true }: { text: string; label?: string; small?: boolean }) {
  const [done, setDone] = useState(false);
  return (
    <Button
      small={small}
      variant="ghost"
      icon={done ? 'check' : 'copy'}
      onClick={async () => {
        if (await copyText(text)) {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        }
      }}
    >
      {done ? 'Copied' : label}
    </Button>
  );
}

/** A block of text shown once (secrets, recovery codes), with copy. */
export function Reveal({ label, value }: { label: string; value: string }) {
  return (
    <div className="reveal">
      <div className="reveal-label">{label}</div>
      <div className="reveal-row">
        <code className="reveal-value">{value}</code>
        <CopyButton text={value} />
      </div>
    </div>
  );
}

export function Tabs<T extends string>({ tabs, value, onChange }: { tabs: { id: T; label: ReactNode }[]; value: T; onChange(v: T): void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((t) => (
        <button key={t.id} type="button" role="tab" aria-selected={t.id === value} className={`tab${t.id === value ? ' active' : ''}`} onClick={() => onChange(t.id)}>
          {t.label}
        </button>
      ))}
    </div>
  );
}
