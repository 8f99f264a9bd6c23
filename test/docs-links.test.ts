import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The docs are the project's own (docs/): every citation of them in the code, and every
 * link between them and from the README, must name a file and a section that exist, so a
 * newcomer following one lands on the text it means.
 */
const ROOT = join(__dirname, '..');
const DOCS = ['api.md', 'domain.md', 'design.md'];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const anchors = (file: string): Set<string> =>
  new Set([...readFileSync(join(ROOT, 'docs', file), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));

const SECTIONS = new Map(DOCS.map((d) => [d, anchors(d)]));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

const CODE_DIRS = ['packages', 'services', 'scripts', 'test', 'bench'].map((d) => join(ROOT, d));

describe('docs citations', () => {
  it('every citation of api.md, domain.md or design.md in the code names docs/<file>#<section> that exists', () => {
    const bad: string[] = [];
    let cited = 0;
    for (const file of CODE_DIRS.flatMap((d) => sources(d))) {
      if (file === __filename) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const m of line.matchAll(/(\S*?)\b(api|domain|design)\.md(#[\w-]+)?/g)) {
            cited += 1;
            const [, before, doc, anchor] = m;
            const where = `${relative(ROOT, file)}:${i + 1}`;
            if (!String(before).endsWith('docs/')) bad.push(`${where}: cites ${doc}.md outside docs/`);
            else if (!anchor) bad.push(`${where}: cites docs/${doc}.md without a section`);
            else if (!SECTIONS.get(`${doc}.md`)?.has(anchor.slice(1))) bad.push(`${where}: docs/${doc}.md has no section ${anchor}`);
          }
        });
    }
    expect(bad).toEqual([]);
    expect(cited).toBeGreaterThan(50);
  });

  it('every link between the docs and from the README resolves, and nothing points outside the repository', () => {
    const bad: string[] = [];
    const pages = [...DOCS.map((d) => join(ROOT, 'docs', d)), join(ROOT, 'README.md'), join(ROOT, 'packages', 'client', 'README.md')];
    for (const page of pages) {
      const text = readFileSync(page, 'utf8');
      if (/\.\.\/shared|\/work\/|\/root\//.test(text)) bad.push(`${relative(ROOT, page)}: names a path outside the repository`);
      for (const m of text.matchAll(/\]\(([^)#\s]*\.md)?(#[\w-]+)?\)/g)) {
        const [, target, anchor] = m;
        if (!target && !anchor) continue;
        const file = target ? join(page, '..', target) : page;
        const name = relative(join(ROOT, 'docs'), file);
        if (!statSync(file, { throwIfNoEntry: false })) bad.push(`${relative(ROOT, page)}: ${m[0]} names no file`);
        else if (anchor && SECTIONS.has(name) && !SECTIONS.get(name)?.has(anchor.slice(1)))
          bad.push(`${relative(ROOT, page)}: ${m[0]} names no section`);
      }
    }
    expect(bad).toEqual([]);
  });
});
