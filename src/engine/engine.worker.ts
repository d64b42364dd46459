// The engine's worker entry: decodes a request, calls Engine, posts events back. No logic.

import { toEngineError } from '../protocol/errors.ts';
import { snapshotTransfer, type Event, type Request } from '../protocol/messages.ts';
import { Engine } from './engine.ts';

const engine = new Engine();
const post = (event: Event, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(event, transfer);
engine.onCache((state) => post({ type: 'cache', state }));
engine.onError((error) => post({ type: 'error', requestId: null, error: error.toJSON() }));

async function handle(request: Request): Promise<void> {
  switch (request.type) {
    case 'load': {
      const { requestId } = request;
      const info = await engine.load(request.model, request.cache, (phase, done, total) => post({ type: 'progress', requestId, phase, done, total }));
      post({ type: 'loaded', requestId, info });
      return;
    }
    case 'chat': {
      const { requestId } = request;
      const reply = await engine.chat(request.conversation, request.replyId, request.sampling, request.maxTokens, {
        onSynced: (how, prefillTokens, reason) => post({ type: 'synced', requestId, how, prefillTokens, reason }),
        onPrefill: (done, total) => post({ type: 'prefill', requestId, done, total }),
        onToken: (text) => post({ type: 'token', requestId, text }),
      }, request.snapshot, request.longMessages);
      post({ type: 'done', requestId, ...reply });
      return;
    }
    case 'stop':
      engine.stop();
      return;
    case 'snapshot': {
      const snapshot = await engine.snapshot();
      post({ type: 'snapshot', requestId: request.requestId, snapshot }, snapshotTransfer(snapshot));
      return;
    }
    case 'unload':
      await engine.unload();
      post({ type: 'unloaded', requestId: request.requestId });
      return;
    case 'measure-text':
      post({ type: 'measured', requestId: request.requestId, measure: await engine.measureText(request.text) });
      return;
    case 'experiment': {
      const { requestId } = request;
      const result = await engine.experiment(request.plan, (progress) => post({ type: 'experiment-progress', requestId, progress }));
      post({ type: 'experiment-done', requestId, result });
      return;
    }
  }
}

self.onmessage = (message: MessageEvent<Request>) => {
  const request = message.data;
  handle(request).catch((e: unknown) => post({ type: 'error', requestId: 'requestId' in request ? request.requestId : null, error: toEngineError(e, `the engine worker, on a ${request.type} request`).toJSON() }));
};
