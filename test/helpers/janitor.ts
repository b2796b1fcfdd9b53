import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * A small process that cleans up after this test worker if the worker dies before its
 * afterAll ran (killed on a timeout, Ctrl-C, a crash). The worker tells it, line by line
 * on its stdin, what it started and made; when that pipe closes (the worker ended,
 * however), the janitor kills the process groups still listed, stops the PostgreSQL
 * postmasters still listed (Patroni starts them detached, out of every group), then
 * removes the directories still listed. A test that cleans up itself takes its entries
 * back, so a normal exit leaves the janitor nothing to do.
 */
export type Mess = 'group' | 'postmaster' | 'dir';

// Runs in a separate node; `+ kind value` lists an entry, `- kind value` takes it back.
const SCRIPT = `
const fs = require('node:fs');
const listed = { group: new Set(), postmaster: new Set(), dir: new Set() };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) {
    const line = buf.slice(0, i);
    const [op, kind] = line.split(' ', 2);
    const value = line.slice(op.length + kind.length + 2);
    if (listed[kind]) listed[kind][op === '+' ? 'add' : 'delete'](value);
  }
});
const alive = (pid) => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};
const kill = (pid, sig) => { try { process.kill(pid, sig); } catch {} };
process.stdin.on('end', () => {
  for (const g of listed.group) kill(-Number(g), 'SIGKILL');
  const postmasters = [];
  for (const dir of listed.postmaster) {
    let pid = 0;
    try { pid = Number(fs.readFileSync(dir + '/postmaster.pid', 'utf8').split('\\n')[0]); } catch {}
    if (pid > 1 && alive(pid)) { kill(pid, 'SIGQUIT'); postmasters.push(pid); }
  }
  const deadline = Date.now() + 10000;
  const finish = () => {
    if (postmasters.some(alive) && Date.now() < deadline) return setTimeout(finish, 200);
    for (const pid of postmasters) if (alive(pid)) kill(pid, 'SIGKILL');
    for (const dir of listed.dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  finish();
});
`;

let janitor: ChildProcess | undefined;

function send(line: string): void {
  if (!janitor) {
    // Its own process group, so a signal to the worker's group leaves it to do its work.
    janitor = spawn(process.execPath, ['-e', SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    janitor.unref();
    (janitor.stdin as Socket).unref();
  }
  janitor.stdin!.write(`${line}\n`);
}

/** Lists something for the janitor to clean up should this worker die first. */
export function listMess(kind: Mess, value: string | number): void {
  send(`+ ${kind} ${value}`);
}

/** Takes an entry back once the test has cleaned it up itself. */
export function cleared(kind: Mess, value: string | number): void {
  send(`- ${kind} ${value}`);
}
