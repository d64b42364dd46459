// What a failure becomes once it is an EngineError: a typed one stays itself, a device that said it
// is lost is DEVICE_LOST, anything else is a bug (INTERNAL) and never blamed on the GPU; and every
// code crosses postMessage (a structured clone of the plain object) intact.

import { describe, expect, it } from 'vitest';
import { ENGINE_ERROR_CODES, EngineError, toEngineError } from '../../src/protocol/errors.ts';

describe('toEngineError', () => {
  it('turns an ordinary bug (a TypeError) into INTERNAL, whose sentence says what, where, what to do and what to report', () => {
    const error = toEngineError(new TypeError("Cannot read properties of undefined (reading 'length')"), 'the reply');
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain("Something went wrong in the reply (TypeError: Cannot read properties of undefined (reading 'length')).");
    expect(error.message).toMatch(/bug in the app/);
    expect(error.message).toMatch(/reload the page/);
    expect(error.message).toMatch(/report this message/);
    expect(error.message).not.toMatch(/GPU was lost/);
    expect(error.detail).toMatch(/TypeError/); // the stack
  });

  it('turns a thrown non-Error into INTERNAL too', () => {
    expect(toEngineError('oops', 'the model picker')).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('in the model picker (oops)') });
  });

  it('keeps a typed error as it is', () => {
    const typed = new EngineError('STORAGE_FULL', 'Full.');
    expect(toEngineError(typed, 'anywhere')).toBe(typed);
  });

  it('is DEVICE_LOST when a GPU call failed saying the device is lost', () => {
    for (const said of ["Failed to execute 'mapAsync' on 'GPUBuffer': [Device] is lost.", 'Device is lost', 'GPU device lost']) {
      const error = toEngineError(new DOMException(said, 'OperationError'), 'the reply');
      expect(error.code, said).toBe('DEVICE_LOST');
      expect(error.message).toMatch(/Load the model again/);
      expect(error.detail).toContain(said);
    }
  });
});

describe('EngineError across postMessage', () => {
  it('keeps every code, message and detail through a structured clone of its plain object', () => {
    for (const code of ENGINE_ERROR_CODES) {
      const sent = new EngineError(code, `The sentence for ${code}.`, `detail of ${code}`);
      const received = EngineError.fromJSON(structuredClone(sent.toJSON()));
      expect(received).toBeInstanceOf(EngineError);
      expect(received.toJSON()).toEqual(sent.toJSON());
    }
  });

  it('keeps INTERNAL built from a bug', () => {
    const sent = toEngineError(new RangeError('Invalid array length'), 'the engine worker');
    expect(EngineError.fromJSON(structuredClone(sent.toJSON()))).toMatchObject({ code: 'INTERNAL', message: sent.message });
  });
});
