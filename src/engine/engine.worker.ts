// The engine's worker entry: decodes a request, calls ChatEngine, posts events back. No logic.

import { deviceLostError, EngineError, toEngineError } from '../protocol/errors.ts';
import type { Event, Request } from '../protocol/messages.ts';
import { ChatEngine } from './chat/chatEngine.ts';

let engine: ChatEngine | null = null;
const post = (event: Event) => (self as unknown as Worker).postMessage(event);

async function handle(request: Request): Promise<void> {
  switch (request.type) {
    case 'load': {
      await engine?.unload();
      engine = null;
      const loaded = await ChatEngine.load(request.model, request.cache, (phase, done, total) =>
        post({ type: 'progress', requestId: request.requestId, phase, done, total }),
      );
      engine = loaded;
      // A lost device takes the cache with it: report it, and let the next load start afresh
      // (its first turn rebuilds the cache from the transcript).
      loaded.deviceLost.then((reason) => {
        if (engine !== loaded) return;
        engine = null;
        post({ type: 'error', requestId: null, error: deviceLostError(reason).toJSON() });
      });
      post({ type: 'loaded', requestId: request.requestId, info: loaded.info() });
      return;
    }
    case 'chat': {
      if (!engine) throw new EngineError('CONFIG_INVALID', 'No model is loaded; load one first.');
      const { requestId } = request;
      const reply = await engine.chat(request.conversation, request.replyId, request.sampling, request.maxTokens, {
        onSynced: (how, prefillTokens, reason) => post({ type: 'synced', requestId, how, prefillTokens, reason }),
        onPrefill: (done, total) => post({ type: 'prefill', requestId, done, total }),
        onToken: (text) => post({ type: 'token', requestId, text }),
        onCache: (state) => post({ type: 'cache', state }),
      }, request.snapshot, request.longMessages);
      post({ type: 'done', requestId, ...reply });
      return;
    }
    case 'stop':
      engine?.stop();
      return;
    case 'snapshot':
      post({ type: 'snapshot', requestId: request.requestId, snapshot: (await engine?.snapshot()) ?? null });
      return;
    case 'unload':
      await engine?.unload();
      engine = null;
      post({ type: 'unloaded', requestId: request.requestId });
      return;
  }
}

self.onmessage = (message: MessageEvent<Request>) => {
  const request = message.data;
  handle(request).catch((e: unknown) => post({ type: 'error', requestId: 'requestId' in request ? request.requestId : null, error: toEngineError(e, `the engine worker, on a ${request.type} request`).toJSON() }));
};
