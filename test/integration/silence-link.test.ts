import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silenceMatchers, silenceUrl } from '../../src/web/page.js';
import { freePort, startAlertmanager, type Service } from '../helpers/services.js';
import { requireTool } from '../helpers/tools.js';

// Debian's Alertmanager ships without its web UI, so the form itself cannot be opened here;
// the matchers the link pre-fills are checked against Alertmanager's own matcher parser
// (amtool) and the silence it stores.
describe('the silence link of an Offline server', () => {
  let am: Service;
  beforeAll(async () => {
    am = await startAlertmanager({ smtpPort: await freePort() });
  });
  afterAll(async () => {
    await am?.stop();
  });

  it.each([
    ['plain names', 'mft-prod', 'node-2'],
    ['quotes, commas, backslashes, markup and non-ASCII', 'c "1", x', 'node\\2 <b>&amp; ü'],
  ])('pre-fills matchers Alertmanager parses back to the labels: %s', async (_, cluster, server) => {
    const url = silenceUrl(am.url, cluster, server);
    const filter = decodeURIComponent(new URL(url).hash.split('filter=')[1]!);
    const matchers = silenceMatchers(cluster, server);
    expect(filter).toBe(`{${matchers.join(', ')}}`);
    const r = spawnSync(requireTool('amtool'), [`--alertmanager.url=${am.url}`, 'silence', 'add', '--author=test', '--comment=maintenance', '--duration=1h', ...matchers], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const id = r.stdout.trim();
    const silence = (await (await fetch(`${am.url}/api/v2/silence/${id}`)).json()) as { matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[] };
    expect(silence.matchers.map((m) => [m.name, m.value, m.isRegex, m.isEqual])).toEqual([
      ['app_cluster', cluster, false, true],
      ['server', server, false, true],
    ]);
  });
});
