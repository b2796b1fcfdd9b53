import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { nonEmptyText, text } from '../../config/yaml-schema.js';
import { decodeText, readBounded } from './read-file.js';
import { FactError, type FactFields, type FactKind } from './types.js';

/**
 * Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ). Linux fixes it at 100 on
 * every architecture Node runs on (x64, arm64, ppc64le, s390x); Node has no sysconf to ask.
 */
const USER_HZ = 100;
/** The kernel keeps a process name (`comm`) to 15 bytes (TASK_COMM_LEN - 1). */
const COMM_LENGTH = 15;
/** Most of a command line read to match `cmdline_contains`. */
const CMDLINE_LIMIT = 64 * 1024;

const PROC = '/proc';

const schema = z
  .strictObject({
    name: text()
      .refine((v) => v !== '' && !v.includes('/'), { error: 'must be a program name without a path' })
      .meta({ description: 'The program name, as in /proc/<pid>/comm (at most 15 characters are compared).' })
      .optional(),
    cmdline_contains: nonEmptyText().meta({ description: 'Text the command line holds, to tell apart processes of the same name.' }).optional(),
    pid_file: nonEmptyText().meta({ description: 'A file holding the pid, relative to this configuration file.' }).optional(),
  })
  .check((ctx) => {
    const v = ctx.value;
    if (v.name === undefined && v.pid_file === undefined) ctx.issues.push({ code: 'custom', input: v, message: 'needs "name" or "pid_file"' });
    if (v.cmdline_contains !== undefined && v.name === undefined) ctx.issues.push({ code: 'custom', input: v, path: ['cmdline_contains'], message: 'needs "name"' });
  })
  .meta({ description: 'Whether a program runs (Linux): {state, running, count, pid, startTime}.' });

interface Match {
  readonly pid: number;
  readonly startTicks: number;
}

/**
 * `process`: whether a program runs, found by its name (`name`, as in
 * `/proc/<pid>/comm`, optionally narrowed by `cmdline_contains`) or by a `pid_file`.
 * Reports `{state: "running" | "stopped", running, count, pid, startTime}`: the number of
 * matching processes, and the pid and start time (seconds since the epoch, from
 * `/proc/<pid>/stat` field 22 and `btime` in `/proc/stat`) of the oldest. A pid file whose
 * process is gone is the error `stale_pid_file`. Needs `/proc` (Linux): elsewhere
 * `unsupported`. The executable's path (`/proc/<pid>/exe`) is not used: reading it needs
 * the rights of the process's owner, which an unprivileged agent lacks.
 */
export const processFact: FactKind<typeof schema> = {
  schema,
  build(settings, ctx) {
    const comm = settings.name?.slice(0, COMM_LENGTH);
    const contains = settings.cmdline_contains;
    const pidFile = settings.pid_file === undefined ? undefined : resolve(ctx.baseDir, settings.pid_file);
    return async () => {
      if (process.platform !== 'linux') throw new FactError('unsupported', 'process facts need /proc (Linux)');
      const bootSeconds = await bootTime();
      if (pidFile !== undefined) return report([await fromPidFile(pidFile, comm, ctx.fileSizeLimit)], bootSeconds);
      return report(await scan(comm!, contains), bootSeconds);
    };
  },
};

function report(matches: readonly Match[], bootSeconds: number): FactFields {
  const oldest = matches.reduce<Match | undefined>((a, m) => (a === undefined || m.startTicks < a.startTicks ? m : a), undefined);
  return {
    state: oldest ? 'running' : 'stopped',
    running: oldest !== undefined,
    count: matches.length,
    pid: oldest?.pid ?? null,
    startTime: oldest ? bootSeconds + oldest.startTicks / USER_HZ : null,
  };
}

/** Boot time in seconds since the epoch (`btime` in `/proc/stat`). */
async function bootTime(): Promise<number> {
  const m = /^btime (\d+)$/m.exec(decodeText(await readBounded(`${PROC}/stat`, 1024 * 1024)));
  if (!m) throw new FactError('error', 'no btime in /proc/stat');
  return Number(m[1]);
}

/**
 * Start time of a process in clock ticks since boot, or undefined when it is gone. The
 * name in `stat` is in parentheses and may hold spaces and parentheses itself, so fields
 * are counted from the last `)`: field 22 (starttime) is the 20th after it.
 */
function startTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${PROC}/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`${PROC}/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Every process whose name is `comm`; one that exits while looked at is skipped. `/proc`
 * is read synchronously: its files are made by the kernel in memory, and a thread-pool
 * round trip per process made a scan many times slower (bench/RESULTS.md, the agent).
 */
async function scan(comm: string, contains: string | undefined): Promise<Match[]> {
  const matches: Match[] = [];
  for (const entry of readdirSync(PROC)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (commOf(pid) !== comm) continue;
    if (contains !== undefined) {
      let cmdline: string;
      try {
        cmdline = (await readBounded(`${PROC}/${pid}/cmdline`, CMDLINE_LIMIT)).toString('utf8').replaceAll('\0', ' ');
      } catch {
        continue;
      }
      if (!cmdline.includes(contains)) continue;
    }
    const ticks = startTicks(pid);
    if (ticks !== undefined) matches.push({ pid, startTicks: ticks });
  }
  return matches;
}

async function fromPidFile(file: string, comm: string | undefined, limit: number): Promise<Match> {
  const text = decodeText(await readBounded(file, limit)).trim();
  if (!/^\d{1,10}$/.test(text)) throw new FactError('malformed', 'the pid file holds no pid');
  const pid = Number(text);
  const ticks = pid > 0 ? startTicks(pid) : undefined;
  if (ticks === undefined) throw new FactError('stale_pid_file', `pid ${pid} from the pid file is not running`);
  if (comm !== undefined && commOf(pid) !== comm) {
    throw new FactError('stale_pid_file', `pid ${pid} from the pid file runs another program`);
  }
  return { pid, startTicks: ticks };
}
