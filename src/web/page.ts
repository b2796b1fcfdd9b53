import { formatDuration, type ClusterEvent } from '../evaluate/events.js';
import type { ClusterStatus, ComponentStatus, ServerStatus, Snapshot } from '../evaluate/snapshot.js';
import { html, type SafeHtml } from './html.js';

export interface PageOptions {
  /** Base URL of a Grafana that has the bundled dashboards; adds links when set. */
  readonly grafanaUrl?: string;
  /** Base URL of an Alertmanager; each Offline server links to a new silence for it. */
  readonly alertmanagerUrl?: string;
}


const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

function badge(kind: 'ok' | 'warn' | 'bad' | 'idle', icon: string, word: string): SafeHtml {
  return html`<span class="badge ${kind}"><span aria-hidden="true">${icon}</span> ${word}</span>`;
}

const muted = (text: string): SafeHtml => html`<span class="muted">${text}</span>`;
/** Nothing of this kind is read for the cluster: not the same as "unknown" (read, not reported yet). */
const NOT_CONFIGURED = (): SafeHtml => muted('not configured');
const UNKNOWN = (): SafeHtml => muted('unknown');

/** The one wording of every sync mark on the page. */
function syncMark(inSync: boolean, noMajority = false): SafeHtml {
  return inSync ? badge('ok', '✔', 'In sync') : badge('bad', '⚠', noMajority ? 'Out of sync (no majority)' : 'Out of sync');
}

function serverBadge(s: ServerStatus): SafeHtml {
  if (s.state === 'online') return badge('ok', '✔', 'Online');
  if (s.state === 'pending') return badge('idle', '…', 'Checking');
  return badge(s.role === 'standby' ? 'warn' : 'bad', '✖', 'Offline');
}

/** "for 3m 10s": how long the server has been in its state, as this exporter saw it. */
function since(s: ServerStatus, now: number): SafeHtml | '' {
  if (s.since === null || s.state === 'pending') return '';
  return html` <span class="since" title="since ${iso(s.since)} (as judged by this exporter; a restart starts over)">for ${formatDuration(now - s.since)}</span>`;
}

/** The server's clock offset, once it is a second or more: "clock 10m 0s ahead". */
function clockSkew(s: ServerStatus): SafeHtml | '' {
  const offset = s.clockOffsetSeconds;
  if (offset === null || Math.abs(offset) < 1) return '';
  return html`<br><span class="muted clock" title="the server's clock against the exporter's, as its heartbeats or node time show it">clock ${formatDuration(Math.abs(offset))} ${offset > 0 ? 'ahead' : 'behind'}</span>`;
}

/**
 * The matchers that silence one server's alerts: its `app_cluster` and `server` labels,
 * values quoted as JSON strings (what Alertmanager's UI reads, Utils/Filter.elm, and its
 * matcher parser accepts).
 */
export function silenceMatchers(cluster: string, server: string): string[] {
  return [`app_cluster=${JSON.stringify(cluster)}`, `server=${JSON.stringify(server)}`];
}

/**
 * The Alertmanager UI's new-silence form pre-filled with a server's matchers: the route
 * `#/silences/new?filter={m1, m2}`, percent-encoded (Alertmanager 0.25,
 * ui/app/src/Views/SilenceForm/Parsing.elm).
 */
export function silenceUrl(alertmanagerUrl: string, cluster: string, server: string): string {
  const filter = `{${silenceMatchers(cluster, server).join(', ')}}`;
  return `${alertmanagerUrl.replace(/\/+$/, '')}/#/silences/new?filter=${encodeURIComponent(filter)}`;
}

