// `gatehouse recording export`: renders an RDP recording (a local .ghrec file, or a
// session's recording downloaded from the API) to an MP4 video through ffmpeg, or to a
// PNG still at a given time. Terminal (asciicast) recordings are refused with a pointer to
// `recording get` and asciinema. Every failure is one plain sentence.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { composeFrame, frameCount, frames, isAsciicast, openRdpRecording, RdpRecordingError, renderAt, type RdpRecording } from '../protocols/rdp/recording/decoder/index.js';
import { encodePng } from '../protocols/rdp/recording/png.js';
import { GHREC_CONTENT_TYPE, GHREC_FILE_EXTENSION } from '../core/sessions/ghrec.js';
import { api, type ErrorBody } from '../web/contract/index.js';
import { call, parseJson, pathOf, type CliState } from './client.js';

export class ExportError extends Error {}

export interface ExportOptions {
  mp4?: string;
  pngAt?: string;
  out?: string;
  fps?: string;
  /** commander's --no-cursor sets this to false. */
  cursor?: boolean;
}

/** Runs the export; `session` gives the saved login when the argument is a session id. */
export async function exportRecording(ref: string, o: ExportOptions, session: () => CliState): Promise<void> {
  if (!o.mp4 === (o.pngAt === undefined)) throw new ExportError('give either --mp4 FILE or --png-at SECONDS --out FILE');
  if (o.pngAt !== undefined && !o.out) throw new ExportError('--png-at needs --out FILE for the image');
  const fps = Number(o.fps ?? '10');
  if (!Number.isFinite(fps) || fps <= 0 || fps > 60) throw new ExportError(`--fps must be a number between 0 and 60, got "${o.fps}"`);
  const at = o.pngAt === undefined ? 0 : Number(o.pngAt);
  if (!Number.isFinite(at) || at < 0) throw new ExportError(`--png-at needs a time in seconds, got "${o.pngAt}"`);

  const { bytes, label } = await load(ref, session);
  let rec: RdpRecording;
  try {
    rec = openRdpRecording(bytes);
  } catch (e) {
    if (e instanceof RdpRecordingError) throw new ExportError(`${label}: ${e.message}`);
    throw e;
  }
  if (rec.truncated) process.stderr.write(`note: ${label} ends inside a record (cut off); exporting what it holds\n`);
  const cursor = o.cursor !== false;

  if (o.pngAt !== undefined) {
    if (at > rec.duration) throw new ExportError(`${at} s is beyond the end of ${label} (duration ${seconds(rec.duration)} s)`);
    const screen = renderAt(rec, at);
    const rgba = new Uint8ClampedArray(screen.width * screen.height * 4);
    composeFrame(screen, rgba, screen.width, screen.height, cursor);
    writeFileSync(o.out!, encodePng(rgba, screen.width, screen.height), { mode: 0o600 });
    privateFile(o.out!);
    process.stdout.write(`wrote ${o.out} (${screen.width}x${screen.height}, ${at} s into the session)\n`);
    warnAbout(screen.warnings);
    return;
  }
  await exportMp4(rec, o.mp4!, fps, cursor, label);
}

/** The recording's bytes: a local file if the argument names one, else a session's recording from the API. */
async function load(ref: string, session: () => CliState): Promise<{ bytes: Uint8Array; label: string }> {
  if (existsSync(ref)) {
    if (!statSync(ref).isFile()) throw new ExportError(`${ref} is not a file`);
    const raw = readFileSync(ref);
    // A compressed recording (<session>.ghrec.gz, gzip members: docs/operations.md) is the recording inflated.
    let bytes: Uint8Array = raw;
    if (raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        bytes = gunzipSync(raw);
      } catch {
        throw new ExportError(`${ref} is a damaged compressed recording (run \`gzip -t ${ref}\`)`);
      }
    }
    if (isAsciicast(bytes)) throw new ExportError(`${ref} is a terminal session recording (asciicast): play it with \`asciinema play ${ref}\`; only RDP recordings can be exported to video`);
    return { bytes, label: ref };
  }
  if (/[/\\]/.test(ref) || ref.endsWith(GHREC_FILE_EXTENSION) || ref.endsWith('.cast') || ref.endsWith('.gz')) throw new ExportError(`no such file: ${ref}`);
  const res = await call(session(), 'GET', pathOf(api.recordings.get, { params: { sessionId: ref } }));
  if (res.status !== 200) {
    const err = (parseJson(res) as Partial<ErrorBody> | undefined)?.error;
    throw new ExportError(`cannot download the recording of session ${ref}: ${err?.message ?? `HTTP ${res.status}`}`);
  }
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith(GHREC_CONTENT_TYPE) && (type.includes('asciicast') || isAsciicast(res.body))) {
    throw new ExportError(`session ${ref} is a terminal (SSH/Telnet) session: download its recording with \`gatehouse recording get ${ref}\` and play it with \`asciinema play\``);
  }
  return { bytes: res.body, label: `the recording of session ${ref}` };
}

