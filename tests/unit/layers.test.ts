// The lint's layers hold: each floor rule of .dependency-cruiser.cjs (the engine's, the session over
// the model picker) flags an import planted
// across it, and leaves the imports that go the allowed way alone. (`npm run lint` checks the
// repository itself; this checks that the rules would catch a violation.)

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type IForbiddenRuleType, type IReporterOutput } from 'dependency-cruiser';

const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as {
  forbidden: IForbiddenRuleType[];
  options: { enhancedResolveOptions: object };
};

/** [importer, imported, the rule that must flag it, or null when the import is allowed] */
const PLANTED: [string, string, string | null][] = [
  ['src/engine/kv/planted.ts', 'src/engine/decoder/decoder.ts', 'engine-floors-kv-kernels'],
  ['src/engine/kernels/planted.ts', 'src/engine/generate/generator.ts', 'engine-floors-kv-kernels'],
  ['src/engine/kernels/chat.ts', 'src/engine/chat/chatSession.ts', 'engine-floors-kv-kernels'],
  ['src/engine/split/planted.ts', 'src/engine/decoder/decoder.ts', 'engine-floors-model'],
  ['src/engine/files/planted.ts', 'src/engine/chat/chatSession.ts', 'engine-floors-model'],
  ['src/engine/llama2c/planted.ts', 'src/engine/generate/generator.ts', 'engine-floors-model'],
  ['src/engine/decoder/decoder.ts', 'src/engine/kv/kvCache.ts', null],
  ['src/engine/decoder/decoder.ts', 'src/engine/split/splitGraph.ts', null],
  ['src/engine/chat/chatSession.ts', 'src/engine/generate/generator.ts', null],
  ['src/features/models/planted.ts', 'src/features/session/engineConnection.ts', 'models-under-session'],
  ['src/features/session/engineConnection.ts', 'src/features/models/LoadProgress.ts', null],
];

const dir = mkdtempSync(join(tmpdir(), 'layers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the floors in the lint', () => {
  it('flags every planted import that reaches up a floor, and only those', async () => {
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    const files = new Map<string, string[]>();
    for (const [from, to] of PLANTED) files.set(from, [...(files.get(from) ?? []), to]).set(to, files.get(to) ?? []);
    for (const [path, imports] of files) {
      const lines = imports.map((to, i) => `import { value as v${i} } from '${relative(path, to)}';`);
      put(path, `${lines.join('\n')}\nexport const value = ${imports.map((_, i) => `v${i}`).join(' + ') || '1'};\n`);
    }
    const cwd = process.cwd();
    process.chdir(dir);
    let result: IReporterOutput;
    try {
      result = await cruise(['src'], { ruleSet: { forbidden: config.forbidden }, validate: true, tsPreCompilationDeps: true, enhancedResolveOptions: config.options.enhancedResolveOptions });
    } finally {
      process.chdir(cwd);
    }
    const output = result.output as Exclude<IReporterOutput['output'], string>;
    const flagged = output.summary.violations.map((v) => [v.from, v.to, v.rule.name]).sort();
    const expected = PLANTED.filter(([, , rule]) => rule).map(([from, to, rule]) => [from, to, rule]).sort();
    expect(flagged).toEqual(expected);
  });
});

/** The import specifier from file `from` to file `to`, both relative to the same root. */
function relative(from: string, to: string): string {
  const up = from.split('/').slice(0, -1);
  const target = to.split('/');
  let common = 0;
  while (common < up.length && up[common] === target[common]) common++;
  const steps = up.length - common;
  return `${steps ? '../'.repeat(steps) : './'}${target.slice(common).join('/')}`;
}