/** The strip of recent checks: full bars up, two-thirds stale, half unknown, one-third down (shape, not colour alone). */
function strip(c: ComponentStatus): SafeHtml | '' {
  if (c.recent.length === 0) return '';
  const counts = { up: 0, stale: 0, down: 0, unknown: 0 };
  const marks = [...c.recent].map((r) => {
    counts[r.result]++;
    const what = r.result === 'down' || r.result === 'unknown' ? `${r.result}: ${r.reason ?? 'error'}` : r.result;
    return html`<span class="check ${r.result}" title="${iso(r.at)} ${what}"></span>`;
  });
  const label = `Last ${c.recent.length} checks: ${counts.up} up, ${counts.stale} stale, ${counts.down} down${counts.unknown ? `, ${counts.unknown} unknown` : ''}`;
  return html`<br><span class="strip" role="img" aria-label="${label}" title="${label}">${marks}</span>`;
}

function componentCell(c: ComponentStatus | undefined, cluster: ClusterStatus, now: number): SafeHtml {
  if (!c) return muted('not run');
  const state =
    c.state === 'up'
      ? badge('ok', '✔', 'Up')
      : c.state === 'stale'
        ? badge('warn', '⚠', 'Stale')
        : c.state === 'down'
          ? badge('bad', '✖', 'Down')
          : c.state === 'unknown'
            ? badge('warn', '?', 'Cannot authenticate')
            : badge('idle', '…', 'Checking');
  const why = c.state === 'down' || c.state === 'unknown' ? html` <span class="reason">${c.reason}${c.detail ? ` (${c.detail})` : ''}</span>` : '';
  const age =
    c.heartbeatAgeSeconds === null
      ? ''
      : html`<br><span class="muted" title="${c.lastHeartbeat === null ? '' : iso(c.lastHeartbeat)}">heartbeat ${formatDuration(c.heartbeatAgeSeconds)} ago</span>`;
  // The web tier's 24 h next to the cluster's 5 min: the heartbeat age alone would mislead.
  const timeout = c.staleTimeoutSeconds === cluster.staleTimeoutSeconds ? '' : html` <span class="muted stale-timeout">(stale after ${formatDuration(c.staleTimeoutSeconds)})</span>`;
  // Without it, the age above would pass the last probe off as the reported heartbeat.
  const problem = c.heartbeatProblem === null ? '' : html`<br><span class="reason" title="the last successful probe stands in">${c.heartbeatProblem}</span>`;
  const optional = c.required ? '' : html` ${muted('(optional)')}`;
  // Facts and workload figures the component reports: "role primary", "sessions 4".
  const facts = Object.entries(c.facts);
  const values = Object.entries(c.values);
  // Facts of an answer from before the component went quiet: last known, with their age.
  const lastKnown =
    c.factsLastKnownAt === null || facts.length === 0
      ? ''
      : html` <span class="muted last-known" title="the last answer read, ${iso(c.factsLastKnownAt)}; not current">(last known, ${formatDuration(now - c.factsLastKnownAt)} ago)</span>`;
  const reported =
    facts.length + values.length === 0
      ? ''
      : html`<br><span class="reported${c.factsLastKnownAt === null ? '' : ' last-known'}">${[...facts, ...values].map(([k, v], i) => html`${i ? ', ' : ''}<span data-fact="${k}">${k} <b>${String(v)}</b></span>`)}</span>${lastKnown}`;
  const problems = c.problems.length === 0 ? '' : html`<br><span class="reason" title="configured, but not in the answer">${c.problems.join('; ')}</span>`;
  return html`${state}${optional}${why}${age}${timeout}${problem}${reported}${problems}${strip(c)}`;
}

/**
 * A setting the configuration file holds and no product API publishes (`load_balancing`,
 * `automatic_failover`): "on (as configured)", "off (as configured)", or "not set" when
 * the file leaves it out, never "off" for a setting nobody gave.
 */
function configured(value: boolean | null, key: string): SafeHtml {
  if (value === null) return html`<span class="muted" title="${key} is not set in the configuration file; no API of the product publishes it">not set</span>`;
  return html`${value ? 'on' : 'off'} ${muted('(as configured)')}`;
}

