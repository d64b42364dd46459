// The Experiment view (#experiment): the StreamingLLM paper's measurement on the loaded model. A
// text (the shipped book, this conversation, or the user's own), the arms in plain words, a run
// with progress, time left and Stop, then the chart of perplexity per segment, the table, what it
// means in plain words with a recall check, the exports, and the runs saved before.

import './experiment.css';
import { useEffect, useId, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import type { ExperimentResult, ExperimentText } from '../../protocol/messages.ts';
import type { StoredConversation, StoredExperiment } from '../../storage/records.ts';
import { Icon } from '../../ui/icons.tsx';
import { NumberField } from '../../ui/NumberField.tsx';
import { download } from '../../ui/download.ts';
import { KV_BUDGET_BYTES } from '../models/hubModels.ts';
import type { EngineStatus } from '../session/engineConnection.ts';
import { BOOK, textKey, type ExperimentController, type RunState } from './experimentController.ts';
import {
  armFeeds, armsOf, defaultSettings, denseCapacity, describeArm, MAX_RECOMPUTE_TOKENS, planOf, recallDistances, timeLeft, validateExperiment, type ExperimentLimits,
  type ExperimentSettings,
} from './plan.ts';
import {
  armRows, chartFactsOf, experimentFileName, experimentToCsv, experimentToJson, formatPerplexity, perplexity, perplexityChart, scoresOf, summaryOf,
  type ArmScores, type ChartFacts,
} from './results.ts';

type Source = 'book' | 'conversation' | 'own';
type NumberName = 'tokens' | 'sinks' | 'window' | 'recomputeTokens' | 'recallInside' | 'recallBeyond';
type CheckField = 'streaming' | 'plainWindow' | 'dense' | 'recompute' | 'ablation' | 'recall';
type Draft = Record<NumberName, string> & Record<CheckField, boolean>;

interface Props {
  controller: ExperimentController;
  status: EngineStatus;
  /** The conversation open in the chat, which can be the text. */
  conversation: StoredConversation | undefined;
  /** A reply is being written: the run waits for it. */
  generating: boolean;
}

const num = (text: string) => (text.trim() === '' ? NaN : Number(text));
/** The recall distances start empty: they follow the sinks and window (recallDistances) until typed. */
const toDraft = (s: ExperimentSettings): Draft => ({
  ...s,
  tokens: String(s.tokens),
  sinks: String(s.sinks),
  window: String(s.window),
  recomputeTokens: String(s.recomputeTokens),
  recallInside: '',
  recallBeyond: '',
});
const fromDraft = (d: Draft): ExperimentSettings => {
  const auto = recallDistances(num(d.sinks), num(d.window));
  return {
    ...d,
    tokens: num(d.tokens),
    sinks: num(d.sinks),
    window: num(d.window),
    recomputeTokens: num(d.recomputeTokens),
    recallInside: d.recallInside.trim() === '' ? auto.inside : num(d.recallInside),
    recallBeyond: d.recallBeyond.trim() === '' ? auto.beyond : num(d.recallBeyond),
  };
};

const seconds = (s: number | null) => (s === null ? 'measuring the speed…' : s < 90 ? `about ${Math.max(1, Math.round(s))} s` : `about ${Math.round(s / 60)} min`);

export function ExperimentView({ controller, status, conversation, generating }: Props) {
  const state = useSyncExternalStore(controller.subscribe, controller.getState);
  useEffect(() => {
    void controller.init();
  }, [controller]);
  if (status.kind !== 'ready') {
    return (
      <section className="experiment" aria-labelledby="experiment-title">
        <h2 id="experiment-title">The StreamingLLM experiment</h2>
        <p>{status.kind === 'loading' ? 'The model is loading; the experiment opens once it is ready.' : 'Load a model first: the experiment runs on the model the chat uses.'}</p>
        <p>
          <a href="#">Back to the chat</a>
        </p>
        <SavedRuns controller={controller} saved={state.saved} shownId={state.shown?.id ?? null} running={false} />
        {state.shown && <Results running={null} facts={chartFactsOf(state.shown.result)} shown={state.shown.result} />}
      </section>
    );
  }
  return <ReadyView controller={controller} status={status} conversation={conversation} generating={generating} />;
}

function ReadyView({ controller, status, conversation, generating }: Props & { status: Extract<EngineStatus, { kind: 'ready' }> }) {
  const state = useSyncExternalStore(controller.subscribe, controller.getState);
  const [source, setSource] = useState<Source>('book');
  const [book, setBook] = useState<string | null>(null);
  const [bookError, setBookError] = useState<string | null>(null);
  const [own, setOwn] = useState<{ title: string; text: string }>({ title: 'Your text', text: '' });
  const [draft, setDraft] = useState<Draft | null>(null);
  const modelKey = status.model.choice.key;

  useEffect(() => {
    controller.bookText().then(setBook, (e: unknown) => setBookError(`The book could not be read (${String(e)}); reload the page, or use your own text.`));
  }, [controller]);

  const text: ExperimentText | null = useMemo(() => {
    if (source === 'book') return book === null ? null : { kind: 'text', title: BOOK.title, text: book };
    if (source === 'own') return own.text.trim() === '' ? null : { kind: 'text', title: own.title, text: own.text };
    const messages = (conversation?.messages ?? []).filter((m) => m.content !== '').map(({ id, role, content }) => ({ id, role, content }));
    return conversation && messages.length > 0 ? { kind: 'conversation', title: conversation.title, conversation: { id: conversation.id, systemPrompt: conversation.systemPrompt, messages } } : null;
  }, [source, book, own, conversation]);
  const key = text ? textKey(modelKey, text) : null;

  // Measured once the text stops changing for a moment (typing in the box).
  useEffect(() => {
    if (!text || !key || state.measure?.key === key) return;
    const timer = setTimeout(() => void controller.measure(text, key), source === 'own' ? 500 : 0);
    return () => clearTimeout(timer);
  }, [controller, text, key, source, state.measure?.key]);

  // Another model: its own chat cache gives the form its defaults again.
  useEffect(() => setDraft(null), [modelKey]);

  const measure = state.measure?.key === key ? state.measure : null;
  const limits: ExperimentLimits | null = measure ? { textTokens: measure.tokens, chunk: measure.chunk, bytesPerToken: status.info.cache.bytesPerToken, budgetBytes: KV_BUDGET_BYTES } : null;
  useEffect(() => {
    if (measure && draft === null) setDraft(toDraft(defaultSettings(status.cache, measure.tokens)));
  }, [measure, draft, status.cache]);

  const settings = draft ? fromDraft(draft) : null;
  const errors = settings && limits ? validateExperiment(settings, limits) : {};
  const run = state.run;
  const blocked = run ? null : generating ? 'Wait for the reply to finish (or stop it) before running the experiment.' : null;
  const canRun = !run && !blocked && !!text && !!limits && !!settings && Object.keys(errors).length === 0 && !state.measuring;
  const start = () => {
    if (canRun) void controller.run(planOf(settings, limits, text));
  };
  const facts: ChartFacts | null = run
    ? {
        modelLabel: status.model.choice.label,
        tokens: run.plan.tokens,
        trainedContext: measure?.trainedContext ?? null,
        cacheTokens: run.plan.recall ? run.plan.recall.sinks + run.plan.recall.window : settings ? settings.sinks + settings.window : null,
      }
    : state.shown
      ? chartFactsOf(state.shown.result)
      : null;

  return (
    <section className="experiment" aria-labelledby="experiment-title">
      <h2 id="experiment-title">The StreamingLLM experiment on {status.model.choice.label}</h2>
      <p className="experiment-intro">
        Measure how well the model predicts a long text when it keeps only a few first tokens and a window of recent ones (StreamingLLM), against a
        plain window, against keeping everything, and against re-reading the window for every token. The experiment runs on caches of its own:
        your conversation and its cache stay as they are.
      </p>
      <div className="experiment-layout">
        <div className="experiment-controls">
          <fieldset className="card" disabled={run !== null}>
            <legend>Text</legend>
            <div role="radiogroup" aria-label="Text" className="choices">
              <label>
                <input type="radio" name="source" checked={source === 'book'} onChange={() => setSource('book')} /> {BOOK.title} (public domain, ships with the app)
              </label>
              <label>
                <input type="radio" name="source" checked={source === 'conversation'} onChange={() => setSource('conversation')} disabled={!conversation} /> This conversation
              </label>
              <label>
                <input type="radio" name="source" checked={source === 'own'} onChange={() => setSource('own')} /> Your own text
              </label>
            </div>
            {source === 'own' && <OwnText own={own} onChange={setOwn} />}
            {source === 'book' && bookError && <p className="field-error">{bookError}</p>}
            {source === 'conversation' && !text && <p className="muted small">This conversation has no messages yet.</p>}
            <p className="text-tokens" data-testid="text-tokens" aria-live="polite">
              {!text ? '' : state.measuring || !measure ? 'Counting tokens…' : `${formatCount(measure.tokens)} tokens for ${status.model.choice.label}.`}
            </p>
          </fieldset>
          {draft && settings && limits && measure && (
            <ArmsForm draft={draft} setDraft={setDraft} settings={settings} limits={limits} errors={errors} trainedContext={measure.trainedContext} disabled={run !== null} />
          )}
        </div>
        <div className="experiment-main">
          <div className="experiment-actions">
            {run ? (
              <button type="button" onClick={() => controller.stop()} disabled={run.stopping}>
                <Icon name="stop" /> {run.stopping ? 'Stopping…' : 'Stop'}
              </button>
            ) : (
              <button type="button" className="primary" onClick={start} disabled={!canRun}>
                Run the experiment
              </button>
            )}
            {blocked && <span className="field-error">{blocked}</span>}
            {errors.arms && <span className="field-error">{errors.arms}</span>}
          </div>
          {state.error && (
            <p className="error-text" role="alert">
              {state.error}
            </p>
          )}
          {run && measure && <Progress run={run} chunk={measure.chunk} />}
          {facts ? (
            <Results running={run} facts={facts} shown={run ? null : (state.shown?.result ?? null)} />
          ) : (
            <p className="muted chart-placeholder">The chart of perplexity along the text appears here, drawn as the run goes.</p>
          )}
        </div>
      </div>
      <SavedRuns controller={controller} saved={state.saved} shownId={state.shown?.id ?? null} running={run !== null} />
    </section>
  );
}

function OwnText({ own, onChange }: { own: { title: string; text: string }; onChange(own: { title: string; text: string }): void }) {
  const id = useId();
  return (
    <div className="own-text">
      <label htmlFor={id}>Paste a text, or open a file</label>
      <textarea id={id} rows={5} value={own.text} onChange={(e) => onChange({ title: 'Your text', text: e.target.value })} />
      <input
        type="file"
        accept=".txt,.md,text/*"
        aria-label="Text file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void file.text().then((text) => onChange({ title: file.name, text }));
        }}
      />
    </div>
  );
}

