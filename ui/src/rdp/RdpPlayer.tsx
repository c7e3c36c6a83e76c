// Replaying an RDP recording (ghrec): the recorded screen on a canvas with play/pause, a seek
// bar, speed and "skip idle time"; beside it the keystroke log and the session's markers
// (click to jump there); search hits when arriving from a search; the .ghrec download with
// the command that turns it into a video; decoder warnings in plain words.
import './rdp.css';
import { useEffect, useMemo, useRef, useState } from 'react';
import { apiUrl, fetchBytes } from '../api';
import { HitBar } from '../components/HitBar';
import { ReplayFrame, SpeedSelect } from '../components/ReplayFrame';
import { RecordingPageHeader, SessionFacts } from '../components/RecordingMeta';
import { Icon } from '../components/Icon';
import { Alert, Button, Empty, Loading, SearchBox } from '../components/ui';
import { clock } from '../format';
import { useApi, useTitle } from '../hooks';
import { Highlight } from '../pages/Recordings';
import { Link, useLocation } from '../router';
import type { Session } from '../api-types';
import { PlayerClock } from './clock';
import { RdpCanvas } from './RdpCanvas';
import { parseRecording } from './recording';
import { warningText } from './warnings';
import '../pages/recordings.css';

const SPEEDS = [0.5, 1, 2, 4, 8];
/** How often the controls (time, seek bar) follow the clock while playing. */
const UI_EVERY_MS = 150;

interface Item {
  kind: 'keys' | 'marker';
  /** Seconds: where a click jumps (the start of a typed line), and the time shown. */
  start: number;
  at: number;
  label: string;
  text: string;
}

interface UiState {
  t: number;
  playing: boolean;
  busy: boolean;
  warnings: [string, number][];
}

