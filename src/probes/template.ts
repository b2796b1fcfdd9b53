import type { ServerFields } from './types.js';

const FIELD = /\{([a-z_]+(?:\.[A-Za-z0-9_]+)?)\}/g;

/** Names a template may use; checked at load time so a typo fails the config, not the probe. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(FIELD)].map((m) => m[1]!);
}

export function checkTemplate(template: string): string | undefined {
  for (const field of templateFields(template)) {
    if (!['name', 'address', 'site', 'role'].includes(field) && !field.startsWith('labels.')) {
      return `unknown template field {${field}}; use {address}, {name}, {site}, {role} or {labels.NAME}`;
    }
  }
  return undefined;
}

export function expand(template: string, server: ServerFields): string {
  return template.replace(FIELD, (_, field: string) => {
    if (field.startsWith('labels.')) return server.labels[field.slice(7)] ?? '';
    return String(server[field as 'name' | 'address' | 'site' | 'role']);
  });
}
