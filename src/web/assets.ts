/** Static files of the status page, served from memory under `static/`. */

const script = `'use strict';
// Replaces the clusters block with a fresh server-rendered copy; no reload, no flicker.
(function () {
  var period = Number(document.body.dataset.refreshMs) || 5000;
  var banner = document.createElement('p');
  banner.className = 'banner';
  banner.setAttribute('role', 'status');
  banner.hidden = true;
  document.body.prepend(banner);
  function refresh() {
    fetch('?fragment=clusters', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (text) {
        var t = document.createElement('template');
        t.innerHTML = text;
        var next = t.content.getElementById('clusters');
        var current = document.getElementById('clusters');
        if (next && current) current.replaceWith(next);
        banner.hidden = true;
      })
      .catch(function () {
        banner.textContent = '\\u26A0 Lost contact with the exporter; showing the last known state.';
        banner.hidden = false;
      })
      .finally(function () { setTimeout(refresh, period); });
  }
  setTimeout(refresh, period);
})();
`;

const style = `
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --idle: #57606a; --line: #d0d7de; --stale: #bf8700; }
@media (prefers-color-scheme: dark) {
  :root { --ok: #3fb950; --warn: #d29922; --bad: #ff7b72; --idle: #9198a1; --line: #3d444d; --stale: #d29922; }
  .banner { background: #3d2e00; color: #f2cc60; }
  a { color: #58a6ff; } a:visited { color: #bc8cff; }
}
html { background: Canvas; color: CanvasText; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 1400px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: .5rem; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
a.grafana { font-size: .8rem; font-weight: normal; margin-left: .5rem; }
a.silence { font-size: .8rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin: 0 0 .75rem; }
.facts div { min-width: 8rem; } .facts dt { font-size: .75rem; color: var(--idle); } .facts dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .6rem; border-bottom: 1px solid var(--line); }
thead th { font-size: .8rem; color: var(--idle); }
.name { white-space: nowrap; }
.badge { font-weight: 600; white-space: nowrap; }
.badge.ok { color: var(--ok); } .badge.warn { color: var(--warn); } .badge.bad { color: var(--bad); } .badge.idle { color: var(--idle); }
.since { white-space: nowrap; font-size: .85rem; }
tr.offline th { border-left: 4px solid var(--bad); }
.reason { font-family: ui-monospace, monospace; font-size: .8rem; overflow-wrap: anywhere; }
.muted { color: var(--idle); font-size: .85rem; }
.version { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
.reported { overflow-wrap: anywhere; }
.strip { display: inline-flex; align-items: flex-end; gap: 1px; height: 14px; margin-top: .25rem; }
.check { display: inline-block; width: 4px; border-radius: 1px; }
.check.up { height: 100%; background: var(--ok); }
.check.stale { height: 66%; background: var(--stale); }
.check.down { height: 33%; background: var(--bad); }
.check.unknown { height: 50%; background: var(--idle); }
.events summary { cursor: pointer; font-weight: 600; margin: .5rem 0; }
.events ol { list-style: none; margin: 0; padding: 0; }
.events li { padding: .15rem 0; overflow-wrap: anywhere; }
.events time { color: var(--idle); font-size: .8rem; display: inline-block; min-width: 6rem; }
.events li.warning .message { color: var(--bad); }
.banner { background: #fff8c5; color: #4d2d00; padding: .5rem; border: 1px solid var(--warn); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
@media (max-width: 760px) {
  thead { display: none; }
  table, tbody, tr, th, td { display: block; width: auto; }
  tr { border: 1px solid var(--line); border-radius: 6px; margin-bottom: .75rem; padding: .25rem 0; }
  th, td { border: 0; padding: .2rem .6rem; }
  td::before { content: attr(data-label) ": "; color: var(--idle); font-size: .8rem; }
  tr.offline th { border-left: 0; color: var(--bad); }
}
`;

// A plain mark in the page's own colours; served so browsers do not ask for a missing /favicon.ico.
const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="9" width="3" height="6" fill="#1a7f37"/><rect x="6.5" y="5" width="3" height="10" fill="#1a7f37"/><rect x="12" y="1" width="3" height="14" fill="#1a7f37"/></svg>`;

export const assets: Readonly<Record<string, { type: string; body: string }>> = {
  'status.js': { type: 'text/javascript; charset=utf-8', body: script },
  'status.css': { type: 'text/css; charset=utf-8', body: style },
  'favicon.svg': { type: 'image/svg+xml', body: favicon },
};
