// A model's Hugging Face config.json as far as the app reads it, and the same fields from the
// genai_config.json that onnxruntime-genai's exports carry instead: the picker sizes a model with
// them before any download, and the engine takes its shapes and RoPE from them.

export interface RopeParameters {
  rope_theta?: number;
  rope_type?: string;
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  partial_rotary_factor?: number;
}

/** The fields of a Hugging Face config.json the engine reads. */
export interface HfConfig {
  hidden_size?: number;
  num_attention_heads?: number;
  head_dim?: number;
  rope_theta?: number;
  partial_rotary_factor?: number;
  /** transformers 4. */
  rope_scaling?: RopeParameters | null;
  /** transformers 5: theta and scaling in one object. */
  rope_parameters?: RopeParameters | null;
  num_key_value_heads?: number;
  num_hidden_layers?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  eos_token_id?: number | number[];
  bos_token_id?: number;
}

/** onnxruntime-genai's genai_config.json, which its own exports carry instead of config.json. */
interface GenaiConfig {
  model?: {
    bos_token_id?: number;
    eos_token_id?: number | number[];
    vocab_size?: number;
    context_length?: number;
    decoder?: { head_size?: number; hidden_size?: number; num_attention_heads?: number; num_key_value_heads?: number; num_hidden_layers?: number };
  };
}

/** The config.json fields a genai_config.json states; RoPE then comes from the graph's own tables. */
export function hfConfigFromGenai(genai: GenaiConfig): HfConfig {
  const model = genai.model ?? {};
  const decoder = model.decoder ?? {};
  return {
    hidden_size: decoder.hidden_size,
    num_attention_heads: decoder.num_attention_heads,
    num_key_value_heads: decoder.num_key_value_heads,
    num_hidden_layers: decoder.num_hidden_layers,
    head_dim: decoder.head_size,
    vocab_size: model.vocab_size,
    max_position_embeddings: model.context_length,
    bos_token_id: model.bos_token_id,
    eos_token_id: model.eos_token_id,
  };
}
