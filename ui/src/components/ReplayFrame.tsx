// The frame of both replay pages (terminal and RDP): the session's error, the search-hit bar,
// the player column (its load error or a placeholder while it loads, then the player) and
// the side panel of typed lines; and the playback speed picker both players offer.
import type { ReactNode } from 'react';
import { errorText } from '../api';
import { Alert, ErrorAlert, Loading } from './ui';

export function ReplayFrame({ sessionError, hitBar, loadError, loading, player, side }: { sessionError: unknown; hitBar: ReactNode; loadError: unknown; loading: boolean; player: ReactNode; side: ReactNode }) {
  return (
    <>
      <ErrorAlert error={sessionError} />
      {hitBar}
      <div className="replay">
        <div className="replay-player">
          {loadError ? (
            <Alert kind="error" title="The recording could not be loaded">
              {errorText(loadError)}
            </Alert>
          ) : loading ? (
            <div className="player-placeholder">
              <Loading label="Loading the recording…" />
            </div>
          ) : null}
          {player}
        </div>
        {side}
      </div>
    </>
  );
}

/** The playback speed picker of a player. */
export function SpeedSelect({ speeds, value, onChange }: { speeds: number[]; value: number; onChange(v: number): void }) {
  return (
    <label className="speed">
      <span>Speed</span>
      <select className="input" value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {speeds.map((x) => (
          <option key={x} value={x}>
            {x}×
          </option>
        ))}
      </select>
    </label>
  );
}
