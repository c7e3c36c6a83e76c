import type { Kysely } from 'kysely';

// Recordings in S3-compatible storage (issue 16 point 2, src/core/sessions/recording-storage-s3.ts):
// one row per recording being uploaded — the multipart upload's id, the parts sent so far
// (number, ETag, and how many spool bytes each held, as JSON), the node writing it and the
// data key sealing it (Gatehouse-side encryption). A recording whose node was killed is
// completed from this row by the node that reaps its session (or the node itself, restarted):
// many S3-compatible servers offer no ListParts/ListMultipartUploads worth relying on.
// The row goes when the upload is completed or aborted. It depends on no other migration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('recording_uploads')
    .addColumn('rel', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('upload_id', 'text', (c) => c.notNull())
    .addColumn('parts', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recording_uploads_session').on('recording_uploads').column('session_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('recording_uploads').execute();
}
