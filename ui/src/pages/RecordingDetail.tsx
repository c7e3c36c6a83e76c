// Replaying one recording: asciinema-player with speed and seek, the typed lines with their
// times (click to jump), search hits when arriving from a search, and the .cast download.
import 'asciinema-player/dist/bundle/asciinema-player.css';
import * as AsciinemaPlayer from 'asciinema-player';
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { apiUrl, fetchText } from '../api';
import { HitBar } from '../components/HitBar';
import { ReplayFrame, SpeedSelect } from '../components/ReplayFrame';
import { RecordingPageHeader, SessionFacts } from '../components/RecordingMeta';
import { Icon } from '../components/Icon';
import { Empty, ErrorAlert, Loading, SearchBox } from '../components/ui';
import { clock } from '../format';
import { useApi, useTitle } from '../hooks';
import { useLocation } from '../router';
import type { Page, Session, TextLine } from '../api-types';
import { MONO } from '../xterm';
import { Highlight } from './Recordings';
import './recordings.css';

type Player = ReturnType<typeof AsciinemaPlayer.create>;
const RdpPlayer = lazy(() => import('../rdp/RdpPlayer'));
const SPEEDS = [0.5, 1, 1.5, 2, 4, 8];

/** The player's terminal emulator is WebAssembly; a Content-Security-Policy without 'wasm-unsafe-eval' blocks it. */
function wasmAllowed(): boolean {
  try {
    new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    return true;
  } catch {
    return false;
  }
}

/** RDP recordings (ghrec) play in the RDP player; terminal recordings (asciicast) here. */
export default function RecordingDetail({ id }: { id: string }) {
  const session = useApi<Session>(`/sessions/${encodeURIComponent(id)}`);
  if (!session.data && session.loading) return <Loading />;
  if (session.data?.recording.format === 'ghrec-rdp')
    return (
      <Suspense fallback={<Loading />}>
        <RdpPlayer id={id} />
      </Suspense>
    );
  return <CastRecordingDetail id={id} />;
}