interface ArmsFormProps {
  draft: Draft;
  setDraft(update: (d: Draft | null) => Draft | null): void;
  settings: ExperimentSettings;
  limits: ExperimentLimits;
  errors: ReturnType<typeof validateExperiment>;
  trainedContext: number | null;
  disabled: boolean;
}

function ArmsForm({ draft, setDraft, settings, limits, errors, trainedContext, disabled }: ArmsFormProps) {
  const setNumber = (name: NumberName, value: string) => setDraft((d) => d && { ...d, [name]: value });
  const setCheck = (name: CheckField, value: boolean) => setDraft((d) => d && { ...d, [name]: value });
  const budget = settings.sinks + settings.window;
  const capacity = denseCapacity(limits);
  const recomputeFeeds = armFeeds({ label: '', mode: 'recompute', sinks: 0, window: budget, limit: settings.recomputeTokens }, settings.tokens, limits.chunk);
  const number = (name: NumberName, label: string, hint?: ReactNode, placeholder?: string) => (
    <NumberField name={name} label={label} hint={hint} placeholder={placeholder} value={draft[name]} error={errors[name]} onChange={(value) => setNumber(name, value)} />
  );
  const arm = (name: CheckField, label: string, words: ReactNode, extra?: ReactNode) => (
    <div className="arm">
      <label>
        <input type="checkbox" name={name} checked={draft[name]} onChange={(e) => setCheck(name, e.target.checked)} /> <strong>{label}</strong>
      </label>
      <p className="muted small">{words}</p>
      {errors[name as keyof typeof errors] && <p className="field-error">{errors[name as keyof typeof errors]}</p>}
      {draft[name] && extra}
    </div>
  );
  return (
    <fieldset className="card arms-form" disabled={disabled}>
      <legend>What to compare</legend>
      {number('tokens', 'Tokens to score', `From the start of the text, at most ${formatCount(limits.textTokens)}.`)}
      {number('sinks', 'Sinks (S)', 'The first tokens, kept for good.')}
      {number('window', 'Window (W)', `The latest tokens kept: a cache of ${formatCount(Number.isFinite(budget) ? budget : 0)} tokens in all.`)}
      {arm('streaming', `StreamingLLM ${settings.sinks}+${settings.window}`, `Keeps the first ${formatCount(settings.sinks)} tokens and the last ${formatCount(settings.window)}: what this chat does.`)}
      {arm('plainWindow', `Plain window 0+${budget}`, `Keeps only the last ${formatCount(budget)} tokens: the same cache, no sinks.`)}
      {arm(
        'dense',
        'Dense attention',
        `Keeps every token, up to ${formatCount(Math.min(capacity, settings.tokens || 0))} (what ${formatBytes(limits.budgetBytes)} of memory holds)${trainedContext ? `; the model was trained on ${formatCount(trainedContext)} positions, and past them it is on its own` : ''}.`,
      )}
      {arm(
        'recompute',
        'Sliding window with recomputation',
        `Re-reads the last ${formatCount(budget)} tokens afresh for every token: ${formatCount(budget)} tokens of work each, so it scores only a short stretch.`,
        <>
          {number('recomputeTokens', 'Tokens it scores', `At most ${formatCount(MAX_RECOMPUTE_TOKENS)}; about as long as scoring ${formatCount(recomputeFeeds * limits.chunk)} tokens with StreamingLLM.`)}
        </>,
      )}
      {arm('ablation', 'Sink ablation', `0, 1, 2, 4 and 8 sinks in the same cache of ${formatCount(budget)} tokens (the paper's Table 1).`)}
      {arm(
        'recall',
        'Recall check',
        'Plant a fact in the text and ask for it later: once it has left the window, StreamingLLM cannot recall it.',
        <>
          {number('recallInside', 'Near: tokens between fact and question', 'Meant to be inside the window; the result says where it was.', String(settings.recallInside))}
          {number('recallBeyond', 'Far: tokens between fact and question', 'Meant to be beyond the window.', String(settings.recallBeyond))}
        </>,
      )}
      <details className="experiment-details">
        <summary>Details</summary>
        <ul className="small">
          <li>
            Each arm runs on a KV cache of its own beside the chat's (nothing is copied or restored: the chat's cache is never fed), one arm after
            another, each at most {formatBytes(limits.budgetBytes)}, the budget a chat's window is sized from. {formatBytes(limits.bytesPerToken)} per token with
            this model; prefill chunks of {formatCount(limits.chunk)} tokens.
          </li>
          <li>
            Perplexity is exp of the mean negative log-likelihood of each token after the first, from the engine's logits: the same code as{' '}
            <code>npm run harness</code>, so a harness job on the exported ids gives the same per-token numbers.
          </li>
          <li>Arms, in order: {armsOf(settings, limits).map((a) => `${a.label} (${describeArm(a)})`).join('; ') || 'none'}.</li>
        </ul>
      </details>
    </fieldset>
  );
}

