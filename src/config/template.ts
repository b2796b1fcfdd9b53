import { isIP } from 'node:net';
import type { ServerFields } from './types.js';

const FIELD = /\{([a-z_]+(?:\.[A-Za-z0-9_]+)?)\}/g;

/**
 * Raised by `expand` when a template cannot be filled in for one server (a label the server
 * does not have). The configuration loader turns it into an error naming the server.
 */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

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

/**
 * Fills a template in with one server's fields, as configured.
 * @throws TemplateError when the template names a label the server does not have.
 */
export function expand(template: string, server: ServerFields): string {
  return template.replace(FIELD, (_, field: string) => {
    if (!field.startsWith('labels.')) return String(server[field as 'name' | 'address' | 'site' | 'role']);
    const value = server.labels[field.slice(7)];
    if (value === undefined) throw new TemplateError(`uses {${field}}, but the server has no label "${field.slice(7)}"`);
    return value;
  });
}

/** An address or host as a socket connects to it: IPv6 without brackets (`[::1]` -> `::1`). */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** An address or host as the host part of a URL: IPv6 in brackets (`::1` -> `[::1]`). */
export function urlHost(host: string): string {
  const bare = bareHost(host);
  return isIP(bare) === 6 ? `[${bare}]` : bare;
}

/**
 * Whether text is an address a probe can connect to: IPv4, IPv6 with or without brackets,
 * or a host name (RFC 1123 labels). Returns what is wrong, or undefined.
 */
export function checkAddress(address: string): string | undefined {
  const bare = bareHost(address);
  if (isIP(bare) !== 0) return undefined;
  if (bare !== address) return `"${address}" has brackets but is not an IPv6 address`;
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (address.length <= 253 && address.replace(/\.$/, '').split('.').every((l) => label.test(l))) return undefined;
  return `"${address}" is not an IPv4 or IPv6 address or a host name`;
}

/**
 * Expands a URL template for one server. In the URL's authority (between `//` and the
 * path), `{address}` and `[{address}]` both become the address in URL form, so an IPv6
 * address gets its brackets whether or not the configuration wrote them; elsewhere in the
 * URL (a path naming the server) fields are put in as configured.
 * @throws TemplateError as `expand` does.
 */
export function expandUrl(template: string, server: ServerFields): string {
  const authority = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(template);
  if (!authority) return expand(template, server);
  const host = authority[2]!.replace(/\[?\{address\}\]?/g, urlHost(server.address));
  return authority[1] + expand(host, server) + expand(template.slice(authority[0].length), server);
}
