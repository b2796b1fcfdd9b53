import { pino, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LOG_FORMATS = ['logfmt', 'json'] as const;

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

/** Turns one pino JSON line into `ts=... level=... msg=... key=value` (the Prometheus default). */
export function toLogfmt(line: string): string {
  const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
  const parts = [`ts=${new Date(Number(time)).toISOString()}`, `level=${String(level)}`];
  if (msg !== undefined) parts.push(`msg=${logfmtValue(msg)}`);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${logfmtValue(v)}`);
  return `${parts.join(' ')}\n`;
}

export function createLogger(
  level: (typeof LOG_LEVELS)[number] = 'info',
  format: (typeof LOG_FORMATS)[number] = 'logfmt',
  out: { write(s: string): unknown } = process.stdout,
): Logger {
  const destination = format === 'json' ? out : { write: (line: string) => out.write(toLogfmt(line)) };
  return pino(
    {
      level,
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach the logger; these paths are a second guard for headers and auth.
      redact: { paths: ['*.authorization', '*.password', '*.token', 'headers'], censor: '<secret>' },
    },
    destination,
  );
}
