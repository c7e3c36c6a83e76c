// The audit table refusing new rows (a full disk, a lost database), on either database: a
// trigger that raises on every insert into audit_events, there only while fn runs. For tests
// of what fails closed, or is left for a later try, when the audit cannot be written; or
// only the events of one action (whileActionRefused).
import { sql } from 'kysely';
import type { Store } from '../../src/store/db.js';

export async function whileAuditRefused<T>(store: Store, message: string, fn: () => Promise<T>): Promise<T> {
  const db = store.db;
  if (store.kind === 'sqlite') await sql`create trigger audit_refused before insert on audit_events begin select raise(abort, ${sql.lit(message)}); end`.execute(db);
  else {
    await sql`create function audit_refused() returns trigger language plpgsql as ${sql.lit(`begin raise exception '${message.replace(/'/g, "''")}'; end`)}`.execute(db);
    await sql`create trigger audit_refused before insert on audit_events for each row execute function audit_refused()`.execute(db);
  }
  try {
    return await fn();
  } finally {
    if (store.kind === 'sqlite') await sql`drop trigger audit_refused`.execute(db);
    else {
      await sql`drop trigger audit_refused on audit_events`.execute(db);
      await sql`drop function audit_refused()`.execute(db);
    }
  }
}

/** As whileAuditRefused, for events of one action only (the others are written). */
export async function whileActionRefused<T>(store: Store, action: string, fn: () => Promise<T>): Promise<T> {
  const db = store.db;
  const message = `${action} refused on purpose`;
  if (store.kind === 'sqlite') await sql`create trigger action_refused before insert on audit_events when new.action = ${sql.lit(action)} begin select raise(abort, ${sql.lit(message)}); end`.execute(db);
  else {
    await sql`create function action_refused() returns trigger language plpgsql as ${sql.lit(`begin if new.action = '${action.replace(/'/g, "''")}' then raise exception '${message.replace(/'/g, "''")}'; end if; return new; end`)}`.execute(db);
    await sql`create trigger action_refused before insert on audit_events for each row execute function action_refused()`.execute(db);
  }
  try {
    return await fn();
  } finally {
    if (store.kind === 'sqlite') await sql`drop trigger action_refused`.execute(db);
    else {
      await sql`drop trigger action_refused on audit_events`.execute(db);
      await sql`drop function action_refused()`.execute(db);
    }
  }
}
