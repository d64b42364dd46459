// What the Experiment view does: measures the chosen text in tokens, runs the plan on the engine
// with the scores drawn as they arrive, stops it keeping what was measured, and saves every run in
// IndexedDB beside the earlier ones. An external store, so a run goes on while the chat is shown.

import { toEngineError } from '../../protocol/errors.ts';
import { Listeners } from '../../protocol/listeners.ts';
import type { ExperimentPlan, ExperimentText, TextMeasure } from '../../protocol/messages.ts';
import { deleteExperiment, listExperiments, saveExperiment } from '../../storage/experiments.ts';
import type { StoredExperiment } from '../../storage/records.ts';
import type { EngineConnection } from '../session/engineConnection.ts';
import { withProgress } from './plan.ts';
import type { ArmScores } from './results.ts';

/** The book shipped in public/texts/ (its provenance is in the README there). */
export const BOOK = { title: 'Moby Dick, chapters 1 to 30', path: 'texts/moby-dick.txt' };

export interface RunState {
  plan: ExperimentPlan;
  startedAt: number;
  scores: ArmScores[];
  /** Index of the arm under way. */
  current: number;
  /** Once the arms are done: the recall check's distances checked, of how many. */
  recall: { done: number; total: number } | null;
  /** Stop was pressed: the run ends after the feed under way. */
  stopping: boolean;
}

export interface ExperimentState {
  /** The text measured last, and which text it was (its key). */
  measure: (TextMeasure & { key: string }) | null;
  measuring: boolean;
  run: RunState | null;
  /** The result on screen: the run that ended last, or a saved one picked from the list. */
  shown: StoredExperiment | null;
  saved: StoredExperiment[];
  error: string | null;
}

/** Which text a measure is of, for which model. */
export const textKey = (modelKey: string, text: ExperimentText) =>
  `${modelKey}|${text.kind}:${text.title}:${text.kind === 'text' ? text.text.length : text.conversation.messages.map((m) => `${m.id}/${m.content.length}`).join(',')}`;

export class ExperimentController {
  private state: ExperimentState = { measure: null, measuring: false, run: null, shown: null, saved: [], error: null };
  private readonly changes = new Listeners();
  private book: Promise<string> | null = null;
  private measuring = 0;

  constructor(private readonly session: EngineConnection) {}

  readonly subscribe = this.changes.add;

  readonly getState = (): ExperimentState => this.state;

  /** Reads the saved runs; a storage failure shows as the view's error. */
  async init(): Promise<void> {
    try {
      this.set({ saved: await listExperiments() });
    } catch (e) {
      this.set({ error: toEngineError(e, 'reading the saved experiments').message });
    }
  }

  /** The shipped book's text, fetched once (the service worker has it offline). */
  bookText(): Promise<string> {
    this.book ??= fetch(new URL(`${import.meta.env.BASE_URL}${BOOK.path}`, location.href)).then(async (response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status} for ${BOOK.path}`);
      return response.text();
    });
    this.book.catch(() => (this.book = null));
    return this.book;
  }

  /** Counts the text's tokens with the loaded model; a later call wins over an earlier one. */
  async measure(text: ExperimentText, key: string): Promise<void> {
    const asked = ++this.measuring;
    this.set({ measuring: true, error: null });
    try {
      const measure = await this.session.measureText(text);
      if (asked === this.measuring) this.set({ measure: { ...measure, key }, measuring: false });
    } catch (e) {
      if (asked === this.measuring) this.set({ measure: null, measuring: false, error: toEngineError(e, 'measuring the text').message });
    }
  }

  async run(plan: ExperimentPlan): Promise<void> {
    if (this.state.run) return;
    const run: RunState = {
      plan,
      startedAt: performance.now(),
      scores: plan.arms.map((arm, i) => ({ arm, status: i === 0 ? 'running' : 'waiting', nll: [], msPerToken: [] })),
      current: 0,
      recall: null,
      stopping: false,
    };
    this.set({ run, error: null });
    try {
      const result = await this.session.experiment(plan, (progress) => {
        const now = this.state.run;
        if (!now) return;
        if (progress.kind === 'recall') {
          this.set({ run: { ...now, recall: { done: progress.done, total: progress.total } } });
          return;
        }
        const scores = withProgress(now.scores, progress).map((s, i) => ({ ...s, status: i < progress.arm ? ('done' as const) : i === progress.arm ? ('running' as const) : s.status }));
        this.set({ run: { ...now, scores, current: progress.arm } });
      });
      this.set({ run: null, shown: { id: '', savedAt: Date.now(), result } });
      const stored = await saveExperiment(result);
      this.set({ shown: stored, saved: [stored, ...this.state.saved] });
    } catch (e) {
      this.set({ run: null, error: toEngineError(e, 'the experiment').message });
    }
  }

  /** Ends the run after the feed under way; what was measured is kept and saved. */
  stop(): void {
    const run = this.state.run;
    if (!run || run.stopping) return;
    this.set({ run: { ...run, stopping: true } });
    this.session.stop();
  }

  show(id: string): void {
    const found = this.state.saved.find((s) => s.id === id);
    if (found) this.set({ shown: found });
  }

  async remove(id: string): Promise<void> {
    try {
      await deleteExperiment(id);
      this.set({ saved: this.state.saved.filter((s) => s.id !== id), shown: this.state.shown?.id === id ? null : this.state.shown });
    } catch (e) {
      this.set({ error: toEngineError(e, 'deleting a saved experiment').message });
    }
  }

  private set(patch: Partial<ExperimentState>): void {
    this.state = { ...this.state, ...patch };
    this.changes.emit();
  }
}
