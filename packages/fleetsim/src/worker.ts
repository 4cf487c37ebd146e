/**
 * A worker process (child_process.fork): holds its share of the fleet's agents and runs each
 * phase the coordinator asks for over IPC, answering with that phase's stats.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { loadCatalog } from './catalog.js';
import { FleetModel, type Delta, type FleetSpec } from './fleet-data.js';
import { Histogram } from './histogram.js';
import { endpoint, eachLimited, requestJson } from './http.js';
import { SimAgent, type AgentContext } from './sim-agent.js';
import { PieceCache, run } from './packed-frames.js';
import { emptyStats, countError, type PhaseStats } from './stats.js';
import { rng, seedOf } from './rng.js';

export interface WorkerConfig {
  url: string; caFile: string; enrollSecret: string; spec: FleetSpec;
  dpkgStatus: string; dpkgInfo: string;
  first: number; count: number;
  deflate: boolean; window: number; inflightBytes: number; connectConcurrency: number; enrollConcurrency: number;
}
export type Phase =
  | { phase: 'enroll' } | { phase: 'connect' } | { phase: 'sync' }
  | { phase: 'storm-prepare'; changes: number } | { phase: 'storm'; changes: number }
  | { phase: 'churn'; durationS: number; intervalS: number; changes: number; reconnectShare: number }
  | { phase: 'close' } | { phase: 'report' };
/** Delta number `d` of an agent, made ahead of sending. */
interface ReadyDelta { d: number; delta: Delta }
export interface HostReport { hostId: string; host: number; expectedKeys: number; seq: number; ackedSeq: number; planted: boolean }
export type WorkerMessage = { type: 'done'; phase: string; stats: PhaseStats; hosts?: HostReport[] } | { type: 'failed'; phase: string; error: string };

class Worker {
  private stats = emptyStats();
  private latency = new Histogram();
  private readonly agents: SimAgent[] = [];
  private readonly model: FleetModel;
  private readonly ep;
  /** Bytes of frames built and not yet acknowledged or settled, and the most allowed. */
  private inflightBytes = 0;
  private readonly budgetBytes: number;
  private readonly waiting: SimAgent[] = [];
  private idleWaiter: (() => void) | null = null;
  private readonly ctx: AgentContext;
  /** Each live agent's storm delta, made by 'storm-prepare' before the storm's clock starts. */
  private stormDeltas = new Map<SimAgent, ReadyDelta>();

  constructor(private readonly cfg: WorkerConfig) {
    const catalog = loadCatalog(cfg.dpkgStatus, cfg.dpkgInfo, Math.max(cfg.spec.items * 2, 5000));
    this.model = new FleetModel(catalog, cfg.spec);
    const ca = readFileSync(cfg.caFile, 'utf8');
    this.ep = endpoint(cfg.url, ca, cfg.enrollConcurrency);
    this.budgetBytes = cfg.inflightBytes;
    const wsUrl = this.ep.url.replace(/^http/, 'ws') + '/api/v1/agents/stream';
    this.ctx = {
      wsUrl, ca, deflate: cfg.deflate, window: cfg.window, pieces: new PieceCache(),
      stats: () => this.stats, latency: () => this.latency,
      mayBuild: (a) => {
        if (this.inflightBytes < this.budgetBytes) return true;
        if (!this.waiting.includes(a)) this.waiting.push(a);
        return false;
      },
      charge: (bytes) => { this.inflightBytes += bytes; },
      release: (bytes) => {
        this.inflightBytes -= bytes;
        while (this.inflightBytes < this.budgetBytes && this.waiting.length) this.waiting.shift()!.pump();
      },
      onIdle: () => { if (this.idleWaiter && this.agents.every((x) => x.idle)) this.idleWaiter(); },
    };
    for (let i = 0; i < cfg.count; i++) {
      const host = cfg.first + i;
      this.agents.push(new SimAgent(host, this.model.hostId(host), this.ctx));
    }
    setInterval(() => { const now = Date.now(); for (const a of this.agents) a.heartbeat(now); }, 1000).unref();
  }

