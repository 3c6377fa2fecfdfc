import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../../test/expect-engine-error';
import { writePhi3Tokenizer } from '../../../test/fixtures/phi3-tokenizer';
import { sharedPath } from '../../../test/shared-paths';
import { GEMMA2_CHAT_TEMPLATE, GEMMA3_CHAT_TEMPLATE } from '../../../test/fixtures/gemma-chat-templates';
import { loadHfTokenizer } from './hf';
import type { TextTokenizer } from './types';

const FOLDERS = {
  gpt2: 'openai-community__gpt2',
  smollm2: 'HuggingFaceTB__SmolLM2-135M-Instruct',
  tinyllama: 'TinyLlama__TinyLlama-1.1B-Chat-v1.0',
  qwen25: 'Qwen__Qwen2.5-0.5B-Instruct',
  qwen3: 'Qwen__Qwen3-0.6B',
} as const;
type Name = keyof typeof FOLDERS;
const NAMES = Object.keys(FOLDERS) as Name[];

const SENTENCE = 'Hello world, the dog ran.';
// hf-meta/README.md: "Reference encodings ... (special tokens per its own config)".
const REFERENCE: Record<Name, number[]> = {
  gpt2: [15496, 995, 11, 262, 3290, 4966, 13],
  smollm2: [19556, 905, 28, 260, 2767, 7674, 30],
  tinyllama: [1, 15043, 3186, 29892, 278, 11203, 6350, 29889],
  qwen25: [9707, 1879, 11, 279, 5562, 10613, 13],
  qwen3: [9707, 1879, 11, 279, 5562, 10613, 13],
};

/** Loaded once per file: the Qwen tokenizer.json files are 7-11 MB. */
const tokenizers = {} as Record<Name, TextTokenizer>;
beforeAll(() => {
  for (const name of NAMES) tokenizers[name] = loadHfTokenizer(sharedPath('hf-meta', FOLDERS[name]));
});

