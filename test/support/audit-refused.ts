// The audit table refusing new rows (a full disk, a lost database), on either database: a
// trigger that raises on every insert into audit_events, there only while fn runs. For tests
// of what fails closed, or is left for a later try, when the audit cannot be written.
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