  async run(p: Phase): Promise<WorkerMessage> {
    this.stats = emptyStats(); this.latency = new Histogram();
    let hosts: HostReport[] | undefined;
    switch (p.phase) {
      case 'enroll': await eachLimited(this.agents, this.cfg.enrollConcurrency, (a) => this.enroll(a)); break;
      case 'connect': await eachLimited(this.agents, this.cfg.connectConcurrency, (a) => this.connect(a)); break;
      case 'sync':
        for (const a of this.live()) a.enqueue({ mode: 'full', scanId: `full-${a.host}`, make: () => ({ runs: this.model.hostRuns(a.host), removed: [] }) });
        await this.allIdle(); break;
      // Ten thousand real hosts would each have their delta ready; made here, on the collector's
      // machine, it cost the simulator ~0.4 ms of CPU per host inside the storm's clock.
      case 'storm-prepare':
        this.stormDeltas = new Map(this.live().map((a) => [a, { d: a.deltas + 1, delta: this.model.delta(a.host, a.deltas + 1, p.changes) }]));
        break;
      case 'storm':
        for (const a of this.live()) this.sendDelta(a, p.changes, 'storm', this.stormDeltas.get(a));
        this.stormDeltas = new Map();
        await this.allIdle(); break;
      case 'churn': await this.churn(p); break;
      case 'close': await Promise.all(this.agents.map((a) => a.close())); break;
      case 'report':
        hosts = this.agents.map((a) => ({ hostId: a.hostId, host: a.host, expectedKeys: this.model.expectedKeys(a.host, a.deltas), seq: a.seq, ackedSeq: a.ackedSeq, planted: this.model.planted(a.host) !== null }));
    }
    this.stats.ackLatency = this.latency.toJSON();
    return { type: 'done', phase: p.phase, stats: this.stats, ...(hosts ? { hosts } : {}) };
  }

  private async enroll(a: SimAgent): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const r = await requestJson(this.ep, 'POST', '/api/v1/agents/enroll', { enroll_secret: this.cfg.enrollSecret, host_id: a.hostId, hostname: this.model.hostname(a.host), agent_version: 'fleetsim' });
        if (r.status === 200) { a.token = (r.json as { token: string }).token; this.stats.enrolled++; return; }
        countError(this.stats, `ENROLL_HTTP_${r.status}`);
        if (r.status !== 429 && r.status < 500) return;
      } catch (err) { countError(this.stats, (err as NodeJS.ErrnoException).code ?? 'ENROLL_ERROR'); }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }

  private async connect(a: SimAgent): Promise<void> {
    if (!a.token) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      try { await a.connect(); this.stats.connected++; return; } catch { await new Promise((r) => setTimeout(r, 200 * 2 ** attempt)); }
    }
  }

  /** `ready`: the delta made beforehand, used if it is still the agent's next one. */
  private sendDelta(a: SimAgent, changes: number, label: string, ready?: ReadyDelta): void {
    const d = ++a.deltas;
    const x = (): Delta => (ready?.d === d ? ready.delta : this.model.delta(a.host, d, changes));
    a.enqueue({ mode: 'delta', scanId: `${label}-${a.host}-${d}`, make: () => { const { items, removed } = x(); return { runs: [run(items)], removed }; } });
  }

  /** Steady state: every agent sends a delta every interval (random phase), a share drop their link once. */
  private async churn(p: Extract<Phase, { phase: 'churn' }>): Promise<void> {
    const end = Date.now() + p.durationS * 1000;
    const timers: NodeJS.Timeout[] = [];
    for (const a of this.live()) {
      const r = rng(seedOf(this.cfg.spec.seed, 'churn', a.host));
      if (r() < p.reconnectShare) a.dropAfterSend = true;
      const tick = () => {
        if (Date.now() >= end) return;
        this.sendDelta(a, p.changes, 'churn');
        timers.push(setTimeout(tick, p.intervalS * 1000));
      };
      timers.push(setTimeout(tick, r() * Math.min(p.intervalS, p.durationS) * 1000));
    }
    await new Promise((r) => setTimeout(r, p.durationS * 1000));
    for (const t of timers) clearTimeout(t);
    await this.allIdle();
  }

  /** Agents that got through enrollment and a first welcome: the others have nothing to send on. */
  private live(): SimAgent[] { return this.agents.filter((a) => a.everWelcomed); }

  private allIdle(): Promise<void> {
    if (this.agents.every((a) => a.idle)) return Promise.resolve();
    return new Promise((resolve) => { this.idleWaiter = () => { this.idleWaiter = null; resolve(); }; });
  }
}

// The simulator's CPU is taken from the collector it measures (they share the machine): the same
// old-generation room as the collector's (collector/src/gc-tuning.ts), so V8 does not restart a
// full marking every few seconds over agents' long-lived state.
v8.setFlagsFromString('--heap-growing-percent=200');

let worker: Worker | null = null;
process.on('message', (m: { type: 'init'; config: WorkerConfig } | { type: 'phase'; phase: Phase }) => {
  void (async () => {
    if (m.type === 'init') { worker = new Worker(m.config); process.send!({ type: 'ready' }); return; }
    try { process.send!(await worker!.run(m.phase)); } catch (err) { process.send!({ type: 'failed', phase: m.phase.phase, error: (err as Error).stack ?? String(err) } satisfies WorkerMessage); }
  })();
});
process.on('disconnect', () => process.exit(0));
// An orderly exit on the coordinator's stop, so exit hooks run (--cpu-prof writes its profile then).
process.on('SIGTERM', () => process.exit(0));
