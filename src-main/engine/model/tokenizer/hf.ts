/**
 * Hugging Face tokenizer folders: tokenizer.json (the fast-tokenizer pipeline, run by
 * @huggingface/tokenizers), tokenizer_config.json (special tokens, BOS policy, chat
 * template) and, where present, generation_config.json / config.json for EOS ids.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { parseJson } from '../../../../src-shared/json-syntax';
import { issueLines, safeParseBounded, zodIssues } from '../../../../src-shared/issues';
import { EngineError, type EngineErrorCode } from '../../errors';
import { readTextFile } from '../file-io';
import type { ChatMessage, TextTokenizer } from './types';

// ---------------------------------------------------------------------------
// File schemas: only the fields Tiller reads; everything else passes through to
// @huggingface/tokenizers, which reads more of tokenizer_config.json than we do.

/** Older configs store special tokens as serialized AddedToken objects, newer ones as strings. */
const TokenRef = z.union([z.string(), z.looseObject({ content: z.string() })]).nullable();

const TokenizerConfigSchema = z.looseObject({
  bos_token: TokenRef.optional(),
  eos_token: TokenRef.optional(),
  add_bos_token: z.boolean().optional(),
  clean_up_tokenization_spaces: z.boolean().optional(),
  chat_template: z
    .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))])
    .nullable()
    .optional(),
});
type TokenizerConfig = z.infer<typeof TokenizerConfigSchema>;

const TokenizerJsonSchema = z.looseObject({ model: z.looseObject({}), added_tokens: z.array(z.unknown()).optional() });

/** The shared subset of config.json and generation_config.json. */
const TokenIdsConfigSchema = z.looseObject({
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
});
type TokenIdsConfig = z.infer<typeof TokenIdsConfigSchema>;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Far above any real tokenizer file (a 256k-token tokenizer.json is ~20 MB). */
const MAX_TOKENIZER_FILE_BYTES = 256 * 1024 * 1024;

function readJson<T>(file: string, schema: z.ZodType<T>, code: EngineErrorCode): T {
  const parsed = parseJson(readTextFile(file, 'tokenizer file', code, MAX_TOKENIZER_FILE_BYTES, code));
  if (!parsed.ok) throw new EngineError(code, `${file}: ${parsed.message}`, { file });
  const checked = safeParseBounded(schema, parsed.value);
  if (!checked.success) throw new EngineError(code, `${file} is malformed: ${issueLines(zodIssues(checked.error.issues, [], '(file)'))}`, { file });
  return checked.data;
}

/**
 * Token ids beyond this are refused before the tokenizer library sees them: it sizes
 * tables by the largest id, so one id of 2^31 took minutes. No vocabulary comes near
 * (the largest are ~256k), and the model check then holds the tokenizer to the embedding.
 */
const MAX_TOKEN_ID = 1 << 22;

function checkTokenIds(tokenizerJson: z.infer<typeof TokenizerJsonSchema>, file: string): void {
  const vocab = tokenizerJson.model.vocab;
  // BPE and WordPiece map piece -> id; Unigram lists [piece, score] with ids by position.
  const ids = Array.isArray(vocab) ? [vocab.length - 1] : typeof vocab === 'object' && vocab !== null ? Object.values(vocab) : [];
  const added = Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens.map((token) => (token as { id?: unknown } | null)?.id) : [];
  for (const id of [...ids, ...added]) {
    if (!Number.isInteger(id) || (id as number) < -1 || (id as number) >= MAX_TOKEN_ID) {
      throw new EngineError('bad_tokenizer', `${file}: token id ${typeof id === 'number' ? id : typeof id} is not a whole number below ${MAX_TOKEN_ID}`, { file });
    }
  }
}

/** generation_config.json and config.json are optional here; the model loader owns config.json. */
function readOptionalIds(file: string): TokenIdsConfig {
  return existsSync(file) ? readJson(file, TokenIdsConfigSchema, 'bad_config') : {};
}

const tokenContent = (ref: z.infer<typeof TokenRef>): string | null =>
  ref === null ? null : typeof ref === 'string' ? ref : ref.content;

const asList = (ids: number | number[] | null | undefined): number[] =>
  ids === null || ids === undefined ? [] : Array.isArray(ids) ? ids : [ids];

/**
 * The chat template: tokenizer_config.chat_template (a string, or a list of named
 * templates of which Tiller uses "default"), else chat_template.jinja, where
 * transformers >= 4.50 saves it.
 */
function findChatTemplate(folder: string, config: TokenizerConfig): string | null {
  const fromConfig = config.chat_template;
  if (typeof fromConfig === 'string') return fromConfig;
  if (Array.isArray(fromConfig)) return fromConfig.find((entry) => entry.name === 'default')?.template ?? null;
  const jinjaFile = join(folder, 'chat_template.jinja');
  return existsSync(jinjaFile) ? readTextFile(jinjaFile, 'chat template', 'bad_tokenizer', MAX_TOKENIZER_FILE_BYTES) : null;
}

/** A call into @huggingface/tokenizers while loading; whatever it throws is the file's fault. */
function fromLibrary<T>(file: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw new EngineError('bad_tokenizer', `${file}: the tokenizer library cannot use it (${messageOf(error)})`, { file });
  }
}

// ---------------------------------------------------------------------------

