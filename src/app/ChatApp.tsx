// The app once WebGPU is checked: wires the engine session, the conversations, the chat controller
// and the experiment to the layout (sidebar, conversation, memory panel, settings; the Experiment
// view in their place at #experiment, the chat kept as it was beneath it). Without WebGPU the engine
// never starts: the conversations stay, and the explanation takes the model picker's place.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { ChatController } from '../features/chat/chatController.ts';
import { ChatView } from '../features/chat/ChatView.tsx';
import { Composer } from '../features/chat/Composer.tsx';
import { ConversationList } from '../features/chat/ConversationList.tsx';
import { ConversationStore } from '../features/chat/conversationStore.ts';
import { loadLongMessageRule, saveLongMessageRule } from '../features/chat/longMessages.ts';
import { loadThinking, saveThinking } from '../features/chat/thinkingChoice.ts';
import { ExperimentController } from '../features/experiment/experimentController.ts';
import { ExperimentView } from '../features/experiment/ExperimentView.tsx';
import { MemoryPanel } from '../features/memory/MemoryPanel.tsx';
import { STARTER_MODEL, type HubChoice, type ModelDefaults } from '../features/models/hubModels.ts';
import { BUILT_IN_LABEL, builtInModel } from '../features/models/builtInModel.ts';
import { keepLocal, type PickedModel } from '../features/models/modelSource.ts';
import { ModelPicker } from '../features/models/ModelPicker.tsx';
import { NoWebGpu } from './NoWebGpu.tsx';
import type { EngineError } from '../protocol/errors.ts';
import type { LongMessageRule } from '../protocol/messages.ts';
import { cacheChoiceOf, sameCache, type CacheLimits, type ChatSettings } from '../features/settings/settings.ts';
import { FLOAT_BYTES } from '../protocol/cache.ts';
import { useDeviceCaps } from '../client/gpuCheck.ts';
import { SettingsDialog, type SettingsTarget } from '../features/settings/SettingsDialog.tsx';
import { loadDefaultSystemPrompt, loadElementsPerToken, loadSettings, saveDefaultSystemPrompt, saveSettings } from '../features/settings/settingsStore.ts';
import { EngineDock } from './EngineDock.tsx';
import { EngineConnection, type EngineStatus } from '../features/session/engineConnection.ts';
import { Header } from './Header.tsx';
import { useInstallPrompt, useWaitingUpdate } from './pwa.ts';
import { useTheme } from './theme.ts';
import { useView } from './view.ts';

type NarrowPanel = 'none' | 'conversations' | 'memory';

function useServices(engine: boolean) {
  const [services] = useState(() => {
    const session = new EngineConnection();
    const store = new ConversationStore(loadDefaultSystemPrompt);
    return { session, store, controller: new ChatController(session, store), experiment: new ExperimentController(session) };
  });
  useEffect(() => {
    if (engine) services.session.start();
    void services.store.init().then(() => {
      if (services.store.getState().conversations.length === 0) services.store.create();
    });
  }, [services, engine]);
  return services;
}