/** Temp folders for broken or edited configs; tokenizer.json is linked, never copied. */
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
function tempFolder(linkTokenizerFrom: Name | null, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tiller-hf-tok-'));
  tempDirs.push(dir);
  if (linkTokenizerFrom !== null) {
    symlinkSync(sharedPath('hf-meta', FOLDERS[linkTokenizerFrom], 'tokenizer.json'), join(dir, 'tokenizer.json'));
  }
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

describe('encode', () => {
  it.each(NAMES)('%s reproduces the hf-meta reference encoding', (name) => {
    expect(tokenizers[name].encode(SENTENCE)).toEqual(REFERENCE[name]);
  });

  it.each(NAMES)('%s adds no BOS with addSpecialTokens: false', (name) => {
    const withoutBos = REFERENCE[name][0] === tokenizers[name].bosTokenId ? REFERENCE[name].slice(1) : REFERENCE[name];
    expect(tokenizers[name].encode(SENTENCE, { addSpecialTokens: false })).toEqual(withoutBos);
  });

  it('follows add_bos_token over what the tokenizer.json post-processor does', () => {
    const tinyllamaNoBos = loadHfTokenizer(
      tempFolder('tinyllama', { 'tokenizer_config.json': '{"bos_token": "<s>", "add_bos_token": false}' }),
    );
    expect(tinyllamaNoBos.encode(SENTENCE)).toEqual(REFERENCE.tinyllama.slice(1));
    const gpt2WithBos = loadHfTokenizer(
      tempFolder('gpt2', { 'tokenizer_config.json': '{"bos_token": "<|endoftext|>", "add_bos_token": true}' }),
    );
    expect(gpt2WithBos.encode(SENTENCE)).toEqual([50256, ...REFERENCE.gpt2]);
    expect(gpt2WithBos.encode(SENTENCE, { addSpecialTokens: false })).toEqual(REFERENCE.gpt2);
  });
});

describe('decode', () => {
  const texts = [SENTENCE, 'Ünïcödé 🙂 and\nnew lines,  double  spaces, and "quotes" .', '12345 + 678 = 13023'];

  it.each(NAMES)('%s round-trips text with skipSpecialTokens', (name) => {
    for (const text of texts) expect(tokenizers[name].decode(tokenizers[name].encode(text), { skipSpecialTokens: true })).toBe(text);
  });

  it('keeps special tokens unless asked to skip them', () => {
    const ids = tokenizers.tinyllama.encode('Hello');
    expect(tokenizers.tinyllama.decode(ids)).toBe('<s> Hello');
    expect(tokenizers.tinyllama.decode(ids, { skipSpecialTokens: true })).toBe('Hello');
    const chat = tokenizers.qwen25.encode('<|im_start|>user\nHi<|im_end|>');
    expect(chat[0]).toBe(151644);
    expect(tokenizers.qwen25.decode(chat, { skipSpecialTokens: true })).toBe('user\nHi');
  });

  it('decodes nothing to the empty string and drops ids past the vocabulary (padded embedding rows)', () => {
    expect(tokenizers.gpt2.decode([])).toBe('');
    expect(tokenizers.qwen25.decode([9707, 151900])).toBe('Hello');
  });
});

describe('vocabulary and special tokens', () => {
  it.each([
    ['gpt2', 50257, 50256, [50256]],
    ['smollm2', 49152, 1, [2]],
    ['tinyllama', 32000, 1, [2]],
    ['qwen25', 151665, null, [151645, 151643]],
    ['qwen3', 151669, null, [151645, 151643]],
  ] as const)('%s: vocab %i, BOS %s, EOS %j', (name, vocabSize, bos, eos) => {
    expect(tokenizers[name].vocabSize).toBe(vocabSize);
    expect(tokenizers[name].bosTokenId).toBe(bos);
    expect(tokenizers[name].eosTokenIds).toEqual(eos);
  });

  it('marks added special tokens', () => {
    expect([...tokenizers.gpt2.specialTokenIds]).toEqual([50256]);
    expect([...tokenizers.tinyllama.specialTokenIds].sort((a, b) => a - b)).toEqual([0, 1, 2]);
    expect(tokenizers.smollm2.specialTokenIds.size).toBe(17);
    for (const id of [151643, 151644, 151645]) expect(tokenizers.qwen25.specialTokenIds.has(id)).toBe(true);
    expect(tokenizers.qwen25.specialTokenIds.has(9707)).toBe(false);
  });

  it('shows raw vocabulary entries', async () => {
    expect(tokenizers.gpt2.tokenText(262)).toBe('Ġthe');
    expect(tokenizers.tinyllama.tokenText(15043)).toBe('▁Hello');
    expect(tokenizers.tinyllama.tokenText(13)).toBe('<0x0A>');
    expect(tokenizers.qwen3.tokenText(151645)).toBe('<|im_end|>');
    await expectEngineError(() => tokenizers.gpt2.tokenText(50257), 'bad_argument', '50257');
  });
});

describe('chat templates', () => {
  const user = { role: 'user', content: 'Hi there' } as const;
  const system = { role: 'system', content: 'You are terse.' } as const;

  it('renders SmolLM2 ChatML, with its default system prompt', () => {
    expect(tokenizers.smollm2.applyChatTemplate([user], { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tokenizers.smollm2.applyChatTemplate([system, user])).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n',
    );
  });

  it('renders TinyLlama Zephyr with eos_token and trimmed block newlines', () => {
    expect(tokenizers.tinyllama.applyChatTemplate([system, user], { addGenerationPrompt: true })).toBe(
      '<|system|>\nYou are terse.</s>\n<|user|>\nHi there</s>\n<|assistant|>\n',
    );
    expect(tokenizers.tinyllama.applyChatTemplate([user, { role: 'assistant', content: 'Hello!' }])).toBe(
      '<|user|>\nHi there</s>\n<|assistant|>\nHello!</s>\n',
    );
  });

  it('renders Qwen2.5 with and without a system message, and Qwen3', () => {
    expect(tokenizers.qwen25.applyChatTemplate([system, user], { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tokenizers.qwen25.applyChatTemplate([user])).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi there<|im_end|>\n',
    );
    expect(tokenizers.qwen3.applyChatTemplate([user], { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it("renders Phi-3's template from its tokenizer_config.json (fixture), whose tokens encode as Phi-3's ids", () => {
    const folder = tempFolder(null, {});
    writePhi3Tokenizer(folder);
    const phi3 = loadHfTokenizer(folder);
    expect(phi3.applyChatTemplate([system, user], { addGenerationPrompt: true })).toBe('<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\n');
    // Without a generation prompt the conversation ends with eos_token.
    expect(phi3.applyChatTemplate([user, { role: 'assistant', content: 'Hello!' }])).toBe('<|user|>\nHi there<|end|>\n<|assistant|>\nHello!<|end|>\n<|endoftext|>');
    // No BOS (add_bos_token false); <|user|>, <|end|> and <|assistant|> are single added tokens.
    const ids = phi3.encode(phi3.applyChatTemplate([user], { addGenerationPrompt: true }));
    expect(ids[0]).toBe(32010);
    expect(ids.filter((id) => id >= 32000)).toEqual([32010, 32007, 32001]);
  });

  it("renders Gemma 2's and Gemma 3's templates from a tokenizer_config.json: user and model turns, Gemma 3 folding the system message in", async () => {
    // Gemma's templates over TinyLlama's tokenizer (hf-meta keeps no Gemma tokenizer): bos_token is its <s>.
    const load = (template: string) => loadHfTokenizer(tempFolder('tinyllama', { 'tokenizer_config.json': JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: template }) }));
    const gemma2 = load(GEMMA2_CHAT_TEMPLATE);
    expect(gemma2.applyChatTemplate([user, { role: 'assistant', content: ' Hello! ' }, user], { addGenerationPrompt: true })).toBe(
      '<s><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n',
    );
    await expectEngineError(() => gemma2.applyChatTemplate([system, user]), 'bad_argument', 'System role not supported');
    const gemma3 = load(GEMMA3_CHAT_TEMPLATE);
    expect(gemma3.applyChatTemplate([system, user], { addGenerationPrompt: true })).toBe('<s><start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\n');
    expect(gemma3.applyChatTemplate([user])).toBe('<s><start_of_turn>user\nHi there<end_of_turn>\n');
    await expectEngineError(() => gemma3.applyChatTemplate([user, user]), 'bad_argument', 'Conversation roles must alternate');
  });

  it('has no template for GPT-2', async () => {
    expect(tokenizers.gpt2.chatTemplate).toBeNull();
    await expectEngineError(() => tokenizers.gpt2.applyChatTemplate([user]), 'bad_argument', 'no chat template');
  });

  it('reads chat_template.jinja and reports render failures as bad_argument', async () => {
    const template =
      "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be user') }}{% endif %}" +
      "{{ bos_token }}[{{ messages[0]['content'] }}]{{ eos_token }}";
    const tokenizer = loadHfTokenizer(tempFolder('gpt2', { 'tokenizer_config.json': '{}', 'chat_template.jinja': template }));
    expect(tokenizer.chatTemplate).toBe(template);
    // No bos/eos in this config and no config.json: the template sees them undefined.
    expect(tokenizer.applyChatTemplate([user])).toBe('[Hi there]');
    await expectEngineError(() => tokenizer.applyChatTemplate([system]), 'bad_argument', 'first message must be user');
  });

  it('uses the "default" entry of a list of named templates', () => {
    const config = JSON.stringify({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] });
    expect(loadHfTokenizer(tempFolder('gpt2', { 'tokenizer_config.json': config })).chatTemplate).toBe('D');
  });
});

describe('bad folders', () => {
  const load =
    (link: Name | null, files: Record<string, string>): (() => TextTokenizer) =>
    () =>
      loadHfTokenizer(tempFolder(link, files));

  it('names a missing tokenizer.json or tokenizer_config.json', async () => {
    await expectEngineError(load(null, { 'tokenizer_config.json': '{}' }), 'bad_tokenizer', 'tokenizer.json');
    await expectEngineError(load('gpt2', {}), 'bad_tokenizer', 'tokenizer_config.json');
  });

  it('names malformed files', async () => {
    const emptyConfig = { 'tokenizer_config.json': '{}' };
    await expectEngineError(load(null, { ...emptyConfig, 'tokenizer.json': '{"model": ' }), 'bad_tokenizer', 'tokenizer.json', 'not valid JSON');
    await expectEngineError(load(null, { ...emptyConfig, 'tokenizer.json': '{}' }), 'bad_tokenizer', 'tokenizer.json', 'model');
    const badFlag = { 'tokenizer_config.json': '{"add_bos_token": "yes"}' };
    await expectEngineError(load('gpt2', badFlag), 'bad_tokenizer', 'tokenizer_config.json', 'add_bos_token');
    const unknownEos = { 'tokenizer_config.json': '{"eos_token": "</s>"}' };
    await expectEngineError(load('gpt2', unknownEos), 'bad_tokenizer', 'tokenizer_config.json', 'eos_token "</s>"');
  });
});
