import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { patchOnnxruntimeGlue } from '../../lab/onnxruntimeGluePatch.ts';

const bundle = (name: string) => readFileSync(new URL(`../../node_modules/onnxruntime-web/dist/${name}`, import.meta.url), 'utf8');

describe('the onnxruntime-web glue patch', () => {
  for (const name of ['ort.webgpu.bundle.min.mjs', 'ort.jspi.bundle.min.mjs']) {
    it(`makes ${name} bind a session's inputs and outputs on every run`, () => {
      const code = bundle(name);
      const patched = patchOnnxruntimeGlue(code, name);
      expect(patched.length).toBeLessThan(code.length);
      expect(patched).toMatch(/if\(\w+\)\{let\{handle:\w+,outputPreferredLocations:/);
      expect(patched).not.toMatch(/if\(\w+&&!\w+\)\{let\{handle:\w+,outputPreferredLocations:/);
    });
  }

  it('stops the build when the glue does not hold the condition once', () => {
    expect(() => patchOnnxruntimeGlue('export const x = 1;', 'other.mjs')).toThrow(/found it 0 times/);
  });
});