/** `noGpu`: why this browser cannot run the engine, or null when it can. */
export function ChatApp({ noGpu }: { noGpu: 'no-webgpu' | 'no-adapter' | null }) {
  const { session, store, controller, experiment } = useServices(noGpu === null);
  const engine = useSyncExternalStore(session.subscribe, session.getState);
  const chat = useSyncExternalStore(store.subscribe, store.getState);
  const experimenting = useSyncExternalStore(experiment.subscribe, experiment.getState).run !== null;
  const view = useView();
  const [theme, cycleTheme] = useTheme();
  const install = useInstallPrompt();
  const update = useWaitingUpdate();
  const [panel, setPanel] = useState<NarrowPanel>('none');
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [picking, setPicking] = useState(false);
  const [settingsVersion, setSettingsVersion] = useState(0);

  const { status } = engine;
  const generating = chat.generating !== null;
  const active = chat.conversations.find((c) => c.id === chat.activeId);
  const settingsModel = settingsTargetOf(status.kind === 'ready' ? status.model : (engine.lastModel ?? STARTER_MODEL));
  const modelKey = settingsModel.key;
  // settingsVersion changes when settings are saved, so they are read again.
  const settings = useMemo(() => loadSettings(modelKey, settingsModel.defaults), [modelKey, settingsModel.defaults, settingsVersion]);

  useEffect(() => {
    if (!generating) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented && !document.querySelector('dialog[open]')) controller.stop();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [generating, controller]);

  const [notKept, setNotKept] = useState<EngineError | null>(null);
  const [defaultPrompt, setDefaultPrompt] = useState(loadDefaultSystemPrompt);
  const [longRule, setLongRule] = useState(loadLongMessageRule);
  const [thinking, setThinking] = useState(loadThinking);
  const pick = (model: PickedModel) => {
    setPicking(false);
    void session.loadOpened(async () => {
      const kept = await keepLocal(model);
      setNotKept(kept.notKept);
      return kept.model;
    }, model.choice.label);
  };
  const pickBuiltIn = () => {
    setPicking(false);
    void session.loadOpened(builtInModel, BUILT_IN_LABEL);
  };
  const pickHub = (model: HubChoice) => {
    setPicking(false);
    void session.loadFromHub(model);
  };
  const apply = (next: ChatSettings) => {
    saveSettings(modelKey, next);
    setSettingsVersion((v) => v + 1);
    if (status.kind === 'ready' && !sameCache(cacheChoiceOf(next, status.model.cache, loadElementsPerToken(status.model.choice.key)), status.cache)) {
      void session.load(status.model, next);
    }
  };
  const send = (text: string, long: LongMessageRule | null) => controller.send((active ?? store.create()).id, text, long);
  const ready = status.kind === 'ready';
  // Drafts by conversation, kept while a model loads and across switches of conversation.
  const drafts = useRef(new Map<string, string>());
  const draftKey = active?.id ?? 'new';
  const caps = useDeviceCaps();
  const measure = useCallback((text: string) => session.measureText({ kind: 'text', title: 'draft', text }).then((m) => m.tokens), [session]);
  const limits: CacheLimits | null =
    status.kind === 'ready' && caps
      ? {
          label: status.model.choice.label,
          elementsPerSlot: status.info.cache.bytesPerToken / FLOAT_BYTES[status.info.cache.dtype] / (2 * status.info.nLayers),
          bufferBytes: Math.min(caps.maxBufferSize, caps.maxStorageBufferBindingSize),
          trainedContext: status.info.trainedContext,
        }
      : null;
  const closePanel = () => setPanel('none');
  // The picker opens beside the conversation, never over it: when no model is loaded, or on request.
  const pickerOpen = noGpu !== null || status.kind === 'idle' || (ready && picking && !generating && !engine.download && !experimenting);

  // Once a model is ready, the message box has the focus: the next thing to do is write.
  const wasReady = useRef(false);
  useEffect(() => {
    if (ready && !wasReady.current) document.getElementById(MESSAGE_BOX_ID)?.focus();
    wasReady.current = ready;
  }, [ready]);

  // Keyed by conversation, so a draft stays with the conversation it was written in.
  const composer = (
    <Composer
      key={draftKey}
      generating={generating}
      id={MESSAGE_BOX_ID}
      disabled={noGpu !== null}
      waitNote={
        noGpu
          ? <NoGpuNote />
          : experimenting
          ? 'The experiment is running on the model: stop it, or wait for it to finish, to chat.'
          : ready
            ? null
            : status.kind === 'idle'
              ? <WaitForChoice />
              : 'The model is loading; you can write meanwhile.'
      }
      placeholder={status.kind === 'ready' && !status.info.hasChatTemplate ? `${status.model.choice.label} continues text: start a story…` : 'Write a message…'}
      draft={drafts.current.get(draftKey) ?? ''}
      onDraft={(text) => drafts.current.set(draftKey, text)}
      onSend={send}
      onStop={() => controller.stop()}
      cache={status.kind === 'ready' ? status.cache : null}
      longRule={longRule}
      countTokens={ready ? measure : null}
      onLongRule={(rule) => {
        saveLongMessageRule(rule);
        setLongRule(rule);
      }}
      thinking={
        status.kind === 'ready' && status.info.thinkingSwitch
          ? {
              on: thinking,
              onChange: (on) => {
                saveThinking(on);
                setThinking(on);
              },
            }
          : null
      }
    />
  );

  return (
    <div className="app" data-panel={panel} data-picker={pickerOpen ? 'open' : undefined} data-view={view}>
      <a className="skip-link" href={`#${MESSAGE_BOX_ID}`}>
        Skip to the message box
      </a>
      <Header
        status={status}
        noGpu={noGpu !== null}
        onModels={() => setPicking((p) => !p)}
        view={view}
        theme={theme}
        onTheme={cycleTheme}
        onSettings={() => setSettingsOpen(true)}
        onConversations={() => setPanel((p) => (p === 'conversations' ? 'none' : 'conversations'))}
        onMemory={() => setPanel((p) => (p === 'memory' ? 'none' : 'memory'))}
        install={install}
      />
      <div className="banners">
        {update && (
          <p className="banner" role="status">
            A new version of Endless Chat is ready.{' '}
            <button type="button" onClick={update} disabled={generating}>
              Reload to update
            </button>
          </p>
        )}
        {notKept && (
          <p className="banner warn" role="alert">
            {notKept.message} The model was loaded from the picked files; after a reload it must be picked again.
          </p>
        )}
        {engine.problem && (
          <div className="banner warn" role="alert" data-testid="session-problem">
            <p>{engine.problem.message}</p>
            {engine.problem.detail && (
              <details>
                <summary>Details</summary>
                <p className="small">{engine.problem.detail}</p>
              </details>
            )}
            <button type="button" onClick={() => session.dismissProblem()}>
              Dismiss
            </button>
          </div>
        )}
        {chat.storageError && (
          <p className="banner warn" role="alert">
            {chat.storageError}
          </p>
        )}
      </div>
      <aside className="sidebar">
        <ConversationList store={store} conversations={chat.conversations} activeId={chat.activeId} generatingId={chat.generating?.conversationId ?? null} onPicked={closePanel} />
      </aside>
      <main className="chat-column">
        {active ? (
          <ChatView
            key={active.id}
            conversation={active}
            liveCache={engine.cache}
            canAct={ready && !generating}
            generating={generating}
            controller={controller}
            onSystemPrompt={(text) => store.setSystemPrompt(active.id, text)}
            intro={<Intro status={status} />}
            onSettings={() => setSettingsOpen(true)}
          />
        ) : (
          <section className="chat-view">
            <div className="messages">{chat.loaded && <Intro status={status} />}</div>
          </section>
        )}
        <div className="dock">
          <EngineDock status={status} download={engine.download} session={session} composer={composer} />
        </div>
      </main>
      {noGpu && (
        <aside className="picker-column" aria-label="Models">
          <NoWebGpu reason={noGpu} />
        </aside>
      )}
      {pickerOpen && !noGpu && (
        <aside className="picker-column" aria-label="Models">
          <ModelPicker
            onPick={pick}
            onPickBuiltIn={pickBuiltIn}
            onPickHub={pickHub}
            error={status.kind === 'idle' ? status.error : undefined}
            notice={status.kind === 'idle' ? status.notice : undefined}
            again={status.kind === 'idle' ? engine.lastModel : null}
            loaded={status.kind === 'ready' ? status.model.choice : null}
            onUnload={() => {
              setPicking(false);
              void session.unload();
            }}
            onCancel={ready ? () => setPicking(false) : undefined}
          />
        </aside>
      )}
      {view === 'experiment' && (
        <main className="experiment-column">
          <ExperimentView controller={experiment} status={status} conversation={active} generating={generating} />
        </main>
      )}
      <aside className="memory-column">
        <MemoryPanel conversation={active} liveCache={engine.cache} loaded={ready} adapter={status.kind === 'ready' ? status.info.adapter : undefined} />
      </aside>
      <SettingsDialog
        open={settingsOpen}
        model={settingsModel}
        loaded={ready}
        settings={settings}
        elementsPerToken={loadElementsPerToken(modelKey)}
        limits={limits}
        defaultSystemPrompt={defaultPrompt}
        onDefaultSystemPrompt={(text) => {
          saveDefaultSystemPrompt(text);
          setDefaultPrompt(text);
        }}
        blocked={
          generating
            ? 'Wait for the reply to finish (or stop it) before changing settings.'
            : experimenting
              ? 'Wait for the experiment to finish (or stop it) before changing settings.'
              : status.kind === 'loading'
                ? 'Wait for the model to finish loading.'
                : null
        }
        onApply={apply}
        onChangeModel={() => {
          setSettingsOpen(false);
          setPicking(true);
        }}
        onClose={() => setSettingsOpen(false)}
      />
    </div>
  );
}

