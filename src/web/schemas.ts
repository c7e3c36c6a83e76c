// Schema fragments for route files, and paging of short lists. The fragments live in the
// API contract (./contract/schema.ts), the one place request and answer shapes are stated.
export { body, bool, errorSchema, idParams, nullableStr, optStr, pageQuery, str, strList } from './contract/schema.js';

export interface PageQuery {
  limit: number;
  offset: number;
}

/** One page of a list the service returns whole (short lists: templates, launchers, tokens, keys). */
export const pageOf = <T>(all: T[], q: PageQuery): { items: T[]; total: number; limit: number; offset: number } => ({
  items: all.slice(q.offset, q.offset + q.limit),
  total: all.length,
  limit: q.limit,
  offset: q.offset,
});
