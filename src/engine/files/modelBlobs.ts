// The step from a model as named bytes (ModelBlobs: the cache's, a folder served over HTTP, files
// the user picked) to the ModelFiles the engine loads.

import { EngineError } from '../../protocol/errors.ts';
import { hfConfigFromGenai, type HfConfig } from '../../models/hfConfig.ts';
import { modelFilesFromLlama2c, type ModelFiles } from './modelFiles.ts';
import { isOnnxExternalData } from '../../models/hub.ts';
import type { ModelBlobs } from '../../protocol/messages.ts';

export interface ModelFilesOptions {
  /** Which .onnx to load where the folder holds several (onnx-community exports ship one per precision). */
  onnxFile?: string;
}

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const dirname = (path: string) => path.slice(0, path.lastIndexOf('/') + 1);
const bytes = async (blob: Blob) => new Uint8Array(await blob.arrayBuffer());

/** Reads an ONNX export (model, external data, config and tokenizer JSON) or a llama2.c checkpoint with its tokenizer. */
export async function toModelFiles(model: ModelBlobs, options: ModelFilesOptions = {}): Promise<ModelFiles> {
  const paths = Object.keys(model.files);
  const onnxPath = pickOnnx(model, paths, options.onnxFile);
  if (!onnxPath) {
    const bins = paths.filter((p) => p.endsWith('.bin'));
    const tokenizer = bins.filter((p) => /^tok.*\.bin$/.test(basename(p)));
    const checkpoint = bins.filter((p) => !tokenizer.includes(p));
    if (tokenizer.length !== 1 || checkpoint.length !== 1) {
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `${model.id} holds neither an .onnx model nor one llama2.c checkpoint with its tok*.bin tokenizer. Pick the folder of an ONNX export (model.onnx, config.json, tokenizer.json) or of a llama2.c model.`,
        `files: ${paths.join(', ')}`,
      );
    }
    return modelFilesFromLlama2c(await bytes(model.files[checkpoint[0]]), await bytes(model.files[tokenizer[0]]));
  }

  // ORT finds external data by the file name written inside the .onnx, which is relative to it.
  const externalData = await Promise.all(
    paths.filter((p) => isOnnxExternalData(onnxPath, p)).map(async (p) => ({ path: p.slice(dirname(onnxPath).length), data: await bytes(model.files[p]) })),
  );
  const json = async (name: string, required: boolean): Promise<unknown> => {
    const path = findShallowest(paths, name);
    if (!path) {
      if (!required) return {};
      throw new EngineError('MODEL_UNSUPPORTED', `${model.id} has ${onnxPath} but no ${name}. Pick the whole folder of the ONNX export, with its config.json and tokenizer.json.`);
    }
    try {
      return JSON.parse(await model.files[path].text()) as unknown;
    } catch (error) {
      throw new EngineError('MODEL_CORRUPT', `${path} of ${model.id} is not valid JSON. Download or export the model again.`, String(error));
    }
  };
  const text = async (name: string): Promise<string | undefined> => {
    const path = findShallowest(paths, name);
    return path ? await model.files[path].text() : undefined;
  };
  // onnxruntime-genai's own exports carry genai_config.json instead.
  const config = async (): Promise<HfConfig> =>
    findShallowest(paths, 'config.json') || !findShallowest(paths, 'genai_config.json')
      ? ((await json('config.json', true)) as HfConfig)
      : hfConfigFromGenai((await json('genai_config.json', true)) as Parameters<typeof hfConfigFromGenai>[0]);
  return {
    model: await bytes(model.files[onnxPath]),
    externalData,
    config: await config(),
    tokenizerJson: await json('tokenizer.json', true),
    tokenizerConfig: await json('tokenizer_config.json', false),
    generationConfig: (await json('generation_config.json', false)) as ModelFiles['generationConfig'],
    chatTemplateJinja: await text('chat_template.jinja'),
  };
}

function pickOnnx(model: ModelBlobs, paths: string[], wanted?: string): string | null {
  const onnx = paths.filter((p) => p.endsWith('.onnx'));
  if (wanted) {
    if (!onnx.includes(wanted)) throw new EngineError('MODEL_NOT_FOUND', `${model.id} has no ${wanted}; it holds ${onnx.join(', ') || 'no .onnx file'}.`);
    return wanted;
  }
  if (onnx.length <= 1) return onnx[0] ?? null;
  const plain = onnx.filter((p) => basename(p) === 'model.onnx');
  if (plain.length === 1) return plain[0];
  throw new EngineError('MODEL_UNSUPPORTED', `${model.id} holds several ONNX models (${onnx.join(', ')}); choose one of them.`);
}

/** config.json and the tokenizer files sit at the top of a repository whose .onnx files may be in onnx/. */
function findShallowest(paths: string[], name: string): string | undefined {
  return paths.filter((p) => basename(p) === name).sort((a, b) => a.split('/').length - b.split('/').length)[0];
}