const MESSAGE_BOX_ID = 'message-box';

function settingsTargetOf(model: PickedModel | ModelDefaults): SettingsTarget {
  const { defaults, cache } = model;
  return 'choice' in model ? { key: model.choice.key, label: model.choice.label, defaults, cache } : { key: model.key, label: model.label, defaults, cache };
}

/** Where the model list is: beside the conversation, or below it on a phone (CSS shows one). */
function WaitForChoice() {
  return (
    <>
      Choose a model to chat: the list is <span className="wide-only">beside</span>
      <span className="narrow-only">below</span> the conversation. What you write here is sent once a model is ready.
    </>
  );
}

/** Under the disabled message box without WebGPU: where the reason is (CSS shows one). */
function NoGpuNote() {
  return (
    <>
      This browser cannot run a model, so no message can be sent here; why, and what to do, is <span className="wide-only">beside</span>
      <span className="narrow-only">below</span> the conversation. Your conversations can still be read, searched and exported.
    </>
  );
}

function Intro({ status }: { status: EngineStatus }) {
  const storyModel = status.kind === 'ready' && !status.info.hasChatTemplate;
  return (
    <div className="intro">
      <h2>A conversation that never runs out of room</h2>
      <p>
        The model remembers the start of the conversation and its latest part, so you can go on for as long as you like, at the same speed.
        The memory panel shows what it still remembers.
      </p>
      {storyModel && <p className="muted">This model has no chat format: it continues the text. Write the beginning of a story and it carries on.</p>}
    </div>
  );
}