export function loadHfTokenizer(folder: string): TextTokenizer {
  const tokenizerFile = join(folder, 'tokenizer.json');
  const configFile = join(folder, 'tokenizer_config.json');
  const tokenizerJson = readJson(tokenizerFile, TokenizerJsonSchema, 'bad_tokenizer');
  const config = readJson(configFile, TokenizerConfigSchema, 'bad_tokenizer');
  const generationConfig = readOptionalIds(join(folder, 'generation_config.json'));
  const modelConfig = readOptionalIds(join(folder, 'config.json'));

  checkTokenIds(tokenizerJson, tokenizerFile);
  const tokenizer = fromLibrary(tokenizerFile, () => new Tokenizer(tokenizerJson, config));

  const idOf = (content: string, field: string): number => {
    const id = tokenizer.token_to_id(content);
    if (id === undefined) {
      throw new EngineError('bad_tokenizer', `${configFile}: ${field} ${JSON.stringify(content)} is not in the vocabulary`, {
        file: configFile,
      });
    }
    return id;
  };

  // An explicit `bos_token: null` (Qwen) means "no BOS"; only a config that does not
  // mention it at all (GPT-2's 26-byte file) falls back to the model's bos_token_id.
  const bosContent = config.bos_token === undefined ? undefined : tokenContent(config.bos_token);
  const bosTokenId =
    bosContent === undefined
      ? (generationConfig.bos_token_id ?? modelConfig.bos_token_id ?? null)
      : bosContent === null
        ? null
        : idOf(bosContent, 'bos_token');

  const eosContent = config.eos_token === undefined ? null : tokenContent(config.eos_token);
  const eosTokenIds = [
    ...new Set([
      ...(eosContent === null ? [] : [idOf(eosContent, 'eos_token')]),
      ...asList(generationConfig.eos_token_id),
      ...asList(modelConfig.eos_token_id),
    ]),
  ];

  const specialTokenIds = new Set<number>([...(bosTokenId === null ? [] : [bosTokenId]), ...eosTokenIds]);
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (token.special) specialTokenIds.add(id);

  // Highest id + 1 rather than the entry count, so that every valid id is < vocabSize.
  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  // transformers rebuilds the post-processor from add_bos_token (LlamaTokenizerFast.
  // update_post_processor), so the config decides; the probe tells us what tokenizer.json
  // already does, so BOS is added or removed at most once.
  // The probe runs tokenizer.json's own pipeline, which may be malformed in ways only running it shows.
  const probeWith = fromLibrary(tokenizerFile, () => tokenizer.encode('a').ids);
  const probeWithout = fromLibrary(tokenizerFile, () => tokenizer.encode('a', { add_special_tokens: false }).ids);
  const postProcessorAddsBos =
    bosTokenId !== null && probeWith.length === probeWithout.length + 1 && probeWith[0] === bosTokenId;
  const addBos = bosTokenId !== null && (config.add_bos_token ?? postProcessorAddsBos);

  // Cleanup ("dog ." -> "dog.") breaks decode(encode(x)) == x, and configs that omit the
  // flag (GPT-2) would otherwise get @huggingface/tokenizers' default of true.
  const cleanUpSpaces = config.clean_up_tokenization_spaces ?? false;

  const chatTemplate = findChatTemplate(folder, config);
  let compiledTemplate: Template | null = null;

  const tokenText = (id: number): string => {
    const text = tokenizer.id_to_token(id);
    if (text === undefined) throw new EngineError('bad_argument', `no token with id ${id} (vocabulary size ${vocabSize})`);
    return text;
  };

  return {
    vocabSize,
    bosTokenId,
    eosTokenIds,
    specialTokenIds,
    chatTemplate,
    tokenText,

    encode(text, { addSpecialTokens = true } = {}) {
      const ids = tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
      if (!addSpecialTokens || bosTokenId === null || addBos === postProcessorAddsBos) return ids;
      return addBos ? [bosTokenId, ...ids] : ids.slice(1);
    },

    decode(ids, { skipSpecialTokens = false } = {}) {
      // Ids without a vocabulary entry (a model's padded embedding rows, e.g. Qwen's
      // 151936 vs 151665) decode to nothing, as in the Rust tokenizers library.
      const kept = ids.filter(
        (id) => tokenizer.id_to_token(id) !== undefined && !(skipSpecialTokens && specialTokenIds.has(id)),
      );
      // @huggingface/tokenizers throws on an empty list.
      if (kept.length === 0) return '';
      return tokenizer.decode(kept, { clean_up_tokenization_spaces: cleanUpSpaces });
    },

    applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = false } = {}) {
      if (chatTemplate === null) throw new EngineError('bad_argument', 'this model has no chat template');
      // Special tokens are passed as strings, as transformers passes special_tokens_map.
      // (@huggingface/jinja itself provides raise_exception(), which templates use to
      // reject conversations; it surfaces below as bad_argument.)
      const context: Record<string, unknown> = {
        messages: messages.map(({ role, content }) => ({ role, content })),
        add_generation_prompt: addGenerationPrompt,
      };
      if (bosTokenId !== null) context.bos_token = tokenText(bosTokenId);
      if (eosTokenIds.length > 0) context.eos_token = eosContent ?? tokenText(eosTokenIds[0]);
      try {
        compiledTemplate ??= new Template(chatTemplate);
        return compiledTemplate.render(context);
      } catch (error) {
        throw new EngineError('bad_argument', `chat template failed: ${messageOf(error)}`);
      }
    },
  };
}
