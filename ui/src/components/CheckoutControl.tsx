// The exclusive checkout of one shared credential, as a row action: who holds it and until
// when, and the one thing the signed-in person can do about it (check out, check in, queue,
// leave the queue). Its state comes from GET /checkouts (one call per page); each action
// answers the secret's new status, which the page merges in.
import { useState } from 'react';
import { api, errorText } from '../api';
import type { CheckoutStatus } from '../api-types';
import { timeOnly } from '../format';
import { Badge, Button } from './ui';

export function CheckoutControl({ secretId, status, onChange, onError }: { secretId: string; status?: CheckoutStatus; onChange(s: CheckoutStatus | null): void; onError(message: string): void }) {
  const [busy, setBusy] = useState(false);
  const base = `/secrets/${encodeURIComponent(secretId)}`;
  const run = async (f: () => Promise<CheckoutStatus | null>) => {
    setBusy(true);
    try {
      onChange(await f());
    } catch (e) {
      onError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const checkOut = () => run(() => api.post<CheckoutStatus>(`${base}/checkout`, {}));
  const checkIn = () => run(() => api.post<CheckoutStatus>(`${base}/checkin`, {}));
  const join = () => run(() => api.post<CheckoutStatus>(`${base}/checkout/queue`, {}));
  const leave = () => run(async () => (await api.del(`${base}/checkout/queue`), api.get<CheckoutStatus>(`${base}/checkout`)));

  if (!status || (!status.checkedOut && status.queue.length === 0)) {
    return (
      <Button small variant="ghost" icon="lock" busy={busy} onClick={() => void checkOut()} title="Nobody else may launch it until you check it in (1 hour at most)">
        Check out
      </Button>
    );
  }
  if (status.mine) {
    return (
      <span className="checkout-state">
        <Badge tone="green" title={status.reason ?? undefined}>
          Checked out by you until {timeOnly(status.until!)}
        </Badge>{' '}
        <Button small variant="ghost" busy={busy} onClick={() => void checkIn()}>
          Check in
        </Button>
      </span>
    );
  }
  if (status.myTurn) {
    return (
      <span className="checkout-state">
        <Badge tone="blue">Your turn until {timeOnly(status.queue[0]!.reservedUntil!)}</Badge>{' '}
        <Button small variant="ghost" icon="lock" busy={busy} onClick={() => void checkOut()}>
          Check out
        </Button>
      </span>
    );
  }
  const held = status.holder ? `Checked out by ${status.holder.name} until ${timeOnly(status.until!)}` : `Held for the next in the queue until ${timeOnly(status.queue[0]?.reservedUntil ?? new Date().toISOString())}`;
  return (
    <span className="checkout-state">
      <Badge tone="amber" title={status.reason ?? undefined}>
        {held}
      </Badge>{' '}
      {status.queuePosition ? (
        <Button small variant="ghost" busy={busy} onClick={() => void leave()} title={`You are number ${status.queuePosition} in the queue`}>
          Leave queue (#{status.queuePosition})
        </Button>
      ) : (
        <Button small variant="ghost" busy={busy} onClick={() => void join()}>
          Join queue
        </Button>
      )}
    </span>
  );
}
