// A model's chat template: found in chat_template.jinja or tokenizer_config.json, rendered with
// @huggingface/jinja, with a plain concatenation for models that ship none.

import { Template } from '@huggingface/jinja';
import { EngineError } from '../../protocol/errors.ts';
import type { ChatMessage } from '../../protocol/messages.ts';

/** What a template reads of a message: its role and text (the conversation's ids stay outside). */
export type TemplateMessage = Pick<ChatMessage, 'role' | 'content'>;

/** The files a template can come from; either may be missing. */
export interface ChatTemplateFiles {
  tokenizerConfig: unknown;
  /** chat_template.jinja, which newer exports write instead of tokenizer_config.json's field. */
  chatTemplateJinja?: string;
}

export interface RenderOptions {
  /** End with the header of an assistant turn, so that the model's next tokens are its reply. */
  addGenerationPrompt: boolean;
  /** Extra template variables, such as enable_thinking (Qwen3) or date_string (Llama 3). */
  kwargs?: Readonly<Record<string, unknown>>;
}

/**
 * The template of a model that ships none, such as the llama2.c story models: BOS, then the text of
 * every message in order, with nothing between them and no generation prompt. A story model knows
 * no turns, so a "conversation" with it is a continuation: the user's text is the story so far and
 * the reply goes on from its last character.
 */
export const PLAIN_TEMPLATE = '{{ bos_token }}{% for message in messages %}{{ message.content }}{% endfor %}';

type SpecialToken = string | { content?: unknown } | null | undefined;

interface TemplateConfig {
  chat_template?: unknown;
  bos_token?: SpecialToken;
  eos_token?: SpecialToken;
}

export class ChatTemplate {
  private constructor(
    /** The Jinja source that render() runs. */
    readonly source: string,
    /** True when the model ships no template and PLAIN_TEMPLATE stands in. */
    readonly isPlain: boolean,
    readonly bosToken: string | undefined,
    readonly eosToken: string | undefined,
    private readonly template: Template,
  ) {}

  /**
   * Finds the template: chat_template.jinja first (transformers prefers it), then
   * tokenizer_config.json's chat_template, a string or a list of {name, template} of which the one
   * named "default" is used.
   */
  static load(files: ChatTemplateFiles): ChatTemplate {
    const config = (isObject(files.tokenizerConfig) ? files.tokenizerConfig : {}) as TemplateConfig;
    const found = files.chatTemplateJinja ?? templateFromConfig(config.chat_template);
    const source = found ?? PLAIN_TEMPLATE;
    let template: Template;
    try {
      template = new Template(source);
    } catch (e) {
      throw new EngineError(
        'CHAT_TEMPLATE_FAILED',
        "The model's chat template could not be read; choose another model, or report the problem to the model's authors.",
        String(e),
      );
    }
    return new ChatTemplate(source, found === undefined, tokenText(config.bos_token), tokenText(config.eos_token), template);
  }

  /** Whether the template can be told not to think first (Qwen3's enable_thinking). */
  get thinkingSwitch(): boolean {
    return !this.isPlain && /\benable_thinking\b/.test(this.source);
  }

  /** The conversation as the model reads it, special tokens written out as text. */
  render(messages: readonly TemplateMessage[], options: RenderOptions): string {
    try {
      return this.template.render({
        ...options.kwargs,
        messages: messages.map(({ role, content }) => ({ role, content })),
        add_generation_prompt: options.addGenerationPrompt,
        bos_token: this.bosToken,
        eos_token: this.eosToken,
      });
    } catch (e) {
      throw new EngineError(
        'CHAT_TEMPLATE_FAILED',
        `The model's chat template refused this conversation (${e instanceof Error ? e.message : String(e)}). ` +
          'Change the conversation, for example so that user and assistant messages alternate, or choose another model.',
        String(e),
      );
    }
  }
}

function templateFromConfig(field: unknown): string | undefined {
  if (field === undefined || field === null) return undefined;
  if (typeof field === 'string') return field;
  if (Array.isArray(field)) {
    const named = field.filter(
      (t): t is { name: string; template: string } => isObject(t) && typeof t.name === 'string' && typeof t.template === 'string',
    );
    const chosen = named.find((t) => t.name === 'default');
    if (chosen) return chosen.template;
    throw new EngineError(
      'CHAT_TEMPLATE_FAILED',
      `The model lists chat templates (${named.map((t) => t.name).join(', ') || 'none readable'}) but none named "default", ` +
        'so it is unclear which one to chat with; choose another model.',
    );
  }
  throw new EngineError(
    'CHAT_TEMPLATE_FAILED',
    "The chat_template in the model's tokenizer_config.json is neither text nor a list of templates; download the model again or choose another one.",
  );
}

function tokenText(token: SpecialToken): string | undefined {
  if (typeof token === 'string') return token;
  if (isObject(token) && typeof token.content === 'string') return token.content;
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
