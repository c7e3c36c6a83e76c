// The webhook's signature: HMAC-SHA256 under the sink's key over "<timestamp>.<body>", sent as
//   X-Gatehouse-Timestamp: <unix seconds>
//   X-Gatehouse-Signature: v1=<hex>
// The timestamp is signed too, so a receiver can refuse an old delivery replayed later
// (docs/operations.md#audit-streaming). Verification is here as well, for receivers in Node.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gatehouse-signature';
export const TIMESTAMP_HEADER = 'x-gatehouse-timestamp';
export const DELIVERY_HEADER = 'x-gatehouse-delivery';

export function webhookSignature(key: string, timestamp: number, body: string | Buffer): string {
  return 'v1=' + createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex');
}

/** Checks a delivery's signature (constant time) and that its timestamp is within `toleranceSeconds` of `nowSeconds`. */
export function verifyWebhookSignature(key: string, headers: { signature?: string; timestamp?: string }, body: string | Buffer, nowSeconds: number, toleranceSeconds = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!headers.signature || !Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const want = Buffer.from(webhookSignature(key, ts, body));
  const got = Buffer.from(headers.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}