/** Automatic failover as configured, unless the product says it is paused (a configured "on" would then be a false all-clear). */
function failoverState(c: ClusterStatus): SafeHtml {
  if (c.automaticFailoverPausedBy.length > 0) return html`${badge('warn', '⏸', 'paused')} maintenance mode ${muted(`(reported by ${c.automaticFailoverPausedBy.join(', ')})`)}`;
  return configured(c.automaticFailover, 'automatic_failover');
}

function expectationLine(e: ClusterStatus['expectations'][number]): SafeHtml {
  const label = e.name === 'min_servers_online' ? 'Minimum online' : e.name;
  const mark = e.met === null ? badge('idle', '…', 'checking') : e.met ? badge('ok', '✔', 'met') : badge('bad', '⚠', 'not met');
  return html`<div data-expectation="${e.name}"><dt>${label}</dt><dd>${mark} ${muted(e.summary)}</dd></div>`;
}

function versionCell(s: ServerStatus, cluster: ClusterStatus): SafeHtml {
  if (!s.reads.version) return NOT_CONFIGURED();
  const known = s.components.filter((c) => c.version !== null);
  if (known.length === 0) return UNKNOWN();
  const versions = [...new Set(known.map((c) => c.version!))].map((v) => {
    // Last known: every component reporting it has since gone quiet (down, or no longer says).
    const lastKnown = known.filter((c) => c.version === v).every((c) => c.versionLastKnown);
    return html`<span class="version">${v}</span>${lastKnown ? html` <span class="muted last-known" title="the component has stopped answering">(last known)</span>` : ''}`;
  });
  const compared = known.filter((c) => c.versionInSync !== null);
  if (compared.length === 0) return html`${versions.map((v, i) => html`${i ? ', ' : ''}${v}`)}`;
  const noMajority = compared.some((c) => c.versionInSync === false && cluster.versionsWithoutMajority.includes(c.name));
  return html`${versions.map((v, i) => html`${i ? ', ' : ''}${v}`)} ${syncMark(compared.every((c) => c.versionInSync === true), noMajority)}`;
}

function keyCell(s: ServerStatus, cluster: ClusterStatus): SafeHtml {
  if (!s.reads.key) return NOT_CONFIGURED();
  const known = s.components.filter((c) => c.keyInSync !== null);
  if (known.length === 0) return UNKNOWN();
  const inSync = known.every((c) => c.keyInSync);
  return syncMark(inSync, !inSync && cluster.keyWithoutMajority);
}

function lastProbe(s: ServerStatus, now: number): SafeHtml {
  const times = s.components.map((c) => c.lastProbe).filter((t): t is number => t !== null);
  if (times.length === 0) return muted('never');
  const t = Math.max(...times);
  return html`<time datetime="${iso(t)}" title="${iso(t)}">${formatDuration(Math.max(0, now - t))} ago</time>`;
}

/** Days before a certificate's expiry at which the page warns, and calls it urgent: the alerts' thresholds (alerts/alert-rules.yml). */
const CERT_WARN_SECONDS = 14 * 86400;
const CERT_URGENT_SECONDS = 3 * 86400;

/** Whether any component of the cluster was served a certificate at its last probe: the Certificate column shows then. */
const servesTls = (c: ClusterStatus): boolean => c.servers.some((s) => s.components.some((x) => x.tlsCertExpiry !== null));

/** The server's leaf certificate that expires first, among its components' TLS endpoints at their last probe. */
function certCell(s: ServerStatus, now: number): SafeHtml {
  let first: ComponentStatus | undefined;
  for (const c of s.components) if (c.tlsCertExpiry !== null && (first === undefined || c.tlsCertExpiry < first.tlsCertExpiry!)) first = c;
  if (first === undefined) return UNKNOWN();
  const at = first.tlsCertExpiry!;
  const left = at - now;
  const title = `${first.name}: expires ${iso(at)}`;
  const mark = left <= 0 ? badge('bad', '✖', 'expired') : left < CERT_URGENT_SECONDS ? badge('bad', '⚠', `expires in ${formatDuration(left)}`) : left < CERT_WARN_SECONDS ? badge('warn', '⚠', `expires in ${formatDuration(left)}`) : html`expires in ${formatDuration(left)}`;
  return html`<span class="cert" title="${title}">${mark}</span>`;
}

