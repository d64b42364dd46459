// Engine failures that answer no request, such as a GPU device lost while the engine is idle:
// EngineClient's promise API has no caller to hand them to, so this starts the worker with a
// second listener for them beside the client's own.

import { EngineError } from '../protocol/errors.ts';
import type { Event } from '../protocol/messages.ts';
import { EngineClient } from './engineClient.ts';

export function startEngineWatchingFaults(onFault: (error: EngineError) => void): EngineClient {
  const worker = new Worker(new URL('../engine/engine.worker.ts', import.meta.url), { type: 'module' });
  worker.addEventListener('message', (message: MessageEvent<Event>) => {
    const event = message.data;
    if (event.type === 'error' && event.requestId === null) onFault(EngineError.fromJSON(event.error));
  });
  return new EngineClient(worker);
}