/** Summarises what the decoder had to skip, if anything (one line on stderr). */
function warnAbout(warnings: Map<string, number>): void {
  if (!warnings.size) return;
  const list = [...warnings].map(([k, n]) => `${k} ${n}`).join(', ');
  process.stderr.write(`note: parts of the recording could not be decoded and were skipped (${list})\n`);
}

async function exportMp4(rec: RdpRecording, out: string, fps: number, cursor: boolean, label: string): Promise<void> {
  // x264 with yuv420p needs even dimensions: pad with black on the right and bottom.
  const width = rec.width + (rec.width & 1);
  const height = rec.height + (rec.height & 1);
  const total = frameCount(rec.duration, fps);
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-y', out];
  const ff = spawn(process.env.GATEHOUSE_FFMPEG || 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  ff.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    ff.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
    ff.once('close', (code) => resolve({ code }));
  });
  let broken = false;
  ff.stdin!.on('error', () => {
    broken = true;
  });

  const progress = new Progress(total);
  let screenWarnings: Map<string, number> | null = null;
  try {
    for (const f of frames(rec, fps, { width, height, cursor })) {
      if (broken || ff.exitCode !== null) break;
      // The frame buffer is reused, so the pipe gets a copy.
      if (!ff.stdin!.write(Buffer.from(f.rgba))) {
        const drained = await Promise.race([new Promise<boolean>((r) => ff.stdin!.once('drain', () => r(true))), exited.then(() => false)]);
        if (!drained) break;
      }
      progress.tick(f.index + 1);
      screenWarnings = f.screen.warnings;
    }
  } finally {
    ff.stdin!.end();
  }
  const r = await exited;
  progress.done();
  if (r.error?.code === 'ENOENT') throw new ExportError('ffmpeg is not installed (or not on PATH): install it, e.g. `apt-get install ffmpeg`, to export video');
  if (r.error) throw new ExportError(`cannot run ffmpeg: ${r.error.message}`);
  if (r.code !== 0) {
    const last = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no message';
    throw new ExportError(`ffmpeg failed (exit ${r.code}): ${last}`);
  }
  privateFile(out);
  process.stdout.write(`wrote ${out} (${total} frames, ${width}x${height}, ${fps} fps, ${seconds(rec.duration)} s of ${label})\n`);
  if (screenWarnings) warnAbout(screenWarnings);
}

/** A duration for people: one decimal when that is exact, else milliseconds. */
function seconds(s: number): string {
  const ms = Math.round(s * 1000);
  return ms % 100 === 0 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(3);
}

/** Exported frames are as sensitive as the recording: owner only, also when the file already existed. */
function privateFile(file: string): void {
  try {
    // Never a device such as /dev/null, whose mode matters to everyone else.
    if (statSync(file).isFile()) chmodSync(file, 0o600);
  } catch {
    /* gone already, or not ours to change */
  }
}

/** Progress on stderr: a rewritten line on a terminal, a line every few seconds otherwise. */
class Progress {
  private last = 0;
  private readonly started = Date.now();
  private shown = false;
  constructor(private readonly total: number) {}

  tick(n: number): void {
    const now = Date.now();
    const tty = process.stderr.isTTY;
    if (now - this.last < (tty ? 200 : 5000) || now - this.started < 1000) return;
    this.last = now;
    this.shown = true;
    const line = `exporting: ${Math.floor((n * 100) / this.total)}% (frame ${n} of ${this.total})`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
  }

  done(): void {
    if (this.shown && process.stderr.isTTY) process.stderr.write('\n');
  }
}
