/**
 * The README and docs/ hold together: every relative Markdown link points to a file or
 * folder of the repository, every docs/ page a preset or the source names exists, and the
 * project cites no document it does not hold (the design notes' shared list of product
 * facts was one; those facts and their public sources are in docs/presets/).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** Files under `dir` (relative to the root) whose names end with one of `ext`. */
function files(dir: string, ext: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!['node_modules', 'dist', '.git', 'coverage', 'test-output'].includes(e.name)) walk(p);
      } else if (ext.some((x) => e.name.endsWith(x))) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const pages = ['README.md', ...files('docs', ['.md'])];

/** Relative link targets of a Markdown text, without their #anchor; code is not prose. */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z][a-z+.-]*:/i.test(t) && !t.startsWith('#'))
    .map((t) => t.split('#')[0]!);
}

/** The anchors of a Markdown page: its headings as GitHub spells them, and `<a id>` tags. */
function anchors(text: string): Set<string> {
  const prose = text.replace(/```[\s\S]*?```/g, '');
  const headings = [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-'),
  );
  return new Set([...headings, ...[...text.matchAll(/<a id="([^"]+)">/g)].map((m) => m[1]!)]);
}

/** Links of a page that name an anchor: the page they point to (itself for `#x`) and the anchor. */
function anchoredLinks(page: string, text: string): { target: string; anchor: string }[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]*)#([^)\s]+)\)/g)]
    .filter((m) => !/^[a-z][a-z+.-]*:/i.test(m[1]!) && (m[1] === '' || m[1]!.endsWith('.md')))
    .map((m) => ({ target: m[1] === '' ? page : relative(root, resolve(root, dirname(page), m[1]!)), anchor: m[2]! }));
}

describe('links', () => {
  it('the README and docs/ hold pages enough to check', () => {
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'docs/configuration.md', 'docs/metrics.md', 'docs/presets/proget.md']));
    expect(relativeLinks(readFileSync(join(root, 'README.md'), 'utf8')).length).toBeGreaterThan(10);
    expect(pages.flatMap((p) => anchoredLinks(p, readFileSync(join(root, p), 'utf8'))).length).toBeGreaterThan(20);
  });

  it.each(pages.map((p) => [p]))('every relative link of %s points to a file of the repository', (page) => {
    const text = readFileSync(join(root, page), 'utf8');
    const broken = relativeLinks(text).filter((target) => !existsSync(resolve(root, dirname(page), decodeURI(target))));
    expect(broken).toEqual([]);
  });

  it.each(pages.map((p) => [p]))('every #anchor that %s links to is a heading of its page', (page) => {
    const missing = anchoredLinks(page, readFileSync(join(root, page), 'utf8')).filter(
      (l) => !anchors(readFileSync(join(root, l.target), 'utf8')).has(l.anchor),
    );
    expect(missing).toEqual([]);
  });

  it('a link that points nowhere is found', () => {
    expect(relativeLinks('see [x](docs/nothing.md#a), [y](https://example.com/), [z](#top), `[w](no.md)`')).toEqual(['docs/nothing.md']);
    expect(anchors('# How /metrics is written\n## The agent\'s `metrics`\n<a id="ref-x"></a>')).toEqual(new Set(['how-metrics-is-written', 'the-agents-metrics', 'ref-x']));
    expect(anchoredLinks('docs/a.md', '[x](#here) [y](b.md#there) [z](https://e.com/#no)')).toEqual([
      { target: 'docs/a.md', anchor: 'here' },
      { target: 'docs/b.md', anchor: 'there' },
    ]);
  });

  it('every docs/ page that a preset, an example or the source names exists', () => {
    const named = [...files('presets', ['.yml']), ...files('examples', ['.yml']), ...files('src', ['.ts'])].flatMap((f) =>
      [...readFileSync(join(root, f), 'utf8').matchAll(/\bdocs\/[\w./-]+\.md\b/g)].map((m) => ({ file: f, page: m[0] })),
    );
    expect(named.length).toBeGreaterThan(4);
    expect(named.filter((n) => !existsSync(join(root, n.page)))).toEqual([]);
  });

  it('no file of the project cites a document it does not hold', () => {
    const shared = ['PRODUCTS', 'md'].join('.');
    const text = files('.', ['.md', '.ts', '.mjs', '.js', '.yml', '.yaml', '.json', '.tmpl', '.service', 'Dockerfile']).filter(
      (f) => statSync(join(root, f)).size < 2_000_000 && f !== relative(root, import.meta.filename),
    );
    expect(text.filter((f) => readFileSync(join(root, f), 'utf8').includes(shared))).toEqual([]);
  });
});
