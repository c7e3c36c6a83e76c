// Test-only strictness (GATEHOUSE_STRICT_RESPONSES=1, set by the test support): every JSON
// answer is checked against its route's response schema for that status before it is
// serialised. Fastify's serializer silently drops fields a schema does not declare, so
// without this a handler could return more (or less) than the contract says and no test
// would see it. A mismatch is logged and answered with a 500, so the test fails loudly.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import { errorSchema } from './contract/index.js';

/** The schema with every object closed: properties not declared are refused. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closed(s)])) : closed(v);
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

/** The response schema Fastify would serialise this status with: exact code, then 4xx/5xx, then default. */
function schemaFor(req: FastifyRequest, status: number): object | undefined {
  const response = (req.routeOptions.schema as { response?: Record<string, object> } | undefined)?.response;
  if (!response) return undefined;
  return response[String(status)] ?? response[`${String(status)[0]}xx`] ?? response.default;
}

export class ResponseContractError extends Error {}

export function registerStrictResponses(app: FastifyInstance): void {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const compiled = new WeakMap<object, ValidateFunction>();
  const validatorFor = (schema: object) => {
    let v = compiled.get(schema);
    if (!v) compiled.set(schema, (v = ajv.compile(closed(schema) as object)));
    return v;
  };
  const failed = new WeakSet<FastifyRequest>();

  app.addHook('preSerialization', async (req, reply, payload) => {
    // The 500 this hook itself causes is the uniform error: check it no further.
    if (failed.has(req)) return payload;
    const status = reply.statusCode;
    // Errors answered before routing (unknown path) still have the uniform shape.
    const schema = schemaFor(req, status) ?? (status >= 400 ? errorSchema : undefined);
    const problem = !schema
      ? `no response schema for status ${status}`
      : (() => {
          const validate = validatorFor(schema);
          return validate(payload) ? null : ajv.errorsText(validate.errors, { dataVar: 'response' });
        })();
    if (!problem) return payload;
    failed.add(req);
    req.log.error({ route: `${req.method} ${req.routeOptions.url ?? req.url}`, status, problem }, 'response does not match its schema');
    throw new ResponseContractError(`${req.method} ${req.routeOptions.url ?? req.url} answered ${status} outside its schema: ${problem}`);
  });
}
