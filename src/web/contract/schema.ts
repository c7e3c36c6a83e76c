// JSON-schema fragments the API contract is built from. Pure data: no Node.js API and no
// runtime import, so the server, the browser portal (ui/, bundled by Vite) and the CLI all
// import the same objects. Every fragment keeps its literal type (`as const`, const type
// parameters) because the TypeScript types are derived from these objects (see route.ts).
//
// Requests: every body is closed (additionalProperties: false) and every string bounded, so
// wrong or oversized input is refused before any handler runs. Responses: every object is
// closed too, so a field a handler adds without declaring it is a contract change the tests
// notice (GATEHOUSE_STRICT_RESPONSES, see ../strict-responses.ts).

export const str = <const E extends object = {}>(max = 256, extra?: E) => ({ type: 'string', minLength: 1, maxLength: max, ...(extra as E) }) as const;
export const optStr = (max = 256) => ({ type: 'string', maxLength: max }) as const;
export const nullableStr = (max = 256) => ({ type: ['string', 'null'], maxLength: max }) as const;
export const bool = { type: 'boolean' } as const;
export const strList = (max = 100, itemMax = 256) => ({ type: 'array', maxItems: max, items: str(itemMax) }) as const;

/** A closed object: the request bodies and every response object. */
export const body = <const P extends Record<string, object>, const R extends readonly (keyof P & string)[] = readonly []>(properties: P, required?: R) =>
  ({ type: 'object', properties, required: (required ?? []) as R, additionalProperties: false }) as const;

/** A closed object whose properties are all required (most response objects). */
export const obj = <const P extends Record<string, object>>(properties: P) =>
  ({ type: 'object', properties, required: Object.keys(properties) as unknown as readonly (keyof P & string)[], additionalProperties: false }) as const;

/** A closed object with one required property of the same schema per key (e.g. a map keyed by permission name). */
export const recordOf = <const K extends readonly string[], const V extends object>(keys: K, value: V) =>
  ({ type: 'object', properties: Object.fromEntries(keys.map((k) => [k, value])) as { [Key in K[number]]: V }, required: keys, additionalProperties: false }) as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: str(128) },
  additionalProperties: false,
} as const;

export const pageQuery = <const E extends Record<string, object> = {}>(extra?: E, bounds: { max?: number; default?: number } = {}) =>
  ({
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: bounds.max ?? 500, default: bounds.default ?? 50 },
      offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
      ...(extra as E),
    },
    additionalProperties: false,
  }) as const;

/** One page of a list: `items` and where the page lies in the whole. */
export const page = <const I extends object>(item: I) => obj({ items: { type: 'array', items: item }, total: int, limit: int, offset: int });

export const int = { type: 'integer' } as const;
export const num = { type: 'number' } as const;
export const text = { type: 'string' } as const;
export const nullableText = { type: ['string', 'null'] } as const;
export const nullableInt = { type: ['integer', 'null'] } as const;
export const textList = { type: 'array', items: text } as const;
/** An ISO 8601 timestamp (strings throughout the API). */
export const time = text;
export const nullableTime = nullableText;
export const ref = obj({ id: text, name: text });

/**
 * The uniform error: {error: {code, message}}, plus the facts some errors add (when a
 * locked account unlocks; seconds to wait after too many failed sign-ins).
 */
export const errorSchema = obj({
  error: body({ code: text, message: text, lockedUntil: text, retryAfter: int }, ['code', 'message']),
});

/** Every route answers errors in the uniform shape. */
export const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;

/** A 204 answer: no body. */
export const noContent = { type: 'null', description: 'No content' } as const;
