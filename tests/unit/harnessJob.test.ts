import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeModel, validateJob } from '../../lab/harnessJob.ts';
import { REPO_ROOT } from '../../lab/browser.ts';

const valid = { model: 'public/models/stories260K', mode: 'streaming', cache: { sinks: 4, window: 60 }, score: [1, 2, 3] };

describe('harness jobs', () => {
  it('accepts the job forms of the issue', () => {
    expect(validateJob(valid).mode).toBe('streaming');
    expect(validateJob({ ...valid, cache: { sinks: 4, window: 60, dtype: 'f16' } }).cache.dtype).toBe('f16');
    expect(validateJob({ ...valid, score: undefined, scoreFile: 'ids.json' }).scoreFile).toBe('ids.json');
    expect(validateJob({ ...valid, score: undefined, generate: { prompt: 'Once', maxTokens: 5, temperature: 0, seed: 1 } }).generate?.prompt).toBe('Once');
  });

  const invalid: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /JSON object/],
    ['unknown mode', { ...valid, mode: 'sparse' }, /"mode" must be one of/],
    ['window 0', { ...valid, cache: { sinks: 4, window: 0 } }, /cache.window/],
    ['negative sinks', { ...valid, cache: { sinks: -1, window: 8 } }, /cache.sinks/],
    ['an unknown cache dtype', { ...valid, cache: { sinks: 4, window: 8, dtype: 'bf16' } }, /"cache.dtype" must be "f32" or "f16"/],
    ['two tasks', { ...valid, generate: { promptIds: [1], maxTokens: 1, temperature: 0, seed: 0 } }, /exactly one of/],
    ['negative temperature', { ...valid, score: undefined, generate: { promptIds: [1], maxTokens: 1, temperature: -1, seed: 0 } }, /temperature/],
    ['one id to score', { ...valid, score: [1] }, /at least two/],
  ];
  for (const [name, job, reason] of invalid) {
    it(`refuses ${name} with a one-line reason`, () => {
      expect(() => validateJob(job)).toThrow(reason);
    });
  }

  it('describes a llama2.c folder and refuses a folder without a model', () => {
    expect(describeModel('public/models/stories260K')).toMatchObject({ kind: 'llama2c' });
    expect(() => describeModel(REPO_ROOT)).toThrow(/neither an \.onnx model nor a llama2\.c checkpoint/);
  });

  // Starting Node with tsx takes seconds on a loaded 2-core machine: a guard, not a speed bound.
  it('exits with status 2 and one line on stderr for an invalid job, before starting a browser', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'harness-'));
    const path = join(dir, 'job.json');
    writeFileSync(path, JSON.stringify({ ...valid, mode: 'nope' }));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'tools/harness.ts', path], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/invalid job: "mode" must be one of/);
  });
});
