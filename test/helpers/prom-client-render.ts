import { Counter, Gauge, Registry } from 'prom-client';
import type { Snapshot } from '../../src/evaluate/snapshot.js';
import { clusterMetrics as m, configuredLabel, type MetricSpec } from '../../src/metrics/catalogue.js';

// The reference the exporter's own text writer is checked against: the same series set
// through prom-client's Registry, as the exporter did before it wrote the text itself.
/**
 * Builds a fresh registry from a snapshot: a pure function, called on every scrape, so a
 * server removed from the configuration is gone from the next scrape.
 */
export function renderSnapshotWithPromClient(snapshot: Snapshot): Registry {
  const registry = new Registry();
  const gauge = (s: MetricSpec) => new Gauge({ name: s.name, help: s.help, labelNames: [...s.labels], registers: [registry] });
  const g = {
    up: gauge(m.componentUp),
    lastHeartbeat: gauge(m.lastHeartbeat),
    heartbeatAge: gauge(m.heartbeatAge),
    staleTimeout: gauge(m.staleTimeout),
    versionInSync: gauge(m.versionInSync),
    keyInSync: gauge(m.keyInSync),
    componentInfo: gauge(m.componentInfo),
    probeDuration: gauge(m.probeDuration),
    lastProbe: gauge(m.lastProbe),
    tlsCertExpiry: gauge(m.tlsCertExpiry),
    failureReason: gauge(m.probeFailureReason),
    serverOnline: gauge(m.serverOnline),
    serverOfflineSince: gauge(m.serverOfflineSince),
    clockOffset: gauge(m.serverClockOffset),
    serverInfo: gauge(m.serverInfo),
    clusterInfo: gauge(m.clusterInfo),
    interval: gauge(m.heartbeatInterval),
    keys: gauge(m.keyFingerprints),
  };
  const failed = new Counter({ name: m.probesFailed.name, help: m.probesFailed.help, labelNames: [...m.probesFailed.labels], registers: [registry] });
  const failures = new Counter({
    name: m.probeFailures.name,
    help: m.probeFailures.help,
    labelNames: [...m.probeFailures.labels],
    registers: [registry],
  });
  const values = gauge(m.componentValue);
  const facts = gauge(m.factInfo);
  const expServers = gauge(m.expectationServers);
  const expMin = gauge(m.expectationMinServers);
  const expMax = gauge(m.expectationMaxServers);
  const expMember = gauge(m.expectationMemberInfo);

  for (const c of snapshot.clusters) {
    const app_cluster = c.name;
    g.clusterInfo.set(
      { app_cluster, load_balancing: configuredLabel(c.loadBalancing), automatic_failover: configuredLabel(c.automaticFailover) },
      1,
    );
    g.interval.set({ app_cluster }, c.heartbeatIntervalSeconds);
    g.keys.set({ app_cluster }, c.keyFingerprints);
    for (const e of c.expectations) {
      const labels = { app_cluster, expectation: e.name };
      expServers.set(labels, e.servers);
      if (e.min !== null) expMin.set(labels, e.min);
      if (e.max !== null) expMax.set(labels, e.max);
      for (const server of e.matching) expMember.set({ ...labels, server }, 1);
    }
    for (const s of c.servers) {
      const server = s.name;
      g.serverInfo.set({ app_cluster, server, address: s.address, site: s.site, role: s.role, os: s.os ?? '' }, 1);
      if (s.state !== 'pending') g.serverOnline.set({ app_cluster, server }, s.state === 'online' ? 1 : 0);
      if (s.state === 'offline' && s.since !== null) g.serverOfflineSince.set({ app_cluster, server }, s.since);
      if (s.clockOffsetSeconds !== null) g.clockOffset.set({ app_cluster, server }, s.clockOffsetSeconds);
      for (const comp of s.components) {
        const labels = { app_cluster, server, component: comp.name };
        g.staleTimeout.set(labels, comp.staleTimeoutSeconds);
        for (const [reason, n] of Object.entries(comp.failures)) failures.inc({ ...labels, reason }, n);
        if (comp.lastProbe === null) continue;
        failed.inc(labels, comp.failuresTotal);
        // Null while unknown (credentials refused): no series.
        if (comp.up !== null) g.up.set(labels, comp.up ? 1 : 0);
        for (const [name, v] of Object.entries(comp.values)) values.set({ ...labels, name }, v);
        if (comp.up) for (const [fact, value] of Object.entries(comp.facts)) facts.set({ ...labels, fact, value }, 1);
        if (comp.reason) g.failureReason.set({ ...labels, reason: comp.reason }, 1);
        if (comp.lastProbe !== null) g.lastProbe.set(labels, comp.lastProbe);
        if (comp.probeDurationSeconds !== null) g.probeDuration.set(labels, comp.probeDurationSeconds);
        if (comp.tlsCertExpiry !== null) g.tlsCertExpiry.set(labels, comp.tlsCertExpiry);
        if (comp.lastHeartbeat !== null) g.lastHeartbeat.set(labels, comp.lastHeartbeat);
        if (comp.heartbeatAgeSeconds !== null) g.heartbeatAge.set(labels, comp.heartbeatAgeSeconds);
        if (comp.versionInSync !== null) g.versionInSync.set(labels, comp.versionInSync ? 1 : 0);
        if (comp.keyInSync !== null) g.keyInSync.set(labels, comp.keyInSync ? 1 : 0);
        if (comp.version !== null && !comp.versionLastKnown) g.componentInfo.set({ ...labels, version: comp.version }, 1);
      }
    }
  }
  return registry;
}

