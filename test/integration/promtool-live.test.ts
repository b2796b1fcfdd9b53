import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMetricSpecs } from '../../src/metrics/catalogue.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';
import { run } from '../helpers/tools.js';

// The golden test checks a page built without the process metrics; this one checks what
// Prometheus really scrapes: the built exporter, its prom-client defaults included.
describe('the live /metrics page', () => {
  let sim: SimCluster;
  let exporter: ExporterProcess;

  beforeAll(async () => {
    sim = new SimCluster({ servers: 3, components: [{ name: 'web', port: 8080 }, { name: 'service', port: 8081 }], baseAddress: randomBase() });
    await sim.start();
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '400ms', staleTimeout: '3s' }));
    // Faults put the failure, drift and key series on the page too.
    await sim.setFault('node-2', 'down');
    await sim.setFault('node-3', 'key_drift', { component: 'service' });
    await sim.setFault('node-1', 'version_drift', { component: 'web' });
    exporter = await spawnExporter([`--config.file=${configFile}`]);
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.stop();
  });

  it('passes promtool check metrics with no output, every family present', async () => {
    const page = await waitFor('every fault seen on the page', async () => {
      const text = await (await fetch(`${exporter.url}/metrics`)).text();
      const seen =
        /^appcluster_component_probe_failure_reason\{[^}]*server="node-2"[^}]*reason="connection_refused"\} 1$/m.test(text) &&
        /^appcluster_component_key_in_sync\{[^}]*server="node-3",component="service"\} 0$/m.test(text) &&
        /^appcluster_component_version_in_sync\{[^}]*server="node-1",component="web"\} 0$/m.test(text);
      return seen ? text : undefined;
    });
    const families = new Set([...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const spec of allMetricSpecs) expect(families, spec.name).toContain(spec.name);
    // The default process metrics stay, the per-type active handle, request and resource
    // gauges among them.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_open_fds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles',
      'nodejs_active_requests',
      'nodejs_active_resources',
      'nodejs_version_info',
    ]) {
      expect(families, name).toContain(name);
    }

    const result = run('promtool', ['check', 'metrics'], page);
    expect(result.out).toBe('');
    expect(result.status).toBe(0);
  });
});