function grafanaLink(opts: PageOptions, path: string, text: string): SafeHtml | '' {
  if (!opts.grafanaUrl) return '';
  return html` <a class="grafana" href="${opts.grafanaUrl.replace(/\/$/, '')}${path}">${text}</a>`;
}

function silenceLink(opts: PageOptions, cluster: string, s: ServerStatus): SafeHtml | '' {
  if (!opts.alertmanagerUrl || s.state !== 'offline') return '';
  return html`<br><a class="silence" href="${silenceUrl(opts.alertmanagerUrl, cluster, s.name)}" target="_blank" rel="noopener noreferrer" aria-label="Silence in Alertmanager: ${s.name}">Silence in Alertmanager</a>`;
}

function eventList(list: readonly ClusterEvent[], now: number, title: string, label: string): SafeHtml | '' {
  if (list.length === 0) return '';
  return html`<details class="events" open><summary>${title}</summary>
<ol aria-label="${label}">${list.map(
    (e) => html`<li class="event ${e.severity}" data-kind="${e.kind}"><time datetime="${iso(e.time)}" title="${iso(e.time)}">${formatDuration(Math.max(0, now - e.time))} ago</time> ${e.severity === 'warning' ? html`<span aria-hidden="true">⚠</span> ` : ''}<span class="message">${e.message}</span></li>`,
  )}</ol></details>`;
}

