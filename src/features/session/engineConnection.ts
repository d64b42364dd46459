// This tab's engine: holds the one-engine-per-browser lock, starts the worker, loads models, and
// turns what happens to the engine (another tab taking over, a lost GPU) into the states the UI
// shows. An external store, so React renders from it and StrictMode cannot start it twice.

import { EngineClient } from '../../client/engineClient.ts';
import type { ChatHandlers, ChatResult } from '../../protocol/engine.ts';
import { takeEngineLock } from '../../client/engineLock.ts';
import { EngineError, toEngineError } from '../../protocol/errors.ts';
import { FLOAT_BYTES } from '../../protocol/cache.ts';
import { Listeners } from '../../protocol/listeners.ts';
import type {
  CacheChoice, CacheSnapshot, CacheState, ChatRequest, ExperimentPlan, ExperimentProgress, ExperimentResult, ExperimentText, ModelInfo, TextMeasure,
} from '../../protocol/messages.ts';
import { keepSnapshotsFor, snapshotSettingsKey } from '../../storage/snapshots.ts';
import type { LoadStage } from '../models/LoadProgress.tsx';
import type { DownloadProgress } from '../../models/index.ts';
import type { HubChoice } from '../models/hubModels.ts';
import { afterFailedLoad, cancelledDownload, hubModel, type PickedModel } from '../models/modelSource.ts';
import { forgetModel, hasRememberedModel, rememberedModel, rememberModel } from '../models/lastModel.ts';
import { cacheChoiceOf, sameCache, type ChatSettings } from '../settings/settings.ts';
import { loadElementsPerToken, loadSettings, saveElementsPerToken, saveSettings } from '../settings/settingsStore.ts';

export type EngineStatus =
  | { kind: 'locking' }
  /** Another tab runs the engine; this one waits for it, or takes over. */
  | { kind: 'elsewhere' }
  /** Another tab took the engine from this one. */
  | { kind: 'taken-over' }
  /** `notice`: what happened that is not an error (a download cancelled). */
  | { kind: 'idle'; error?: EngineError; notice?: string }
  | { kind: 'loading'; label: string; stage: LoadStage }
  | { kind: 'ready'; model: PickedModel; info: ModelInfo; cache: CacheChoice; settings: ChatSettings; settingsKey: string }
  /** The GPU device was lost (or the worker died): the model must be loaded again. */
  | { kind: 'lost'; model: PickedModel; settings: ChatSettings; error: EngineError };

/** Another model downloading while the loaded one keeps answering: it is swapped in once its files are all here. */
export interface BackgroundDownload {
  label: string;
  progress: DownloadProgress | null;
}

export interface SessionState {
  status: EngineStatus;
  /** The engine's latest picture of its cache. */
  cache: CacheState | null;
  /** The model loaded last, to offer loading it again. */
  lastModel: PickedModel | null;
  download: BackgroundDownload | null;
  /** What went wrong while a model stayed loaded (a download that failed, settings that did not
   *  load and were put back), until the user dismisses it or the next load. */
  problem: EngineError | null;
}

export class EngineConnection {
  private state: SessionState = { status: { kind: 'locking' }, cache: null, lastModel: null, download: null, problem: null };
  private readonly changes = new Listeners();
  private client: EngineClient | null = null;
  private holdsLock = false;
  private waitForLock: AbortController | null = null;
  private started = false;
  private download: AbortController | null = null;

  readonly subscribe = this.changes.add;

