// The EngineError a call throws, so a test can assert on its code and sentence.

import { EngineError } from '../../src/protocol/errors.ts';

export function errorOf(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error('expected an EngineError');
}