function Progress({ run, chunk }: { run: RunState; chunk: number }) {
  if (run.recall) {
    return (
      <div className="experiment-progress" role="status" data-testid="experiment-progress">
        <progress max={run.recall.total} value={run.recall.done} />
        <p>
          Recall check: distance {run.recall.done + 1} of {run.recall.total}
          {run.stopping ? ' · stopping after this one' : ''}.
        </p>
      </div>
    );
  }
  const left = timeLeft(run.plan, chunk, { startedAt: run.startedAt, done: run.scores.map((s) => s.nll.length), current: run.current }, performance.now());
  const arm = run.scores[run.current];
  const total = Math.max(0, Math.min(run.plan.tokens, arm.arm.limit ?? run.plan.tokens) - 1);
  return (
    <div className="experiment-progress" role="status" data-testid="experiment-progress">
      <progress max={total} value={arm.nll.length} />
      <p>
        Arm {run.current + 1} of {run.scores.length}, {arm.arm.label}: {formatCount(arm.nll.length)} of {formatCount(total)} tokens · {seconds(left.arm)} left in this arm,{' '}
        {seconds(left.all)} in all{run.stopping ? ' · stopping after the current step' : ''}.
      </p>
    </div>
  );
}

function Results({ running, facts, shown }: { running: RunState | null; facts: ChartFacts; shown: ExperimentResult | null }) {
  const arms: ArmScores[] = running ? running.scores : shown ? scoresOf(shown.arms) : [];
  const svg = perplexityChart(arms, facts);
  const rows = armRows(arms);
  const summary = shown ? summaryOf(shown) : null;
  const alt = `Perplexity per segment over ${formatCount(facts.tokens)} tokens: ${rows.map((r) => `${r.label} ${formatPerplexity(r.perplexity)}`).join(', ')}.`;
  return (
    <section className="experiment-results" aria-label="Results" data-testid="experiment-results">
      <figure className="perplexity-chart">
        <img src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`} alt={alt} data-testid="perplexity-chart" />
      </figure>
      {summary && (
        <div className="experiment-summary" data-testid="experiment-summary">
          <h3>What this run shows</h3>
          <p>{summary.join(' ')}</p>
        </div>
      )}
      <table className="experiment-table" data-testid="experiment-table">
        <thead>
          <tr>
            <th scope="col">Arm</th>
            <th scope="col">What it keeps</th>
            <th scope="col">Tokens</th>
            <th scope="col">Perplexity</th>
            <th scope="col">Last quarter</th>
            <th scope="col">ms per token</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-status={r.status}>
              <th scope="row">{r.label}</th>
              <td>{describeArm(arms[i].arm)}</td>
              <td className="number">{formatCount(r.tokens)}</td>
              <td className="number">{formatPerplexity(r.perplexity)}</td>
              <td className="number">{formatPerplexity(r.lastQuarter)}</td>
              <td className="number timing">{Number.isFinite(r.msPerToken) ? r.msPerToken.toFixed(1) : '–'}</td>
              <td>{STATUS_WORDS[r.status]}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown && (
        <div className="experiment-exports">
          <button type="button" onClick={() => download(experimentFileName(shown, 'json'), experimentToJson(shown), 'application/json')}>
            <Icon name="download" /> Download JSON
          </button>
          <button type="button" onClick={() => download(experimentFileName(shown, 'csv'), experimentToCsv(shown), 'text/csv')}>
            <Icon name="download" /> Download CSV
          </button>
          <button type="button" onClick={() => download(experimentFileName(shown, 'svg'), svg, 'image/svg+xml')}>
            <Icon name="download" /> Download chart (SVG)
          </button>
        </div>
      )}
    </section>
  );
}

const STATUS_WORDS: Record<ArmScores['status'], string> = { done: 'done', stopped: 'stopped: not finished', 'not-run': 'not run', running: 'running', waiting: 'waiting' };

function SavedRuns({ controller, saved, shownId, running }: { controller: ExperimentController; saved: StoredExperiment[]; shownId: string | null; running: boolean }) {
  if (saved.length === 0) return null;
  return (
    <section className="saved-runs" aria-labelledby="saved-runs-title">
      <h3 id="saved-runs-title">Saved runs</h3>
      <table className="experiment-table saved-table">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Model</th>
            <th scope="col">Text</th>
            <th scope="col">Perplexity per arm</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {saved.map((s) => (
            <tr key={s.id} aria-current={s.id === shownId ? 'true' : undefined}>
              <td className="run-date">{new Date(s.result.startedAt).toLocaleString()}</td>
              <td>{s.result.model.label}</td>
              <td>
                {s.result.text.title}, {formatCount(s.result.text.tokens)} tokens
              </td>
              <td className="run-figures">{s.result.arms.map((a) => `${a.arm.label}: ${formatPerplexity(perplexity(a.nll))}${a.status === 'done' ? '' : ` (${STATUS_WORDS[a.status]})`}`).join(' · ')}</td>
              <td className="run-actions">
                <button type="button" onClick={() => controller.show(s.id)} disabled={running || s.id === shownId}>
                  Show
                </button>
                <button type="button" onClick={() => void controller.remove(s.id)} aria-label={`Delete the run of ${new Date(s.result.startedAt).toLocaleString()}`}>
                  <Icon name="trash" />
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