  readonly getState = (): SessionState => this.state;

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.acquire('if-available');
  }

  /** Takes the engine from the tab that holds it. */
  takeOver(): void {
    this.waitForLock?.abort();
    void this.acquire('steal');
  }

  /**
   * Downloads a catalog model into the model cache (or finds it there), then loads it. A model that
   * is loaded keeps answering until the new one's files are all downloaded and checked; a download
   * that fails leaves it loaded, and says why.
   */
  async loadFromHub(model: HubChoice): Promise<void> {
    if (!this.holdsLock || this.download) return;
    const current = this.state.status.kind === 'ready' ? this.state.status : null;
    const progress = (p: DownloadProgress | null) =>
      current && this.state.status === current
        ? this.set({ download: { label: model.label, progress: p } })
        : this.set({ status: { kind: 'loading', label: model.label, stage: { phase: 'download', progress: p } } });
    this.set({ problem: null });
    progress(null);
    const download = (this.download = new AbortController());
    let picked: PickedModel;
    try {
      picked = await hubModel(model, progress, download.signal);
    } catch (e) {
      const cancelled = download.signal.aborted;
      const error = toEngineError(e, 'the hub download');
      if (current && this.state.status === current) this.set({ download: null, problem: cancelled ? null : error });
      else this.set({ status: cancelled ? { kind: 'idle', notice: await cancelledDownload(model) } : { kind: 'idle', error } });
      return;
    } finally {
      this.download = null;
      if (this.state.download) this.set({ download: null });
    }
    await this.load(picked, loadSettings(picked.choice.key, picked.defaults));
  }

  /** Loads a model whose files must be opened first (the built-in one, a kept local one); a failure to open them shows in the picker
   *  (or, while another model stays loaded, above the conversation). `label` names it while its files are opened. */
  async loadOpened(open: () => Promise<PickedModel>, label: string): Promise<void> {
    if (!this.holdsLock) return;
    const current = this.state.status.kind === 'ready' ? this.state.status : null;
    if (!current) this.set({ status: { kind: 'loading', label, stage: { phase: 'fetch', done: 0, total: 0 } } });
    let model: PickedModel;
    try {
      model = await open();
    } catch (e) {
      const error = toEngineError(e, 'opening the model files');
      if (current) this.set({ problem: error });
      else this.set({ status: { kind: 'idle', error } });
      return;
    }
    await this.load(model, loadSettings(model.choice.key, model.defaults));
  }

  /** Stops the hub download under way; its partial files stay, so the next load resumes them. */
  cancelDownload(): void {
    this.download?.abort();
  }

  /**
   * Loads `model` with `settings`. When a model was loaded and this one fails to load (settings the
   * GPU cannot hold after all, a file the engine refuses), the model before is loaded again with its
   * settings, and what went wrong is said above the conversation.
   */
  async load(model: PickedModel, settings: ChatSettings): Promise<void> {
    if (!this.holdsLock) return; // another tab runs the engine: the dock offers taking over instead
    const before = this.state.status.kind === 'ready' ? this.state.status : null;
    const error = await this.loadOnce(model, settings);
    if (!error) return;
    if (before && error.code !== 'DEVICE_LOST') {
      if (before.model.choice.key === model.choice.key) saveSettings(model.choice.key, before.settings);
      const back = await this.loadOnce(before.model, before.settings);
      if (!back) {
        const what = before.model.choice.key === model.choice.key ? 'These settings could not be loaded, so the model is back with the settings it had' : `${model.choice.label} could not be loaded, so ${before.model.choice.label} is loaded again`;
        this.set({ problem: new EngineError(error.code, `${what}: ${error.message}`, error.detail) });
        return;
      }
    }
    this.set({ status: { kind: 'idle', error } });
  }

  /** One load; the error that stopped it, or null once the model is ready. */
  private async loadOnce(model: PickedModel, settings: ChatSettings): Promise<EngineError | null> {
    const client = this.ensureClient();
    const cache = cacheChoiceOf(settings, model.cache, loadElementsPerToken(model.choice.key));
    const label = model.choice.label;
    this.set({ status: { kind: 'loading', label, stage: { phase: 'fetch', done: 0, total: 0 } }, lastModel: model, cache: null, problem: null });
    try {
      const info = await client.load(model.choice, cache, (phase, done, total) => {
        if (this.state.status.kind === 'loading') this.set({ status: { kind: 'loading', label, stage: { phase, done, total } } });
      });
      const elementsPerToken = info.cache.bytesPerToken / FLOAT_BYTES[info.cache.dtype];
      saveElementsPerToken(model.choice.key, elementsPerToken);
      // A memory-budget window is known only once the model says how large a token is.
      const sized = cacheChoiceOf(settings, model.cache, elementsPerToken);
      if (!sameCache(sized, cache)) return await this.loadOnce(model, settings);
      const settingsKey = snapshotSettingsKey(model.choice.key, cache);
      await keepSnapshotsFor(settingsKey).catch(() => {});
      rememberModel(model);
      this.set({ status: { kind: 'ready', model, info, cache, settings, settingsKey }, cache: info.cache });
      return null;
    } catch (e) {
      if (client !== this.client) return null; // taken over while loading: that screen says so
      // Whatever failed (a download, a bad file, the GPU), the way on is picking a model again;
      // a downloaded model the engine refused is deleted first, so it is never offered again.
      return afterFailedLoad(model, toEngineError(e, 'loading the model'));
    }
  }

  /** Unloads the model: the GPU memory is freed, the conversations stay. */
  async unload(): Promise<void> {
    if (this.state.status.kind !== 'ready' || !this.client) return;
    await this.client.unload();
    forgetModel();
    this.set({ status: { kind: 'idle' }, cache: null });
  }

  /** Clears the problem said above the conversation. */
  dismissProblem(): void {
    this.set({ problem: null });
  }

  /** After a lost device: a fresh worker, the same model; the next reply rebuilds or restores the cache. */
  async restart(): Promise<void> {
    const status = this.state.status;
    if (status.kind !== 'lost') return;
    this.client?.terminate();
    this.client = null;
    await this.load(status.model, status.settings);
  }

  chat(request: ChatRequest, handlers: ChatHandlers): Promise<ChatResult> {
    return this.whileReady('the reply', (client) => client.chat(request, handlers));
  }

  /** Ends the reply being written, or the experiment under way. */
  stop(): void {
    this.client?.stop();
  }

  measureText(text: ExperimentText): Promise<TextMeasure> {
    return this.whileReady('measuring the text', (client) => client.measureText(text));
  }

  experiment(plan: ExperimentPlan, onProgress: (progress: ExperimentProgress) => void): Promise<ExperimentResult> {
    return this.whileReady('the experiment', (client) => client.experiment(plan, onProgress));
  }

  /** Runs a request on the loaded model; a GPU lost on the way turns the session 'lost'. */
  private async whileReady<T>(what: string, request: (client: EngineClient) => Promise<T>): Promise<T> {
    const status = this.state.status;
    if (!this.client || status.kind !== 'ready') throw new EngineError('CONFIG_INVALID', 'No model is loaded; load one first.');
    try {
      return await request(this.client);
    } catch (e) {
      const error = toEngineError(e, what);
      if (error.code === 'DEVICE_LOST' && this.state.status === status) {
        this.set({ status: { kind: 'lost', model: status.model, settings: status.settings, error } });
      }
      throw error;
    }
  }

  snapshot(): Promise<CacheSnapshot | null> {
    return this.client ? this.client.snapshot() : Promise.resolve(null);
  }

  private async acquire(mode: 'if-available' | 'steal'): Promise<void> {
    let held = await takeEngineLock(mode, () => this.lostLock());
    if (!held) {
      this.set({ status: { kind: 'elsewhere' } });
      // Queue behind the other tab: when it closes, the engine comes here by itself.
      const wait = (this.waitForLock = new AbortController());
      held = await takeEngineLock('wait', () => this.lostLock(), wait.signal);
      if (!held) return; // the wait was cancelled by takeOver()
    }
    this.holdsLock = true;
    this.set({ status: { kind: 'idle' }, cache: null });
    await this.loadRemembered();
  }

  /** After a reload, in a new tab or after a take-over: the model used last loads by itself. */
  private async loadRemembered(): Promise<void> {
    if (!hasRememberedModel()) return;
    let model: PickedModel | null;
    try {
      model = await rememberedModel();
    } catch (e) {
      // Its files were deleted or evicted since: say so once, and stop offering it.
      forgetModel();
      this.set({ status: { kind: 'idle', notice: `The model used last could not be opened again (${toEngineError(e, 'opening the model used last').message}) Pick a model.` } });
      return;
    }
    if (model && this.state.status.kind === 'idle') await this.load(model, loadSettings(model.choice.key, model.defaults));
  }

  private lostLock(): void {
    this.holdsLock = false;
    this.client?.terminate();
    this.client = null;
    this.set({ status: { kind: 'taken-over' }, cache: null });
  }

  private ensureClient(): EngineClient {
    if (!this.client) {
      const client = (this.client = EngineClient.start());
      client.onError((error) => this.fault(client, error));
      client.onCache((cache) => this.set({ cache }));
    }
    return this.client;
  }

  /** A failure no request asked about (the device lost while idle, the worker dead): the model must be loaded again. */
  private fault(client: EngineClient, error: EngineError): void {
    const status = this.state.status;
    if (client !== this.client || status.kind !== 'ready') return;
    this.set({ status: { kind: 'lost', model: status.model, settings: status.settings, error }, cache: null });
  }

  private set(patch: Partial<SessionState>): void {
    this.state = { ...this.state, ...patch };
    this.changes.emit();
  }
}
