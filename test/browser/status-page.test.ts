import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, waitFor, type Stack } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const outDir = join(import.meta.dirname, '../../test-output');
const MARKUP = '<img src=x onerror=window.__xss=1><script>__xss=2</script>';

let stack: Stack;
let browser: Browser;
let page: Page;
const cspViolations: string[] = [];

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: requireTool('chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await waitFor('all online', async () => ((await stack.status()).clusters[0]!.serversOnline === 3 ? true : undefined));
  await page.goto(`${stack.exporter.url}/`);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const statusOf = (server: string) => page.locator(`tr[data-server="${server}"] td.status`).innerText();

describe('status page in Chromium', () => {
  it('lists every simulated server Online with its components', async () => {
    for (const s of ['node-1', 'node-2', 'node-3']) expect(await statusOf(s)).toContain('Online');
    const row = await page.locator('tr[data-server="node-1"]').innerText();
    expect(row).toMatch(/127\.\d+\.\d+\.\d+/);
    expect(row).toContain('Linux 6.1.0-amd64');
    expect(row).toMatch(/Up[\s\S]*heartbeat \d+s ago/);
    expect(row).toContain('8.6.2');
    expect(row).toContain('In sync');
    expect(await page.locator('section.cluster dl').innerText()).toMatch(/Servers online\s*✔ 3 of 3[\s\S]*Load balancing\s*on[\s\S]*Automatic failover\s*on[\s\S]*Heartbeat interval\s*1s[\s\S]*Stale timeout\s*3s/);
    await page.screenshot({ path: join(outDir, 'status-page.png'), fullPage: true });
  });

  it('turns a server Offline within one heartbeat without a reload, and back Online', async () => {
    const started = Date.now();
    await stack.sim.setFault('node-2', 'down');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Offline');
    const seconds = (Date.now() - started) / 1000;
    expect(await statusOf('node-2')).toMatch(/connection_refused/);
    // Offline is judged on the first failed required probe; web's own probe may come up to
    // one interval later, so wait for it rather than expect it in the same instant.
    await expect
      .poll(() => page.locator('tr[data-server="node-2"] td[data-component="web"]').innerText(), { timeout: 6000, interval: 100 })
      .toMatch(/✖\s*Down/);
    await page.screenshot({ path: join(outDir, 'status-page-offline.png'), fullPage: true });
    await stack.sim.clearFault('node-2');
    await expect.poll(() => statusOf('node-2'), { timeout: 6000, interval: 100 }).toContain('Online');
    expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
    console.log(`status page showed node-2 Offline ${seconds.toFixed(1)} s after the fault`);
  });

  it('renders a version holding markup as text and runs nothing', async () => {
    await stack.sim.setFault('node-3', 'version_drift', { value: MARKUP, component: 'web' });
    await expect.poll(() => page.locator('tr[data-server="node-3"] td[data-label="Version"]').innerText(), { timeout: 6000 }).toContain(MARKUP);
    expect(await page.locator('tr[data-server="node-3"] img').count()).toBe(0);
    expect(await page.locator('#clusters script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('tr[data-server="node-3"] td[data-label="Version"]').innerText()).toMatch(/out of sync/);
    // A full load, too: the server-rendered page escapes what the fragment escapes.
    await page.reload();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('tr[data-server="node-3"] td[data-label="Version"]').innerText()).toContain(MARKUP);
    await stack.sim.clearFault('node-3');
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

  it('stays readable on a narrow screen', async () => {
    await page.setViewportSize({ width: 380, height: 800 });
    await page.reload();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(380);
    expect(await page.locator('tr[data-server="node-1"] td[data-label="Status"]').isVisible()).toBe(true);
    await page.screenshot({ path: join(outDir, 'status-page-narrow.png'), fullPage: true });
  });
});