function CastRecordingDetail({ id }: { id: string }) {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const startAt = query.get('at') !== null ? Number(query.get('at')) : null;
  const session = useApi<Session>(`/sessions/${encodeURIComponent(id)}`);
  const text = useApi<Page<TextLine>>(`/recordings/${encodeURIComponent(id)}/text`);
  useTitle(session.data ? `Recording: ${session.data.user.username} on ${session.data.secret.name}` : 'Recording');

  const [cast, setCast] = useState<string | null>(null);
  const [castError, setCastError] = useState<unknown>(null);
  const [speed, setSpeed] = useState(1);
  const [current, setCurrent] = useState(0);
  const [filter, setFilter] = useState('');
  const [hitIndex, setHitIndex] = useState(0);
  const el = useRef<HTMLDivElement>(null);
  const player = useRef<Player | null>(null);
  const playing = useRef(false);
  const resume = useRef<{ at: number; play: boolean } | null>(startAt !== null && Number.isFinite(startAt) ? { at: startAt, play: false } : null);
  const listRef = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const ac = new AbortController();
    setCast(null);
    setCastError(null);
    if (!wasmAllowed()) {
      setCastError(new Error("The player cannot run here: the page's security policy blocks WebAssembly (the server must allow script-src 'wasm-unsafe-eval'). Download the .cast file and play it with asciinema play instead."));
      return;
    }
    fetchText(`/recordings/${encodeURIComponent(id)}`, ac.signal)
      .then(setCast)
      .catch((e) => (e as Error).name !== 'AbortError' && setCastError(e));
    return () => ac.abort();
  }, [id]);

  // (Re)creates the player: on load and when the speed changes (a player option), keeping the position.
  useEffect(() => {
    if (!cast || !el.current) return;
    const at = resume.current;
    resume.current = null;
    const p = AsciinemaPlayer.create({ data: cast }, el.current, {
      fit: 'width',
      speed,
      preload: true,
      autoPlay: false,
      terminalFontFamily: MONO,
      terminalLineHeight: 1.2,
      theme: 'asciinema',
    });
    player.current = p;
    playing.current = false;
    // Seeking (rather than the startAt option) renders the frame at that time even while paused.
    if (at)
      void p
        .seek(Math.max(0, at.at))
        .then(() => (at.play ? p.play() : undefined))
        .catch(() => undefined);
    p.addEventListener('play', () => (playing.current = true));
    p.addEventListener('playing', () => (playing.current = true));
    p.addEventListener('pause', () => (playing.current = false));
    p.addEventListener('ended', () => (playing.current = false));
    const t = setInterval(() => {
      try {
        setCurrent(p.getCurrentTime() ?? 0);
      } catch {
        /* not loaded yet */
      }
    }, 250);
    return () => {
      clearInterval(t);
      p.dispose();
      player.current = null;
    };
  }, [cast, speed]);

  const changeSpeed = (s: number) => {
    const p = player.current;
    if (p) resume.current = { at: p.getCurrentTime() ?? 0, play: playing.current };
    setSpeed(s);
  };

  const seek = async (at: number, play = true) => {
    const p = player.current;
    if (!p) return;
    await p.seek(Math.max(0, at));
    if (play) await p.play();
    setCurrent(at);
    el.current?.querySelector<HTMLElement>('.ap-player')?.focus();
  };

  const lines = text.data?.items ?? [];
  const hits = useMemo(() => (q ? lines.map((l, i) => ({ l, i })).filter(({ l }) => l.text.toLowerCase().includes(q.toLowerCase())) : []), [lines, q]);
  const shown = useMemo(() => {
    const w = filter.trim().toLowerCase();
    return lines.map((l, i) => ({ l, i })).filter(({ l }) => !w || l.text.toLowerCase().includes(w));
  }, [lines, filter]);
  const activeIndex = useMemo(() => {
    let a = -1;
    for (let i = 0; i < lines.length; i++) if (lines[i]!.at <= current + 0.05) a = i;
    return a;
  }, [lines, current]);

  useEffect(() => {
    if (activeIndex < 0 || !playing.current) return;
    listRef.current?.querySelector(`[data-i="${activeIndex}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [activeIndex]);

  // Arriving from a search hit: point the hit navigator at that line.
  useEffect(() => {
    if (startAt === null || hits.length === 0) return;
    const k = hits.findIndex((h) => Math.abs(h.l.at - startAt) < 0.001);
    if (k >= 0) setHitIndex(k);
  }, [hits, startAt]);

  const jumpToHit = (k: number) => {
    const n = (k + hits.length) % hits.length;
    setHitIndex(n);
    const h = hits[n];
    if (h) {
      void seek(h.l.at, false);
      listRef.current?.querySelector(`[data-i="${h.i}"]`)?.scrollIntoView({ block: 'center' });
    }
  };

  const s = session.data;
  return (
    <div className="page page-wide">
      <RecordingPageHeader
        session={s}
        q={q}
        actions={
          <>
            <SpeedSelect speeds={SPEEDS} value={speed} onChange={changeSpeed} />
            <a className="btn btn-secondary" href={apiUrl(`/recordings/${encodeURIComponent(id)}`)} download={`${id}.cast`}>
              <Icon name="download" />
              <span>Download .cast</span>
            </a>
          </>
        }
      />
      <ReplayFrame
        sessionError={session.error}
        hitBar={<HitBar q={q} count={hits.length} index={hitIndex} onJump={jumpToHit} />}
        loadError={castError}
        loading={!cast}
        player={
          <>
            <div ref={el} className="player-host" />
            {s && <SessionFacts session={s} />}
          </>
        }
        side={
          <aside className="replay-side card">
            <div className="replay-side-head">
              <h2>Typed lines</h2>
              <span className="muted small">{lines.length ? `${lines.length}` : ''}</span>
            </div>
            {lines.length > 8 && <SearchBox value={filter} onChange={setFilter} placeholder="Filter lines" />}
            <ErrorAlert error={text.error} />
            {text.loading && !text.data ? (
              <Loading />
            ) : lines.length === 0 ? (
              <Empty icon="terminal" title="No typed lines">
                {s?.recording.keystrokes === false ? 'This launcher does not record keystrokes.' : 'Nothing was typed in this session.'}
              </Empty>
            ) : (
              <ol className="typed-lines" ref={listRef}>
                {shown.map(({ l, i }) => (
                  <li key={i} data-i={i} className={`${i === activeIndex ? 'active' : ''}${hits.length && hits[hitIndex]?.i === i ? ' hit' : ''}`}>
                    <button type="button" onClick={() => void seek(l.at)} title={`Play from ${clock(l.at)}`}>
                      <span className="typed-time mono">{clock(l.at)}</span>
                      <span className={`typed-text ${l.kind === 'command' ? 'mono' : 'typed-event'}`}>
                        <Highlight text={l.text} word={filter.trim() || q} />
                      </span>
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
