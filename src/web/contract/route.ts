// One API route as data (method, path, Fastify/OpenAPI schema) and the TypeScript types
// derived from it with json-schema-to-ts: the server's handlers, the portal and the CLI
// all take their request and answer types from here, so the shapes are stated once.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSchema {
  tags?: readonly string[];
  summary?: string;
  security?: readonly { [label: string]: readonly string[] }[];
  hide?: boolean;
  params?: object;
  querystring?: object;
  body?: object;
  /** Status code (or '4xx'/'5xx') → the answer's schema; every route declares its answers. */
  response: Record<string, object>;
}

export interface Route<M extends Method = Method, U extends string = string, S extends RouteSchema = RouteSchema> {
  method: M;
  /** The full path, as registered ('/api/v1/users/:id'). */
  url: U;
  schema: S;
}

export const route = <const M extends Method, const U extends string, const S extends RouteSchema>(method: M, url: U, schema: S): Route<M, U, S> => ({ method, url, schema });

type From<S> = S extends JSONSchema ? FromSchema<S> : never;
/** What a client sends: properties with a default may be left out. */
type FromInput<S> = S extends JSONSchema ? FromSchema<S, { keepDefaultedPropertiesOptional: true }> : never;
type Part<R extends Route, K extends 'params' | 'querystring' | 'body'> = R['schema'] extends { [P in K]: infer S } ? S : undefined;
type SuccessKey<R extends Route> = Extract<keyof R['schema']['response'], `2${string}` | 200 | 201 | 202 | 204>;

/** The route's path parameters, query and body as the server sees them (defaults applied). */
export type Params<R extends Route> = Part<R, 'params'> extends undefined ? never : From<Part<R, 'params'>>;
export type Query<R extends Route> = Part<R, 'querystring'> extends undefined ? never : From<Part<R, 'querystring'>>;
export type Body<R extends Route> = Part<R, 'body'> extends undefined ? never : From<Part<R, 'body'>>;
/** The query and body as a client writes them (defaulted properties optional). */
export type QueryInput<R extends Route> = Part<R, 'querystring'> extends undefined ? never : FromInput<Part<R, 'querystring'>>;
export type BodyInput<R extends Route> = Part<R, 'body'> extends undefined ? never : FromInput<Part<R, 'body'>>;

/** The answer for one status key: 204 has no body. */
type Answer<R extends Route, K> = K extends 204 | '204' ? undefined : From<R['schema']['response'][K & keyof R['schema']['response']]>;
/** Every answer by status, as Fastify's RouteGenericInterface['Reply'] takes it. */
export type Replies<R extends Route> = { [K in keyof R['schema']['response']]: Answer<R, K> };
/** The successful answer(s) of a route. */
export type Ok<R extends Route> = Answer<R, SuccessKey<R>>;

/** Fastify's route generic for a contract route: typed request parts and replies. */
export type RouteTypes<R extends Route> = {
  Params: Part<R, 'params'> extends undefined ? unknown : Params<R>;
  Querystring: Part<R, 'querystring'> extends undefined ? unknown : Query<R>;
  Body: Part<R, 'body'> extends undefined ? unknown : Body<R>;
  Reply: Replies<R>;
};

/** The type a schema fragment describes (for named model types). */
export type Model<S> = From<S>;
