import type { ClusterStatus, ComponentStatus, ServerStatus, Snapshot } from '../evaluate/snapshot.js';
import { html, type SafeHtml } from './html.js';

export interface PageOptions {
  /** Base URL of a Grafana that has the bundled dashboards; adds links when set. */
  readonly grafanaUrl?: string;
}

/** Seconds as a short age: `4s`, `3m 10s`, `2h 5m`, `3d 4h`. */
export function formatAge(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

function badge(kind: 'ok' | 'warn' | 'bad' | 'idle', icon: string, word: string): SafeHtml {
  return html`<span class="badge ${kind}"><span aria-hidden="true">${icon}</span> ${word}</span>`;
}

function serverBadge(s: ServerStatus): SafeHtml {
  if (s.state === 'online') return badge('ok', '✔', 'Online');
  if (s.state === 'pending') return badge('idle', '…', 'Pending');
  return badge(s.role === 'standby' ? 'warn' : 'bad', '✖', 'Offline');
}

function componentCell(c: ComponentStatus | undefined): SafeHtml {
  if (!c) return html`<span class="muted">not run</span>`;
  const state =
    c.state === 'up'
      ? badge('ok', '✔', 'Up')
      : c.state === 'stale'
        ? badge('warn', '⚠', 'Stale')
        : c.state === 'down'
          ? badge('bad', '✖', 'Down')
          : badge('idle', '…', 'Pending');
  const why = c.state === 'down' ? html` <span class="reason">${c.reason}${c.detail ? ` (${c.detail})` : ''}</span>` : '';
  const age =
    c.heartbeatAgeSeconds === null
      ? ''
      : html`<br><span class="muted" title="${c.lastHeartbeat === null ? '' : iso(c.lastHeartbeat)}">heartbeat ${formatAge(c.heartbeatAgeSeconds)} ago</span>`;
  // Without it, the age above would pass the last probe off as the reported heartbeat.
  const problem = c.heartbeatProblem === null ? '' : html`<br><span class="reason" title="the last successful probe stands in">${c.heartbeatProblem}</span>`;
  const optional = c.required ? '' : html` <span class="muted">(optional)</span>`;
  // Facts and workload figures the component reports: "role primary", "sessions 4".
  const facts = Object.entries(c.facts);
  const values = Object.entries(c.values);
  const reported =
    facts.length + values.length === 0
      ? ''
      : html`<br><span class="reported">${[...facts, ...values].map(([k, v], i) => html`${i ? ', ' : ''}<span data-fact="${k}">${k} <b>${String(v)}</b></span>`)}</span>`;
  const problems = c.problems.length === 0 ? '' : html`<br><span class="reason" title="configured, but not in the answer">${c.problems.join('; ')}</span>`;
  return html`${state}${optional}${why}${age}${problem}${reported}${problems}`;
}

function expectationLine(e: ClusterStatus['expectations'][number]): SafeHtml {
  const label = e.name === 'min_servers_online' ? 'Minimum online' : e.name;
  const mark = e.met === null ? badge('idle', '…', 'checking') : e.met ? badge('ok', '✔', 'met') : badge('bad', '⚠', 'not met');
  return html`<div data-expectation="${e.name}"><dt>${label}</dt><dd>${mark} <span class="muted">${e.summary}</span></dd></div>`;
}

function syncMark(inSync: boolean | null, good: string, badWord: string): SafeHtml {
  if (inSync === null) return html`<span class="muted">unknown</span>`;
  return inSync ? badge('ok', '✔', good) : badge('bad', '⚠', badWord);
}

function versionCell(s: ServerStatus): SafeHtml {
  const known = s.components.filter((c) => c.version !== null);
  if (known.length === 0) return html`<span class="muted">unknown</span>`;
  const versions = [...new Set(known.map((c) => c.version!))];
  const inSync = known.every((c) => c.versionInSync !== false);
  return html`<span class="version">${versions.join(', ')}</span> ${syncMark(inSync, 'in sync', 'out of sync')}`;
}

function keyCell(s: ServerStatus): SafeHtml {
  const known = s.components.filter((c) => c.keyInSync !== null);
  if (known.length === 0) return html`<span class="muted">unknown</span>`;
  return syncMark(known.every((c) => c.keyInSync), 'In sync', 'Out of sync');
}

function lastProbe(s: ServerStatus, now: number): SafeHtml {
  const times = s.components.map((c) => c.lastProbe).filter((t): t is number => t !== null);
  if (times.length === 0) return html`<span class="muted">never</span>`;
  const t = Math.max(...times);
  return html`<time datetime="${iso(t)}" title="${iso(t)}">${formatAge(Math.max(0, now - t))} ago</time>`;
}

function grafanaLink(opts: PageOptions, path: string, text: string): SafeHtml | '' {
  if (!opts.grafanaUrl) return '';
  return html` <a class="grafana" href="${opts.grafanaUrl.replace(/\/$/, '')}${path}">${text}</a>`;
}

function clusterSection(c: ClusterStatus, now: number, opts: PageOptions): SafeHtml {
  const names = [...new Set(c.servers.flatMap((s) => s.components.map((x) => x.name)))];
  const q = (v: string) => encodeURIComponent(v);
  const keyState =
    c.keyFingerprints === 0
      ? html`<span class="muted">unknown</span>`
      : c.keyFingerprints === 1
        ? badge('ok', '✔', 'In sync')
        : badge('bad', '⚠', `${c.keyFingerprints} different keys`);
  const degraded = c.serversOnline < c.serversTotal;
  const rows = c.servers.map(
    (s) => html`<tr class="server ${s.state}" data-server="${s.name}">
<th scope="row" data-label="Server">${s.name}${grafanaLink(opts, `/d/appcluster-server?var-app_cluster=${q(c.name)}&var-server=${q(s.name)}`, 'dashboard')}</th>
<td data-label="Address">${s.address}</td>
<td data-label="OS">${s.os ?? html`<span class="muted">unknown</span>`}</td>
<td data-label="Site">${s.site}</td>
<td data-label="Role">${s.role}</td>
<td data-label="Status" class="status">${serverBadge(s)}${s.reason ? html`<br><span class="reason">${s.reason}</span>` : ''}</td>
${names.map((n) => html`<td data-label="${n}" class="component" data-component="${n}">${componentCell(s.components.find((x) => x.name === n))}</td>`)}
<td data-label="Version">${versionCell(s)}</td>
<td data-label="Key">${keyCell(s)}</td>
<td data-label="Last probe">${lastProbe(s, now)}</td>
</tr>`,
  );
  const refs = Object.entries(c.referenceVersions);
  return html`<section class="cluster" data-cluster="${c.name}">
<h2>${c.name}${grafanaLink(opts, `/d/appcluster-overview?var-app_cluster=${q(c.name)}`, 'Grafana dashboard')}</h2>
<dl class="facts">
<div><dt>Servers online</dt><dd>${degraded ? badge('bad', '⚠', `${c.serversOnline} of ${c.serversTotal}`) : badge('ok', '✔', `${c.serversOnline} of ${c.serversTotal}`)}</dd></div>
<div><dt>Load balancing</dt><dd>${c.loadBalancing ? 'on' : 'off'}</dd></div>
<div><dt>Automatic failover</dt><dd>${c.automaticFailover ? 'on' : 'off'}</dd></div>
<div><dt>Heartbeat interval</dt><dd>${formatAge(c.heartbeatIntervalSeconds)}</dd></div>
<div><dt>Stale timeout</dt><dd>${formatAge(c.staleTimeoutSeconds)}</dd></div>
<div><dt>Reference version</dt><dd>${refs.length === 0 ? html`<span class="muted">unknown</span>` : refs.map(([k, v], i) => html`${i ? ', ' : ''}${k} ${v}`)}${c.expectedVersion ? ' (expected)' : ''}</dd></div>
<div><dt>Encryption key</dt><dd>${keyState}</dd></div>
${c.expectations.map(expectationLine)}
</dl>
<div class="table-wrap"><table>
<caption class="sr-only">Servers of cluster ${c.name}</caption>
<thead><tr><th scope="col">Server</th><th scope="col">Address</th><th scope="col">OS</th><th scope="col">Site</th><th scope="col">Role</th><th scope="col">Status</th>${names.map((n) => html`<th scope="col">${n}</th>`)}<th scope="col">Version</th><th scope="col">Key</th><th scope="col">Last probe</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>
</section>`;
}

/** The part of the page that refreshes: every cluster. */
export function renderClusters(snapshot: Snapshot, opts: PageOptions): SafeHtml {
  const now = snapshot.generatedAt;
  return html`<div id="clusters" data-generated="${iso(now)}">
${snapshot.clusters.map((c) => clusterSection(c, now, opts))}
<p class="muted">Updated <time datetime="${iso(now)}">${iso(now)}</time>.</p>
</div>`;
}

/** The whole status page. Refresh period in ms comes from the shortest heartbeat interval. */
export function renderPage(snapshot: Snapshot, opts: PageOptions): SafeHtml {
  const shortest = Math.min(...snapshot.clusters.map((c) => c.heartbeatIntervalSeconds), 15);
  const refreshMs = Math.round(Math.min(5, Math.max(1, shortest / 3)) * 1000);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cluster status · appcluster-exporter</title>
<link rel="stylesheet" href="static/status.css">
<script src="static/status.js" defer></script>
</head>
<body data-refresh-ms="${refreshMs}">
<header><h1>Cluster status</h1>
<nav><a href="metrics">Metrics</a> · <a href="api/v1/status">JSON</a>${opts.grafanaUrl ? html` · <a href="${opts.grafanaUrl}">Grafana</a>` : ''}</nav></header>
<main>${renderClusters(snapshot, opts)}</main>
</body>
</html>`;
}
