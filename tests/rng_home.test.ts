// Production code takes its random numbers from src/engine/rng.ts, never from the CPU test references: no file under
// src/ outside src/engine/reference/ may import from engine/reference/ (static import, re-export or dynamic import).
// The sources are scanned as text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');
const REFERENCE = join(SRC, 'engine', 'reference');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return p === REFERENCE ? [] : sources(p);
    return /\.(ts|tsx|js|mjs)$/.test(name) ? [p] : [];
  });
}

/** Module specifiers a source names: `from '…'`, `import '…'` and `import('…')`. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"]+)\1/g)) out.push(m[2]!);
  return out;
}

describe('engine/rng is the one source of random numbers', () => {
  it('finds import specifiers in every form', () => {
    expect(
      specifiers(
        `import { a } from '../engine/reference/sampling';\nexport * from "./x";\nimport './y';\nconst m = await import('../z');`,
      ),
    ).toEqual(['../engine/reference/sampling', './x', './y', '../z']);
  });

  it('no production source imports from engine/reference/', () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.flatMap((f) =>
      specifiers(readFileSync(f, 'utf8'))
        .filter((s) => s.startsWith('.') && (join(f, '..', s) + sep).startsWith(REFERENCE + sep))
        .map((s) => `${relative(SRC, f)} imports ${s}`),
    );
    expect(offenders).toEqual([]);
  });
});
