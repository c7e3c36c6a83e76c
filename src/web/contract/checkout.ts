// Exclusive checkout of shared credentials (src/core/vault/checkout.ts): take, give back
// and look at a secret's checkout, and queue for it. The routes' requests and answers.
import { body, bool, errors, idParams, noContent, nullableInt, nullableText, nullableTime, obj, page, pageQuery, ref, str, text, time } from './schema.js';
import { route } from './route.js';
import type { Model } from './route.js';

/** The longest checkout one request may take (7 days); the shortest is a minute. */
export const CHECKOUT_MAX_SECONDS = 604_800;
export const CHECKOUT_SOURCES = ['explicit', 'launch', 'grant'] as const;

export const checkoutStatusSchema = obj({
  secretId: text,
  checkedOut: bool,
  /** Who holds it, or null when it is free. */
  holder: { anyOf: [ref, { type: 'null' }] },
  /** The caller holds it. */
  mine: bool,
  /** How it was taken: explicitly, by a launch of a secret that requires checkout, or by an access grant. */
  source: { type: ['string', 'null'], enum: [...CHECKOUT_SOURCES, null] },
  reason: nullableText,
  since: nullableTime,
  /** When it ends by itself (a launch checkout ends with its session at the latest). */
  until: nullableTime,
  /** Whether launching this secret takes a checkout by itself (its access policy says so). */
  required: bool,
  /** Who waits, first in line first. */
  queue: { type: 'array', items: obj({ user: ref, joinedAt: time, notifiedAt: nullableTime, reservedUntil: nullableTime }) },
  /** The caller's place in the queue (1 = next), or null. */
  queuePosition: nullableInt,
  /** The secret came free and is held for the caller until their queue entry's reservedUntil. */
  myTurn: bool,
});
export type CheckoutStatus = Model<typeof checkoutStatusSchema>;

const tags = ['checkout'] as const;

export const checkout = {
  mine: route('GET', '/api/v1/checkouts', {
    tags,
    summary: 'The checkouts that concern you: secrets you can see that are checked out or held for a queue, and those you queue for (one call for the portal)',
    querystring: pageQuery(),
    response: { 200: page(checkoutStatusSchema), ...errors },
  }),
  status: route('GET', '/api/v1/secrets/:id/checkout', { tags, summary: "A secret's checkout: holder, until when, and the queue (needs list)", params: idParams, response: { 200: checkoutStatusSchema, ...errors } }),
  take: route('POST', '/api/v1/secrets/:id/checkout', {
    tags,
    summary: 'Check a secret out: nobody else may launch it until you check it in or it expires (needs launch, and view on the secret)',
    params: idParams,
    body: body({ reason: str(512), durationSeconds: { type: 'integer', minimum: 60, maximum: CHECKOUT_MAX_SECONDS } }),
    response: { 200: checkoutStatusSchema, ...errors },
  }),
  checkin: route('POST', '/api/v1/secrets/:id/checkin', {
    tags,
    summary: "Check a secret in: the holder early, or an administrator of the secret (manage_secrets and owner) forcing it, which ends the holder's sessions on it",
    params: idParams,
    response: { 200: checkoutStatusSchema, ...errors },
  }),
  join: route('POST', '/api/v1/secrets/:id/checkout/queue', { tags, summary: 'Queue for a secret someone else holds (needs launch, and view on the secret)', params: idParams, response: { 200: checkoutStatusSchema, ...errors } }),
  leave: route('DELETE', '/api/v1/secrets/:id/checkout/queue', { tags, summary: "Leave a secret's queue", params: idParams, response: { 204: noContent, ...errors } }),
} as const;