function clusterSection(c: ClusterStatus, now: number, opts: PageOptions): SafeHtml {
  const names = [...new Set(c.servers.flatMap((s) => s.components.map((x) => x.name)))];
  const q = (v: string) => encodeURIComponent(v);
  const keyState = !c.reads.key
    ? NOT_CONFIGURED()
    : c.keyFingerprints === 0
      ? UNKNOWN()
      : c.keyFingerprints === 1
        ? syncMark(true)
        : html`${syncMark(false, c.keyWithoutMajority)} ${muted(`(${c.keyFingerprints} different keys)`)}`;
  // Servers not judged yet are being checked, not down: no red count before the first round is in.
  const online =
    c.serversPending > 0
      ? badge('idle', '…', `checking ${c.serversPending} ${c.serversPending === 1 ? 'server' : 'servers'}`)
      : c.serversOnline < c.serversTotal
        ? badge('bad', '⚠', `${c.serversOnline} of ${c.serversTotal}`)
        : badge('ok', '✔', `${c.serversOnline} of ${c.serversTotal}`);
  const tls = servesTls(c);
  const rows = c.servers.map(
    (s) => html`<tr class="server ${s.state}" data-server="${s.name}">
<th scope="row" data-label="Server"><span class="name">${s.name}</span>${grafanaLink(opts, `/d/appcluster-server?var-app_cluster=${q(c.name)}&var-server=${q(s.name)}`, 'dashboard')}</th>
<td data-label="Address">${s.address}</td>
<td data-label="OS">${!s.reads.os ? NOT_CONFIGURED() : (s.os ?? UNKNOWN())}</td>
<td data-label="Site">${s.site}</td>
<td data-label="Role">${s.role}</td>
<td data-label="Status" class="status">${serverBadge(s)}${since(s, now)}${s.reason ? html`<br><span class="reason">${s.reason}</span>` : ''}${clockSkew(s)}${silenceLink(opts, c.name, s)}</td>
${names.map((n) => html`<td data-label="${n}" class="component" data-component="${n}">${componentCell(s.components.find((x) => x.name === n), c, now)}</td>`)}
<td data-label="Version">${versionCell(s, c)}</td>
<td data-label="Key">${keyCell(s, c)}</td>
<td data-label="Last probe">${lastProbe(s, now)}</td>
${tls ? html`<td data-label="Certificate">${certCell(s, now)}</td>` : ''}
</tr>`,
  );
  const refs = Object.entries(c.referenceVersions);
  // A component name whose versions disagree with no strict majority has no reference: said so.
  const references: [string, string][] = [...refs, ...c.versionsWithoutMajority.map((k): [string, string] => [k, 'no majority'])];
  const reference = !c.reads.version ? NOT_CONFIGURED() : references.length === 0 ? UNKNOWN() : html`${references.map(([k, v], i) => html`${i ? ', ' : ''}${k} ${v}`)}${c.expectedVersion ? ' (expected)' : ''}`;
  return html`<section class="cluster" data-cluster="${c.name}">
<h2>${c.name}${grafanaLink(opts, `/d/appcluster-overview?var-app_cluster=${q(c.name)}`, 'Grafana dashboard')}</h2>
<dl class="facts">
<div data-fact-row="online"><dt>Servers online</dt><dd>${online}</dd></div>
<div data-fact-row="load-balancing"><dt>Load balancing</dt><dd>${configured(c.loadBalancing, 'load_balancing')}</dd></div>
<div data-fact-row="automatic-failover"><dt>Automatic failover</dt><dd>${failoverState(c)}</dd></div>
<div><dt>Heartbeat interval</dt><dd>${formatDuration(c.heartbeatIntervalSeconds)}</dd></div>
<div><dt>Stale timeout</dt><dd>${formatDuration(c.staleTimeoutSeconds)}</dd></div>
<div><dt>Reference version</dt><dd>${reference}</dd></div>
<div><dt>Encryption key</dt><dd>${keyState}</dd></div>
${c.expectations.map(expectationLine)}
</dl>
<div class="table-wrap"><table>
<caption class="sr-only">Servers of cluster ${c.name}</caption>
<thead><tr><th scope="col">Server</th><th scope="col">Address</th><th scope="col">OS</th><th scope="col">Site</th><th scope="col">Role</th><th scope="col">Status</th>${names.map((n) => html`<th scope="col">${n}</th>`)}<th scope="col">Version</th><th scope="col">Key</th><th scope="col">Last probe</th>${tls ? html`<th scope="col">Certificate</th>` : ''}</tr></thead>
<tbody>${rows}</tbody>
</table></div>
${eventList(c.recentEvents, now, 'Recent events', `Recent events of cluster ${c.name}, newest first`)}
</section>`;
}

/** The part of the page that refreshes: every cluster, and the exporter's own events. */
export function renderClusters(snapshot: Snapshot, opts: PageOptions): SafeHtml {
  const now = snapshot.generatedAt;
  return html`<div id="clusters" data-generated="${iso(now)}">
${snapshot.clusters.map((c) => clusterSection(c, now, opts))}
${eventList(snapshot.recentEvents, now, 'Exporter events', 'Events of the exporter itself, newest first')}
<p class="muted">Updated <time datetime="${iso(now)}">${iso(now)}</time>. Events are kept in memory and lost on restart; Prometheus keeps the history.</p>
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
<link rel="icon" href="static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="static/status.css">
<script src="static/status.js" defer></script>
</head>
<body data-refresh-ms="${refreshMs}">
<header><h1>Cluster status</h1>
<nav aria-label="Other views"><a href="metrics">Metrics</a> · <a href="api/v1/status">JSON</a> · <a href="api/v1/events">Events</a>${opts.grafanaUrl ? html` · <a href="${opts.grafanaUrl}">Grafana</a>` : ''}${opts.alertmanagerUrl ? html` · <a href="${opts.alertmanagerUrl}">Alertmanager</a>` : ''}</nav></header>
<main>${renderClusters(snapshot, opts)}</main>
</body>
</html>`;
}
