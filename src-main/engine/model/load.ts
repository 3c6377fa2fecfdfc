/**
 * Open a model from a path: a Hugging Face folder (config.json + safetensors +
 * tokenizer.json) or a llama2.c `.bin` checkpoint (with a llama2.c tokenizer beside it
 * or named explicitly). Everything downstream sees only the LoadedModel.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { EngineError } from '../errors';
import { specFromConfig } from './config';
import { openHfWeights } from './hf-weights';
import { openLlama2c } from './llama2c';
import type { ModelSpec, WeightSource } from './spec';
import { loadHfTokenizer } from './tokenizer/hf';
import { loadLlama2cTokenizer } from './tokenizer/llama2c';
import type { TextTokenizer } from './tokenizer/types';

export interface LoadedModel {
  spec: ModelSpec;
  weights: WeightSource;
  tokenizer: TextTokenizer;
  format: 'huggingface' | 'llama2c';
  path: string;
}

export interface OpenModelOptions {
  /** llama2.c only: the tokenizer .bin (default: tokenizer.bin or the single tok*.bin beside the model). */
  tokenizerPath?: string;
}

export async function openModel(path: string, options: OpenModelOptions = {}): Promise<LoadedModel> {
  const fullPath = resolve(path);
  if (!existsSync(fullPath)) throw new EngineError('not_found', `${fullPath} does not exist`);
  if (statSync(fullPath).isDirectory()) {
    const spec = specFromConfig(fullPath);
    const weights = openHfWeights(fullPath, spec);
    return closingOnError(weights, () => ({
      spec,
      weights,
      tokenizer: checkedTokenizer(loadHfTokenizer(fullPath), spec, fullPath),
      format: 'huggingface',
      path: fullPath,
    }));
  }
  if (extname(fullPath) !== '.bin') {
    throw new EngineError('bad_model_file', `${fullPath}: expected a Hugging Face model folder or a llama2.c .bin checkpoint`);
  }
  const { spec, weights } = openLlama2c(fullPath);
  return closingOnError(weights, () => {
    const tokenizerFile = llama2cTokenizerFile(fullPath, options.tokenizerPath);
    return {
      spec,
      weights,
      tokenizer: checkedTokenizer(
        // run.c reads exactly vocab_size pieces, so the tokenizer must match the checkpoint.
        loadLlama2cTokenizer(tokenizerFile, { bosTokenId: spec.bosTokenId, eosTokenIds: spec.eosTokenIds, vocabSize: spec.dVocab }),
        spec,
        tokenizerFile,
      ),
      format: 'llama2c',
      path: fullPath,
    };
  });
}

/** Finish loading around open weights, closing them if anything after opening fails. */
function closingOnError(weights: WeightSource, build: () => LoadedModel): LoadedModel {
  try {
    return build();
  } catch (error) {
    weights.close();
    throw error;
  }
}

/** Embeddings may be padded past the tokenizer's vocabulary, never the other way round. */
function checkedTokenizer(tokenizer: TextTokenizer, spec: ModelSpec, source: string): TextTokenizer {
  if (tokenizer.vocabSize > spec.dVocab) {
    throw new EngineError(
      'bad_tokenizer',
      `${source}: tokenizer has ${tokenizer.vocabSize} tokens but the model's embedding has only ${spec.dVocab} rows`,
    );
  }
  return tokenizer;
}

/** The explicit tokenizer, else tokenizer.bin beside the model, else the one tok*.bin there. */
function llama2cTokenizerFile(modelFile: string, explicit: string | undefined): string {
  if (explicit !== undefined) {
    const file = resolve(explicit);
    if (!existsSync(file)) throw new EngineError('not_found', `tokenizer ${file} does not exist`);
    return file;
  }
  const folder = dirname(modelFile);
  const conventional = join(folder, 'tokenizer.bin');
  if (existsSync(conventional) && conventional !== modelFile) return conventional;
  const candidates = readdirSync(folder)
    .filter((name) => name.startsWith('tok') && name.endsWith('.bin') && name !== basename(modelFile))
    .sort();
  if (candidates.length === 1) return join(folder, candidates[0]);
  const found = candidates.length === 0 ? 'no tokenizer.bin or tok*.bin' : `several tokenizers (${candidates.join(', ')})`;
  throw new EngineError(
    'bad_tokenizer',
    `${modelFile}: a llama2.c checkpoint needs its tokenizer, and ${folder} has ${found}; pass the tokenizer file with --tokenizer`,
  );
}
