// What a node tells Prometheus (issue 16 point 5): one prom-client Registry per core (never
// prom-client's global one, so several cores in one test process do not share counters),
// every name prefixed `gatehouse_`. The core's services report events here through small
// methods (a ticket issued, a sign-in failed, a query took so long); what is a state, not an
// event (live sessions, bytes relayed, recording bytes, queue depth), is read when scraped,
// so the relay's hot path pays nothing for it. Labels take only values from fixed sets
// (protocols, doors, refusal reasons, directions): never a user name, address or id.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_PREFIX = 'gatehouse_';

/** A live session as the scrape sees it (core/sessions/live.ts's LiveSession fits). */
export interface LiveTraffic {
  plan: { protocol: string };
  bytesIn: number;
  bytesOut: number;
}

/** What is read at scrape time; the server (or the core) fills these in. */
export interface MetricSources {
  /** Sessions live in this process. */
  live(): Iterable<LiveTraffic>;
  /** Bytes written to recordings so far by this process (sealed and live ones). */
  recordingBytes(): number | Promise<number>;
  /** Recording writes waiting to be written (the bounded recording queue); 0 without one. */
  recordingQueueDepth(): number;
  /** Whether this node is draining (SIGTERM: no new sessions). */
  draining(): boolean;
}

const noSources: MetricSources = { live: () => [], recordingBytes: () => 0, recordingQueueDepth: () => 0, draining: () => false };

/** Database latency buckets, in seconds: 0.5 ms … 2.5 s. */
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The doors a failed sign-in is labelled with in gatehouse_login_failures_total (others: `other`). */
const LOGIN_VIAS = new Set(['api', 'web', 'ssh', 'oauth2', 'cli']);

export class Metrics {
  readonly registry = new Registry();
  private sources: MetricSources = noSources;
  private processMetrics = false;
  /** Bytes of sessions that have left `live`, by protocol (live ones are added at scrape time). */
  private readonly endedTraffic = new Map<string, { in: number; out: number }>();

  private readonly ticketsIssued: Counter<'protocol'>;
  private readonly ticketsRedeemed: Counter<'protocol' | 'door'>;
  private readonly ticketsRefused: Counter<'reason' | 'door'>;
  private readonly sessionsStarted: Counter<'protocol' | 'door'>;
  private readonly loginFailures: Counter<'action' | 'via'>;
  private readonly rateLimited: Counter<'kind' | 'scope'>;
  private readonly dbQueries: Histogram<'outcome'>;

