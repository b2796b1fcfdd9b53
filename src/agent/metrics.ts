import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../version.js';

/**
 * The agent's own metrics, all `agent_`-prefixed, in a registry of their own (never
 * prom-client's global one). Label values come from the configuration (`fact`) or a
 * closed set (`result`).
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly collections = new Counter({
    name: 'agent_collections_total',
    help: 'Times the facts were read; answers within min_interval of the last reading are served from it.',
    registers: [this.registry],
  });
  readonly collectionDuration = new Histogram({
    name: 'agent_collection_duration_seconds',
    help: 'Time to read every fact once.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly factReads = new Counter({
    name: 'agent_fact_reads_total',
    help: 'Fact reads by result: success, or error when the fact could not be read.',
    labelNames: ['fact', 'result'],
    registers: [this.registry],
  });
  readonly factReadSuccess = new Gauge({
    name: 'agent_fact_last_read_success',
    help: '1 if the last read of the fact succeeded, else 0.',
    labelNames: ['fact'],
    registers: [this.registry],
  });
  readonly answers = new Counter({
    name: 'agent_fact_document_answers_total',
    help: 'Answers of the facts document, by whether they were served from the last reading.',
    labelNames: ['cached'],
    registers: [this.registry],
  });

  constructor(facts: readonly string[], withProcessMetrics = true) {
    new Gauge({ name: 'agent_build_info', help: 'Agent build facts.', labelNames: ['version', 'node_version'], registers: [this.registry] }).set(
      { version: VERSION, node_version: process.version },
      1,
    );
    for (const fact of facts) for (const result of ['success', 'error']) this.factReads.inc({ fact, result }, 0);
    for (const cached of ['true', 'false']) this.answers.inc({ cached }, 0);
    // 100 ms, as the exporter: prom-client's 10 ms event-loop sampling alone costs an idle process CPU it need not spend.
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'agent_', eventLoopMonitoringPrecision: 100 });
  }
}
