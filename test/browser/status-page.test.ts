import { mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { randomBase, startStack, tempDir, waitFor, type Stack } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const outDir = join(import.meta.dirname, '../../test-output');
const MARKUP = '<img src=x onerror=window.__xss=1><script>__xss=2</script>';
// Never contacted: the page only links to it.
const ALERTMANAGER = 'http://127.0.0.1:9093/am';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let stack: Stack;
let browser: Browser;
let page: Page;
const cspViolations: string[] = [];
/** Console errors and uncaught exceptions other than the CSP violation one test provokes. */
const consoleErrors: string[] = [];

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireTool('chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  stack = await startStack({}, {}, undefined, { alertmanagerUrl: ALERTMANAGER });
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    else if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  await waitFor('all online', async () => ((await stack.status()).clusters[0]!.serversOnline === 3 ? true : undefined));
  await page.goto(`${stack.exporter.url}/`);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const statusOf = (server: string) => page.locator(`tr[data-server="${server}"] td.status`).innerText();
const cell = (server: string, label: string) => page.locator(`tr[data-server="${server}"] td[data-label="${label}"]`);

/** Runs axe-core in the page (through the DevTools protocol, which the page's CSP does not govern). */
async function axeViolations(p: Page): Promise<string[]> {
  await p.evaluate(axeSource);
  return p.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(o: unknown): Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`);
  });
}

describe('status page in Chromium', () => {
  it('lists every simulated server Online with its components, a strip of recent checks and how long', async () => {
    for (const s of ['node-1', 'node-2', 'node-3']) expect(await statusOf(s)).toMatch(/Online\s+for \d+s/);
    const row = await page.locator('tr[data-server="node-1"]').innerText();
    expect(row).toMatch(/127\.\d+\.\d+\.\d+/);
    expect(row).toContain('Linux 6.1.0-amd64');
    expect(row).toMatch(/Up[\s\S]*heartbeat \d+s ago/);
    expect(row).toContain('8.6.2');
    expect(await cell('node-1', 'Version').innerText()).toMatch(/8\.6\.2\s+✔ In sync/);
    expect(await cell('node-1', 'Key').innerText()).toMatch(/✔ In sync/);
    expect(await page.locator('section.cluster dl').innerText()).toMatch(/Servers online\s*✔ 3 of 3[\s\S]*Load balancing\s*on \(as configured\)[\s\S]*Automatic failover\s*on \(as configured\)[\s\S]*Heartbeat interval\s*1s[\s\S]*Stale timeout\s*3s/);
    // One mark per probe so far, each with its time and result on hover.
    const strip = page.locator('tr[data-server="node-1"] td[data-component="web"] .strip');
    await expect.poll(() => strip.locator('.check.up').count(), { timeout: 6000 }).toBeGreaterThanOrEqual(2);
    expect(await strip.getAttribute('aria-label')).toMatch(/^Last \d+ checks: \d+ up, 0 stale, 0 down$/);
    expect(await strip.locator('.check').first().getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z up$/);
    // No silence link while nothing is Offline.
    expect(await page.locator('a.silence').count()).toBe(0);
    await page.screenshot({ path: join(outDir, 'status-page.png'), fullPage: true });
  });

  it('turns a server Offline within one heartbeat, says for how long, links a silence, lists the event, and back Online', async () => {
    const started = Date.now();
    await stack.sim.setFault('node-2', 'down');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Offline');
    const seconds = (Date.now() - started) / 1000;
    expect(await statusOf('node-2')).toMatch(/connection_refused/);
    // "Offline for 0s", then counting up with each refresh.
    expect(await statusOf('node-2')).toMatch(/Offline\s+for \d+s/);
    await expect.poll(async () => Number(/for (\d+)s/.exec(await statusOf('node-2'))?.[1]), { timeout: 6000, interval: 200 }).toBeGreaterThanOrEqual(2);
    // Offline is judged on the first failed required probe; web's own probe may come up to
    // one interval later, so wait for it rather than expect it in the same instant.
    const web = page.locator('tr[data-server="node-2"] td[data-component="web"]');
    await expect.poll(() => web.innerText(), { timeout: 6000, interval: 100 }).toMatch(/✖\s*Down/);
    expect(await web.locator('.strip .check.down').last().getAttribute('title')).toMatch(/Z down: connection_refused$/);
    const silence = page.locator('tr[data-server="node-2"] a.silence');
    expect(await silence.innerText()).toBe('Silence in Alertmanager');
    const href = (await silence.getAttribute('href'))!;
    expect(href.startsWith(`${ALERTMANAGER}/#/silences/new?filter=`)).toBe(true);
    expect(decodeURIComponent(href.split('filter=')[1]!)).toBe('{app_cluster="sim", server="node-2"}');
    expect(await page.locator('tr[data-server="node-1"] a.silence').count()).toBe(0);
    const events = page.locator('section.cluster .events li');
    await expect.poll(() => events.allInnerTexts(), { timeout: 6000 }).toContainEqual(expect.stringMatching(/ago\s+⚠\s+node-2 offline: /));
    await page.screenshot({ path: join(outDir, 'status-page-offline.png'), fullPage: true });

    await stack.sim.clearFault('node-2');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Online');
    await expect.poll(() => events.first().innerText(), { timeout: 6000 }).toMatch(/node-2 (back online after \d+s offline|web up|service up)/);
    expect(await page.locator('a.silence').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
    console.log(`status page showed node-2 Offline ${seconds.toFixed(1)} s after the fault`);
  });

  it('renders a version holding markup as text and runs nothing', async () => {
    await stack.sim.setFault('node-3', 'version_drift', { value: MARKUP, component: 'web' });
    await expect.poll(() => cell('node-3', 'Version').innerText(), { timeout: 6000 }).toContain(MARKUP);
    expect(await page.locator('tr[data-server="node-3"] img').count()).toBe(0);
    expect(await page.locator('#clusters script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await cell('node-3', 'Version').innerText()).toMatch(/⚠ Out of sync/);
    // The drift event holds the same text, escaped too.
    await expect.poll(() => page.locator('section.cluster .events li').allInnerTexts(), { timeout: 6000 }).toContainEqual(expect.stringContaining(`node-3 web version ${MARKUP} out of sync`));
    // A full load, too: the server-rendered page escapes what the fragment escapes.
    await page.reload();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await cell('node-3', 'Version').innerText()).toContain(MARKUP);
    await stack.sim.clearFault('node-3');
    await expect.poll(() => cell('node-3', 'Version').innerText(), { timeout: 6000 }).toMatch(/✔ In sync/);
  });

  it('refreshes with one request per refresh, for the fragment only', async () => {
    const requests: string[] = [];
    const onRequest = (r: { url(): string }) => requests.push(r.url());
    page.on('request', onRequest);
    await expect.poll(() => requests.length, { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(3);
    page.off('request', onRequest);
    expect(requests.every((u) => u === `${stack.exporter.url}/?fragment=clusters`)).toBe(true);
  });

  it('has no accessibility violations (axe-core), in light and dark colour schemes', async () => {
    await stack.sim.setFault('node-2', 'down');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Offline');
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await axeViolations(page), colorScheme).toEqual([]);
      await page.screenshot({ path: join(outDir, `status-page-${colorScheme}.png`), fullPage: true });
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await stack.sim.clearFault('node-2');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Online');
  });

  it('sends a Content-Security-Policy that allows only its own script', async () => {
    const res = await fetch(`${stack.exporter.url}/`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const blocked = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      return (window as unknown as { __inline?: number }).__inline;
    });
    expect(blocked).toBeUndefined();
    expect(cspViolations.length).toBeGreaterThan(0);
  });

  it('stays readable on a narrow screen, server names in one piece', async () => {
    await page.setViewportSize({ width: 380, height: 800 });
    await page.reload();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(380);
    expect(await page.locator('tr[data-server="node-1"] td[data-label="Status"]').isVisible()).toBe(true);
    expect(await page.locator('tr[data-server="node-1"] th .name').evaluate((el) => getComputedStyle(el).whiteSpace)).toBe('nowrap');
    await page.screenshot({ path: join(outDir, 'status-page-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('logged no console error (a missing favicon included) and no uncaught exception', async () => {
    await page.goto(`${stack.exporter.url}/api/v1/status`);
    await page.goto(`${stack.exporter.url}/`);
    expect(consoleErrors).toEqual([]);
  });
});

describe('status page while the first round is under way', () => {
  it('says "checking 3 servers", never a red count, until the servers are judged', async () => {
    // Every component accepts and never answers: each probe takes its whole 4 s timeout.
    const sim = new SimCluster({ servers: 3, components: [{ name: 'web', port: 8080 }, { name: 'service', port: 8081 }], baseAddress: randomBase() });
    await sim.start();
    for (const s of sim.servers) await sim.setFault(s.name, 'hang');
    const dir = await tempDir();
    const configFile = join(dir, 'config.yml');
    await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '6s', probeTimeout: '4s', staleTimeout: '20s' }));
    const exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => {} }) });
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await p.goto(`${exporter.url}/`);
      const header = p.locator('section.cluster [data-fact-row="online"]');
      const first = await header.innerText();
      expect(first).toMatch(/…\s*checking 3 servers/);
      expect(await header.locator('.badge.bad').count()).toBe(0);
      expect(await p.locator('tr[data-server="node-1"] td.status').innerText()).toMatch(/Checking/);
      await p.screenshot({ path: join(outDir, 'status-page-checking.png'), fullPage: true });
      // Once the timeouts are in, the count is a real one.
      await expect.poll(() => header.innerText(), { timeout: 10_000, interval: 200 }).toMatch(/⚠\s*0 of 3/);
    } finally {
      await p.close();
      await exporter.close();
      await sim.stop();
    }
  });
});
