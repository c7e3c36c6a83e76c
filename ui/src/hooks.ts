// Data hooks shared by the pages: an API resource that reloads and polls, debounced values, a
// search box kept in the address, the window title, a ticking clock.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api';
import { setQuery, useLocation } from './router';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  setData(fn: (d: T | undefined) => T | undefined): void;
}

/** GETs an API path and keeps the answer; a null path loads nothing. Keeps the old data while reloading. */
export function useApi<T>(path: string | null, opts: { pollMs?: number } = {}): Resource<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const lastPath = useRef<string | null>(null);

  useEffect(() => {
    if (path === null) {
      setLoading(false);
      return;
    }
    const ac = new AbortController();
    if (lastPath.current !== path) setDataState(undefined);
    lastPath.current = path;
    setLoading(true);
    api
      .get<T>(path, { signal: ac.signal })
      .then((d) => {
        setDataState(d);
        setError(undefined);
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError(e);
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!opts.pollMs || path === null) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, opts.pollMs);
    return () => clearInterval(t);
  }, [opts.pollMs, path]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const setData = useCallback((fn: (d: T | undefined) => T | undefined) => setDataState(fn), []);
  return { data, error, loading, reload, setData };
}

export function useDebounced<T>(value: T, ms = 250): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/**
 * A search box kept in the address (?q=): what is typed, and the query it settles on once
 * typing pauses for ms. A new query goes back to the first page (drops ?offset=).
 */
export function useSearchQuery(ms = 250): { search: string; setSearch(v: string): void; q: string } {
  const { query } = useLocation();
  const [search, setSearch] = useState(query.get('q') ?? '');
  const q = useDebounced(search.trim(), ms);
  useEffect(() => {
    if ((query.get('q') ?? '') !== q) setQuery({ q: q || null, offset: null });
  }, [q]);
  return { search, setSearch, q };
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Gatehouse` : 'Gatehouse';
  }, [title]);
}

/** Re-renders every `ms` milliseconds (live durations). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
