// Shared JSON-schema fragments. Every body is closed (additionalProperties: false) and
// every string bounded, so wrong or oversized input is refused before any handler runs.
export const str = (max = 256, extra: Record<string, unknown> = {}) => ({ type: 'string', minLength: 1, maxLength: max, ...extra }) as const;
export const optStr = (max = 256) => ({ type: 'string', maxLength: max }) as const;
export const nullableStr = (max = 256) => ({ type: ['string', 'null'], maxLength: max }) as const;
export const bool = { type: 'boolean' } as const;
export const strList = (max = 100, itemMax = 256) => ({ type: 'array', maxItems: max, items: str(itemMax) }) as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: str(128) },
  additionalProperties: false,
} as const;

export const pageQuery = (extra: Record<string, unknown> = {}, bounds: { max?: number; default?: number } = {}) =>
  ({
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: bounds.max ?? 500, default: bounds.default ?? 50 },
      offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
      ...extra,
    },
    additionalProperties: false,
  }) as const;

export const body = (properties: Record<string, unknown>, required: string[] = []) =>
  ({ type: 'object', properties, required, additionalProperties: false }) as const;

export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
} as const;

export const anyObject = { type: 'object', additionalProperties: true } as const;

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
