// A secret's account on its target (issue 12): what Gatehouse manages (kind, management
// secret, rotation after use, heartbeat), the last heartbeat (drift stands out) and the last
// rotation, with "rotate now" and "check now" for those who may edit the secret.
import { useState } from 'react';
import { api } from '../../api';
import { Badge, Button, Card } from '../../components/ui';
import { dateTime } from '../../format';
import type { HeartbeatResult, RotationResult, Secret } from '../../api-types';

const heartbeatTone = { ok: 'green', drift: 'red', unreachable: 'amber' } as const;
const heartbeatLabel = { ok: 'password works', drift: 'drift: the stored password no longer works', unreachable: 'target unreachable' } as const;
/** windows: heartbeat only (an NLA logon over RDP); its password changes where it lives. */
const kindText = { linux: 'Managed on a Linux target', ldap: 'Managed in a directory', windows: 'Checked on a Windows (RDP) target by an NLA logon, not rotated from here' } as const;

export function TargetAccountCard({ secret, canEdit, onChanged }: { secret: Secret; canEdit: boolean; onChanged(): void }) {
  const a = secret.account;
  const [busy, setBusy] = useState<'rotate' | 'heartbeat' | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!a.targetKind) return null;
  const act = async (what: 'rotate' | 'heartbeat') => {
    setBusy(what);
    setError(null);
    try {
      await api.post<RotationResult | HeartbeatResult>(`/secrets/${encodeURIComponent(secret.id)}/${what}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
      onChanged();
    }
  };
  return (
    <Card title="Target account" description={`${kindText[a.targetKind]}${a.targetKind === 'windows' ? '' : a.managementSecretId ? ' through a management secret' : ' by the account itself'}.`}>
      <div className="action-item">
        <div>
          <p>
            Heartbeat:{' '}
            {a.lastHeartbeat ? (
              <Badge tone={heartbeatTone[a.lastHeartbeat.status]} title={a.lastHeartbeat.message ?? undefined}>
                {heartbeatLabel[a.lastHeartbeat.status]}
              </Badge>
            ) : (
              <span className="muted">{a.heartbeat ? 'not checked yet' : 'off'}</span>
            )}
            {a.lastHeartbeat && <span className="muted small"> · {dateTime(a.lastHeartbeat.at)}</span>}
          </p>
          <p>
            Rotation:{' '}
            {a.lastRotation ? (
              <Badge tone={a.lastRotation.status === 'ok' ? 'green' : 'red'} title={a.lastRotation.message ?? undefined}>
                {a.lastRotation.status === 'ok' ? 'rotated' : 'failed, the old password stays'}
              </Badge>
            ) : (
              <span className="muted">never</span>
            )}
            {a.lastRotation && <span className="muted small"> · {dateTime(a.lastRotation.at)}</span>}
            {a.rotateAfterUse && <span className="muted small"> · rotated after each use</span>}
          </p>
          {a.lastRotation?.status === 'failed' && a.lastRotation.message && <p className="muted small">{a.lastRotation.message}</p>}
          {error && <p className="muted small">{error}</p>}
        </div>
        {canEdit && (
          <div>
            <Button onClick={() => void act('heartbeat')} disabled={busy !== null}>
              {busy === 'heartbeat' ? 'Checking…' : 'Check now'}
            </Button>
            {a.targetKind !== 'windows' && (
              <>
                {' '}
                <Button onClick={() => void act('rotate')} disabled={busy !== null}>
                  {busy === 'rotate' ? 'Rotating…' : 'Rotate now'}
                </Button>
              </>
            )}
          </div>
        )}
      </div>
    </Card>
  );
}
