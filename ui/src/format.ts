// Dates, durations and sizes the way people read them.
const dtf = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const dtfSec = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const tf = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export const dateTime = (iso: string | null | undefined) => (iso ? dtf.format(new Date(iso)) : '—');
export const dateTimeSec = (iso: string | null | undefined) => (iso ? dtfSec.format(new Date(iso)) : '—');
/** Today: the time; otherwise date and time. */
export const dayOrTime = (iso: string) => (new Date(iso).toDateString() === new Date().toDateString() ? `today ${tf.format(new Date(iso))}` : dtf.format(new Date(iso)));
export const timeOnly = (iso: string) => tf.format(new Date(iso));

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${sec} s`;
}

/** Seconds into a recording as m:ss or h:mm:ss. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function relative(iso: string | null): string {
  if (!iso) return 'never';
  const diff = Date.now() - Date.parse(iso);
  const m = Math.round(diff / 60000);
  if (m < 1) return 'just now';
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d} day${d === 1 ? '' : 's'} ago`;
  return dateTime(iso);
}

export const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

export const PERMISSION_LABELS: Record<string, string> = {
  administer: 'Administer',
  manage_templates: 'Manage templates',
  manage_secrets: 'Manage secrets',
  all_secrets: 'All secrets',
  launch: 'Launch sessions',
  view_recordings: 'View recordings',
  audit: 'Audit',
  manage_sessions: 'Manage sessions',
};

export const PROTOCOL_LABELS: Record<string, string> = { ssh: 'SSH', telnet: 'Telnet', rdp: 'RDP' };
