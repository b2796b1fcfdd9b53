import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { renderClusters, silenceUrl } from '../../src/web/page.js';
import { recordsFor } from '../helpers/records.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

const config = parseConfig(
  `clusters:
  - name: mft
    stale_timeout: 5m
    components:
      - { name: web, stale_timeout: 24h, probe: { http: { url: "http://{address}/" } }, version: version, key_fingerprint: key, os: os }
      - { name: service, probe: { tcp: { port: 81 } } }
    servers:
      - { name: a, address: 127.0.0.1 }
      - { name: b, address: 127.0.0.2 }
  - name: plain
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: p, address: 127.0.0.3 }]
`,
  'page.yml',
);

/** The text a reader sees: tags dropped, entities decoded, spaces collapsed. */
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

function section(html: string, cluster: string): string {
  const start = html.indexOf(`<section class="cluster" data-cluster="${cluster}"`);
  return html.slice(start, html.indexOf('</section>', start));
}

function row(html: string, server: string): string {
  const start = html.indexOf(`data-server="${server}"`);
  return html.slice(start, html.indexOf('</tr>', start));
}

describe('the status page', () => {
  it('says "checking" while servers are pending, never a red count', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true, finishedMs: NOW });
    const html = renderClusters(evaluate(config, records, NOW), {}).value;
    const header = section(html, 'mft').split('</dl>')[0]!;
    expect(text(header)).toContain('Servers online … checking 2 servers');
    expect(header).not.toMatch(/badge bad/);
    expect(text(section(html, 'plain'))).toContain('checking 1 server ');
  });

  it('tells "not configured" from "unknown", and marks a last-known version', () => {
    const { records, set } = recordsFor(config);
    // a: web answered without its version yet; b: web reported 8.6.2 and is down since.
    set('mft', 'a', 'web', { success: true, finishedMs: NOW - 1000 });
    set('mft', 'a', 'service', { success: true, finishedMs: NOW - 1000 });
    set('mft', 'b', 'web', { success: true, finishedMs: NOW - 9000, version: '8.6.2', keyHash: 'k', os: 'Linux' });
    set('mft', 'b', 'web', { success: false, reason: 'timeout', finishedMs: NOW - 1000 });
    set('mft', 'b', 'service', { success: true, finishedMs: NOW - 1000 });
    set('plain', 'p', 'web', { success: true, finishedMs: NOW - 1000 });
    const html = renderClusters(evaluate(config, records, NOW), {}).value;
    const a = text(row(html, 'a'));
    expect(a).toMatch(/OS unknown|unknown/);
    expect(text(row(html, 'a').split('data-label="Version"')[1]!)).toMatch(/^\s*>\s*unknown/);
    // Last known (issue 28, item 7): shown as such, never compared, so no sync mark and no reference.
    const b = text(row(html, 'b').split('data-label="Version"')[1]!.split('</td>')[0]!);
    expect(b).toMatch(/8\.6\.2 \(last known\)\s*$/);
    const p = row(html, 'p');
    for (const label of ['OS', 'Version', 'Key']) expect(text(p.split(`data-label="${label}"`)[1]!.split('</td>')[0]!)).toMatch(/not configured/);
    expect(text(section(html, 'plain').split('</dl>')[0]!)).toMatch(/Reference version not configured .*Encryption key not configured/);
    expect(text(section(html, 'mft').split('</dl>')[0]!)).toMatch(/Reference version unknown .*Encryption key unknown/);
  });

  it('uses one wording for every sync mark', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true, finishedMs: NOW, version: '8.6.2', keyHash: 'k1' });
    set('mft', 'a', 'service', { success: true, finishedMs: NOW, version: '8.6.2', keyHash: 'k1' });
    set('mft', 'b', 'web', { success: true, finishedMs: NOW, version: '8.5.0', keyHash: 'k2' });
    const html = text(renderClusters(evaluate(config, records, NOW), {}).value);
    const marks = html.match(/(in sync|out of sync)/gi)!;
    expect(new Set(marks)).toEqual(new Set(['In sync', 'Out of sync']));
    expect(html).toContain('Encryption key ⚠ Out of sync (2 different keys)');
  });

  it("shows a component's stale timeout where it differs from the cluster's", () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b']) for (const c of ['web', 'service']) set('mft', s, c, { success: true, finishedMs: NOW - 1000 });
    const html = renderClusters(evaluate(config, records, NOW), {}).value;
    const a = row(html, 'a');
    expect(text(a.split('data-component="web"')[1]!.split('</td>')[0]!)).toContain('(stale after 1d 0h)');
    expect(a.split('data-component="service"')[1]!.split('</td>')[0]!).not.toContain('stale after');
  });

  it("shows the earliest expiry of a server's certificates, marked at 14 and 3 days, and no column without TLS", () => {
    const { records, set } = recordsFor(config);
    const day = 86_400_000;
    set('mft', 'a', 'web', { success: true, finishedMs: NOW - 1000, certNotAfterMs: NOW + 40 * day });
    set('mft', 'a', 'service', { success: true, finishedMs: NOW - 1000, certNotAfterMs: NOW + 2 * day });
    set('mft', 'b', 'web', { success: true, finishedMs: NOW - 1000, certNotAfterMs: NOW + 10 * day });
    set('mft', 'b', 'service', { success: true, finishedMs: NOW - 1000 });
    set('plain', 'p', 'web', { success: true, finishedMs: NOW - 1000 });
    const html = renderClusters(evaluate(config, records, NOW), {}).value;
    const cert = (server: string) => row(html, server).split('data-label="Certificate"')[1]!.split('</td>')[0]!;
    expect(text(cert('a'))).toContain('expires in 2d 0h');
    expect(cert('a')).toContain('badge bad');
    expect(cert('a')).toContain(`service: expires ${new Date(NOW + 2 * day).toISOString()}`);
    expect(text(cert('b'))).toContain('expires in 10d 0h');
    expect(cert('b')).toContain('badge warn');
    expect(section(html, 'mft')).toContain('<th scope="col">Certificate</th>');
    expect(section(html, 'plain')).not.toContain('Certificate');
  });

  it('links an Offline server to a new Alertmanager silence, and only an Offline one', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true, finishedMs: NOW - 1000 });
    set('mft', 'a', 'service', { success: true, finishedMs: NOW - 1000 });
    set('mft', 'b', 'web', { success: false, reason: 'connection_refused', finishedMs: NOW - 1000 });
    set('mft', 'b', 'service', { success: false, reason: 'connection_refused', finishedMs: NOW - 1000 });
    const html = renderClusters(evaluate(config, records, NOW), { alertmanagerUrl: 'http://am.example:9093/' }).value;
    expect(row(html, 'a')).not.toContain('silence');
    const href = /class="silence" href="([^"]+)"/.exec(row(html, 'b'))![1]!.replace(/&amp;/g, '&');
    expect(href).toBe('http://am.example:9093/#/silences/new?filter=%7Bapp_cluster%3D%22mft%22%2C%20server%3D%22b%22%7D');
  });

  it('escapes quotes, backslashes and markup in silence matchers as Alertmanager parses them (JSON strings)', () => {
    const url = silenceUrl('https://am.example/prefix', 'c "1"', 'node\\2 <b>&');
    const filter = decodeURIComponent(url.split('filter=')[1]!);
    expect(url.startsWith('https://am.example/prefix/#/silences/new?filter=')).toBe(true);
    expect(filter).toBe('{app_cluster="c \\"1\\"", server="node\\\\2 <b>&"}');
    // Nothing in the query string that a URL or HTML parser would take as its own.
    expect(url.split('filter=')[1]).toMatch(/^[A-Za-z0-9%\-_.!~*'()]+$/);
  });

  it('says "cannot authenticate" for an unknown component, marks last-known facts with their age, and shows a clock offset (issue 28)', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true, finishedMs: NOW - 60_000, heartbeatMs: NOW - 60_000, facts: { role: 'master' } });
    set('mft', 'a', 'web', { success: false, reason: 'connection_refused', finishedMs: NOW - 1000 });
    set('mft', 'a', 'service', { success: false, reason: 'unauthorized', detail: 'HTTP 401', finishedMs: NOW - 1000 });
    set('mft', 'b', 'web', { success: true, finishedMs: NOW - 1000, heartbeatMs: NOW + 600_000 });
    set('mft', 'b', 'service', { success: true, finishedMs: NOW - 1000 });
    const html = renderClusters(evaluate(config, records, NOW), {}).value;
    const a = text(row(html, 'a'));
    expect(a).toContain('? Cannot authenticate unauthorized (HTTP 401)');
    expect(a).toMatch(/role master \(last known, 1m 0s ago\)/);
    expect(text(row(html, 'b'))).toContain('clock 10m 1s ahead');
  });

  // Issue 29, item 8: no product API publishes these; a file that sets neither must not read as "off / off".
  it('shows load balancing and automatic failover "as configured", and "not set" for a cluster that sets neither', () => {
    const settings = parseConfig(
      `clusters:
  - name: unset
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: u, address: 127.0.0.1 }]
  - name: set
    load_balancing: true
    automatic_failover: false
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: s, address: 127.0.0.2 }]
  - name: paused
    automatic_failover: true
    components: [{ name: patroni, probe: { http: { url: "http://{address}/" } }, values: { automatic_failover_paused: paused } }]
    servers: [{ name: p, address: 127.0.0.3 }]
`,
      'settings.yml',
    );
    const { records, set } = recordsFor(settings);
    set('unset', 'u', 'web', { success: true, finishedMs: NOW });
    set('set', 's', 'web', { success: true, finishedMs: NOW });
    set('paused', 'p', 'patroni', { success: true, finishedMs: NOW, values: { automatic_failover_paused: 1 } });
    const snapshot = evaluate(settings, records, NOW);
    const html = renderClusters(snapshot, {}).value;
    const header = (cluster: string) => text(section(html, cluster).split('</dl>')[0]!);
    expect(header('unset')).toMatch(/Load balancing not set Automatic failover not set /);
    expect(header('unset')).not.toMatch(/\b(on|off)\b/);
    expect(section(html, 'unset')).toContain('title="load_balancing is not set in the configuration file; no API of the product publishes it"');
    expect(header('set')).toMatch(/Load balancing on \(as configured\) Automatic failover off \(as configured\) /);
    // Maintenance mode, as the product reports it, still wins over a configured "on".
    expect(header('paused')).toMatch(/Load balancing not set Automatic failover ⏸ paused maintenance mode \(reported by p\) /);
    // The API: null for not set, never false.
    expect(snapshot.clusters.map((c) => [c.name, c.loadBalancing, c.automaticFailover])).toEqual([
      ['unset', null, null],
      ['set', true, false],
      ['paused', null, true],
    ]);
  });
});