export default function RdpPlayer({ id }: { id: string }) {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const atParam = query.get('at');
  const startAt = atParam !== null && Number.isFinite(Number(atParam)) ? Number(atParam) : null;
  const session = useApi<Session>(`/sessions/${encodeURIComponent(id)}`);
  useTitle(session.data ? `Recording: ${session.data.user.username} on ${session.data.secret.name}` : 'Recording');

  const [player, setPlayer] = useState<PlayerClock | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [ui, setUi] = useState<UiState>({ t: 0, playing: false, busy: false, warnings: [] });
  const [speed, setSpeed] = useState(1);
  const [skipIdle, setSkipIdle] = useState(true);
  const [filter, setFilter] = useState('');
  const [hitIndex, setHitIndex] = useState(0);
  const listRef = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const ac = new AbortController();
    setPlayer(null);
    setLoadError(null);
    fetchBytes(`/recordings/${encodeURIComponent(id)}`, ac.signal)
      .then((b) => {
        let c: PlayerClock;
        try {
          c = new PlayerClock(parseRecording(b));
        } catch (e) {
          throw new Error(`The recording could not be read: ${(e as Error).message}`);
        }
        if (startAt !== null) c.seek(startAt * 1000);
        setPlayer(c);
      })
      .catch((e) => (e as Error).name !== 'AbortError' && setLoadError(e));
    return () => ac.abort();
  }, [id]);

  // The clock moves on every animation frame; React hears of it a few times a second.
  useEffect(() => {
    if (!player) return;
    let raf = 0;
    let shown = { t: -1, playing: false, busy: false, warnings: 0, at: 0 };
    const frame = (now: number) => {
      raf = requestAnimationFrame(frame);
      player.tick(now);
      const busy = player.catchingUp;
      const w = player.playback.warnings.size;
      const flipped = busy !== shown.busy || player.playing !== shown.playing || w !== shown.warnings;
      if (flipped || (player.t !== shown.t && now - shown.at >= UI_EVERY_MS)) {
        shown = { t: player.t, playing: player.playing, busy, warnings: w, at: now };
        setUi({ t: player.t, playing: player.playing, busy, warnings: [...player.playback.warnings] });
      }
    };
    raf = requestAnimationFrame(frame);
    return () => cancelAnimationFrame(raf);
  }, [player]);

  useEffect(() => {
    if (player) player.speed = speed;
  }, [player, speed]);
  useEffect(() => {
    if (player) player.skipIdle = skipIdle;
  }, [player, skipIdle]);

  const rec = player?.rec;
  const items = useMemo<Item[]>(() => {
    if (!rec) return [];
    const keys: Item[] = rec.keyLines.map((l) => ({ kind: 'keys', start: l.start, at: l.at, label: l.by ? `${clock(l.start)} ${l.by}` : clock(l.start), text: l.text }));
    const marks: Item[] = rec.markers.map((m) => ({ kind: 'marker', start: m.at, at: m.at, label: m.kind.replace(/_/g, ' '), text: m.text }));
    return [...keys, ...marks].sort((a, b) => a.start - b.start);
  }, [rec]);
  const shown = useMemo(() => {
    const w = filter.trim().toLowerCase();
    return items.map((it, i) => ({ it, i })).filter(({ it }) => !w || `${it.label} ${it.text}`.toLowerCase().includes(w));
  }, [items, filter]);
  const hits = useMemo(() => (q ? items.map((it, i) => ({ it, i })).filter(({ it }) => `${it.kind === 'marker' ? it.label + ' ' : ''}${it.text}`.toLowerCase().includes(q.toLowerCase())) : []), [items, q]);
  const activeIndex = useMemo(() => {
    let a = -1;
    for (let i = 0; i < items.length; i++) if (items[i]!.start * 1000 <= ui.t + 50) a = i;
    return a;
  }, [items, ui.t]);

  useEffect(() => {
    if (activeIndex < 0 || !ui.playing) return;
    listRef.current?.querySelector(`[data-i="${activeIndex}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [activeIndex]);

  // Arriving from a search hit: point the hit navigator at the line the link named.
  useEffect(() => {
    if (startAt === null || hits.length === 0) return;
    let k = 0;
    hits.forEach((h, j) => {
      if (Math.abs(h.it.at - startAt) < Math.abs(hits[k]!.it.at - startAt)) k = j;
    });
    setHitIndex(k);
  }, [hits, startAt]);

  const refresh = () => player && setUi({ t: player.t, playing: player.playing, busy: player.catchingUp, warnings: [...player.playback.warnings] });
  const seek = (seconds: number, play: boolean) => {
    if (!player) return;
    player.seek(seconds * 1000);
    if (play) player.play();
    refresh();
  };
  const toggle = () => {
    if (!player) return;
    if (player.playing) player.pause();
    else player.play();
    refresh();
  };
  const jumpToHit = (k: number) => {
    const n = (k + hits.length) % hits.length;
    setHitIndex(n);
    const h = hits[n];
    if (h) {
      seek(h.it.at, false);
      listRef.current?.querySelector(`[data-i="${h.i}"]`)?.scrollIntoView({ block: 'center' });
    }
  };

  const s = session.data;
  const total = player?.duration ?? 0;
  return (
    <div className="page page-wide">
      <RecordingPageHeader
        session={s}
        q={q}
        actions={
          <a className="btn btn-secondary" href={apiUrl(`/recordings/${encodeURIComponent(id)}`)} download={`${id}.ghrec`}>
            <Icon name="download" />
            <span>Download .ghrec</span>
          </a>
        }
      />
      <ReplayFrame
        sessionError={session.error}
        hitBar={<HitBar q={q} count={hits.length} index={hitIndex} onJump={jumpToHit} />}
        loadError={loadError}
        loading={!player}
        player={
          <>
            {!loadError && player && (
              <>
                <div
                  className="rdp-player"
                  tabIndex={0}
                  onKeyDown={(e) => {
                    if (e.key === ' ' || e.key === 'k') {
                      e.preventDefault();
                      toggle();
                    }
                  }}
                  onClick={toggle}
                >
                  <RdpCanvas source={player.playback} label="Recorded screen" />
                </div>
                <div className="rdp-controls">
                  <Button small variant="primary" onClick={toggle} aria-label={ui.playing ? 'Pause' : 'Play'}>
                    {ui.playing ? '❚❚ Pause' : '▶ Play'}
                  </Button>
                  <input
                    className="rdp-seek"
                    type="range"
                    aria-label="Position"
                    min={0}
                    max={Math.max(1, total)}
                    step={100}
                    value={Math.round(ui.t)}
                    onChange={(e) => seek(Number(e.target.value) / 1000, player.playing)}
                  />
                  <span className="rdp-time mono" aria-label="Time">
                    {clock(ui.t / 1000)} / {clock(total / 1000)}
                  </span>
                  <SpeedSelect speeds={SPEEDS} value={speed} onChange={setSpeed} />
                  <label className="rdp-toggle">
                    <input type="checkbox" checked={skipIdle} onChange={(e) => setSkipIdle(e.target.checked)} />
                    <span>Skip idle time</span>
                  </label>
                  {ui.busy && <span className="rdp-busy">{ui.playing ? 'Catching up…' : 'Seeking…'}</span>}
                </div>
                {s?.status === 'live' && (
                  <p className="muted small rdp-hint">
                    This session is still going on: this is its recording so far. <Link to={`/sessions/live/${encodeURIComponent(id)}`}>Watch it live</Link>.
                  </p>
                )}
                {(ui.warnings.length > 0 || (player.rec.truncated && s?.status !== 'live')) && (
                  <div className="rdp-warnings">
                    <Alert kind="warning" title="Parts of this replay may not match what was on the screen">
                      <ul>
                        {player.rec.truncated && s?.status !== 'live' && <li>The recording ends in the middle of an update (the gateway stopped while writing it); everything before that plays.</li>}
                        {ui.warnings.map(([k, n]) => (
                          <li key={k}>{warningText(k, n)}</li>
                        ))}
                      </ul>
                    </Alert>
                  </div>
                )}
              </>
            )}
            <p className="muted small rdp-hint">
              To get a video file, run <code className="mono">gatehouse recording export {id} --mp4 out.mp4</code>.
            </p>
            {s && <SessionFacts session={s} />}
          </>
        }
        side={
          <aside className="replay-side card" aria-label="Keystrokes and events">
            <div className="replay-side-head">
              <h2>Keystrokes and events</h2>
              <span className="muted small">{items.length ? `${items.length}` : ''}</span>
            </div>
            {items.length > 8 && <SearchBox value={filter} onChange={setFilter} placeholder="Filter" />}
            {!player && !loadError ? (
              <Loading />
            ) : items.length === 0 ? (
              <Empty icon="key" title="Nothing typed">
                {s?.recording.keystrokes === false || player?.rec.header.keystrokes === false ? 'This launcher does not record keystrokes.' : 'Nothing was typed in this session.'}
              </Empty>
            ) : (
              <ol className="typed-lines" ref={listRef}>
                {shown.map(({ it, i }) => (
                  <li key={i} data-i={i} className={`${i === activeIndex ? 'active' : ''}${hits.length && hits[hitIndex]?.i === i ? ' hit' : ''}`}>
                    <button type="button" onClick={() => seek(it.start, true)} title={`Play from ${clock(it.start)}`}>
                      <span className="typed-time mono">{clock(it.start)}</span>
                      {it.kind === 'keys' ? (
                        <span className="typed-text mono">
                          <Highlight text={it.text} word={filter.trim() || q} />
                        </span>
                      ) : (
                        <span className="rdp-marker">
                          <span className="typed-kind">{it.label}</span>
                          {it.text && (
                            <span className="typed-event">
                              <Highlight text={it.text} word={filter.trim() || q} />
                            </span>
                          )}
                        </span>
                      )}
                    </button>
                  </li>
                ))}
              </ol>
            )}
          </aside>
        }
      />
    </div>
  );
}