  constructor(readonly node: string, version: string) {
    const registers = [this.registry];
    const p = METRICS_PREFIX;
    new Gauge({ name: `${p}build_info`, help: 'Always 1; the version and node id of this gateway process', labelNames: ['version', 'node'], registers }).set({ version, node }, 1);
    this.ticketsIssued = new Counter({ name: `${p}tickets_issued_total`, help: 'Launch tickets issued, by launcher protocol', labelNames: ['protocol'], registers });
    this.ticketsRedeemed = new Counter({ name: `${p}tickets_redeemed_total`, help: 'Launch tickets redeemed at a door into a session', labelNames: ['protocol', 'door'], registers });
    this.ticketsRefused = new Counter({ name: `${p}tickets_refused_total`, help: 'Tickets (and direct opens) a door refused, by reason (the TicketRefused reasons)', labelNames: ['reason', 'door'], registers });
    this.sessionsStarted = new Counter({ name: `${p}sessions_started_total`, help: 'Sessions started on this node', labelNames: ['protocol', 'door'], registers });
    this.loginFailures = new Counter({ name: `${p}login_failures_total`, help: 'Failed sign-ins (wrong password, code or client secret, unknown name, refusals; not the answer asking for a second factor), by audit action and door', labelNames: ['action', 'via'], registers });
    this.rateLimited = new Counter({ name: `${p}rate_limited_total`, help: 'Requests refused with 429 by the request rate limits, by kind (login, token, ticket) and scope (ip, account)', labelNames: ['kind', 'scope'], registers });
    this.dbQueries = new Histogram({ name: `${p}db_query_duration_seconds`, help: 'Database query latency as the gateway sees it (pool wait included)', labelNames: ['outcome'], buckets: DB_BUCKETS, registers });
    const self = this;
    new Gauge({
      name: `${p}sessions_live`,
      help: 'Sessions live on this node, by protocol',
      labelNames: ['protocol', 'node'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const s of self.sources.live()) counts.set(s.plan.protocol, (counts.get(s.plan.protocol) ?? 0) + 1);
        for (const [protocol, n] of counts) this.set({ protocol, node: self.node }, n);
      },
    });
    new Counter({
      name: `${p}relayed_bytes_total`,
      help: 'Bytes relayed between people and targets, by protocol and direction (in: typed toward the target, out: from the target)',
      labelNames: ['protocol', 'direction'],
      registers,
      collect() {
        this.reset();
        const sum = new Map<string, { in: number; out: number }>();
        for (const [k, v] of self.endedTraffic) sum.set(k, { ...v });
        for (const s of self.sources.live()) {
          const t = sum.get(s.plan.protocol) ?? { in: 0, out: 0 };
          t.in += s.bytesIn;
          t.out += s.bytesOut;
          sum.set(s.plan.protocol, t);
        }
        for (const [protocol, t] of sum) {
          this.inc({ protocol, direction: 'in' }, t.in);
          this.inc({ protocol, direction: 'out' }, t.out);
        }
      },
    });
    new Counter({
      name: `${p}recording_bytes_total`,
      help: 'Bytes of session recordings made by this node (plain, before compression)',
      registers,
      async collect() {
        this.reset();
        this.inc(await self.sources.recordingBytes());
      },
    });
    new Gauge({
      name: `${p}recording_queue_depth`,
      help: 'Bytes of recording waiting for the disk (the recording writer thread queue)',
      registers,
      collect() {
        this.set(self.sources.recordingQueueDepth());
      },
    });
    new Gauge({
      name: `${p}draining`,
      help: '1 while this node drains (after SIGTERM: no new sessions, running ones go on)',
      registers,
      collect() {
        this.set(self.sources.draining() ? 1 : 0);
      },
    });
  }

  /** Where the scrape reads state from (core.ts sets the sessions; the server the drain). */
  watch(sources: Partial<MetricSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  /**
   * Node.js process metrics under the same prefix: event-loop lag
   * (gatehouse_nodejs_eventloop_lag_seconds and its percentiles), heap, GC, CPU, file
   * descriptors. Started by the server only: they keep an event-loop monitor running.
   */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
  }

  ticketIssued(protocol: string): void {
    this.ticketsIssued.inc({ protocol });
  }

  ticketRedeemed(protocol: string, door: string): void {
    this.ticketsRedeemed.inc({ protocol, door });
  }

  ticketRefused(reason: string, door: string): void {
    this.ticketsRefused.inc({ reason, door });
  }

  sessionStarted(protocol: string, door: string): void {
    this.sessionsStarted.inc({ protocol, door });
  }

  /**
   * A session left the live ones (Sessions.onLeftLive): its bytes join the ended totals at
   * that moment, before its end is written, so the relayed-bytes counter never goes down.
   */
  sessionEnded(s: { protocol: string; bytesIn: number; bytesOut: number }): void {
    const t = this.endedTraffic.get(s.protocol) ?? { in: 0, out: 0 };
    t.in += s.bytesIn;
    t.out += s.bytesOut;
    this.endedTraffic.set(s.protocol, t);
  }

  /**
   * The `via` label is one of a fixed set: a failure's details may carry text from the request
   * (a logon-ticket refusal's /~~<server>), and a label value per text sent would grow the
   * series without end.
   */
  loginFailed(action: string, via: string): void {
    this.loginFailures.inc({ action, via: LOGIN_VIAS.has(via) ? via : via ? 'other' : 'api' });
  }

  limited(kind: string, scope: 'ip' | 'account'): void {
    this.rateLimited.inc({ kind, scope });
  }

  /** One database query took `seconds` (store/db.ts reports every query). */
  query(seconds: number, failed: boolean): void {
    this.dbQueries.observe({ outcome: failed ? 'error' : 'ok' }, seconds);
  }

  /** The Prometheus text exposition of everything above. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
