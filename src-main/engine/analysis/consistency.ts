/**
 * The lens readings internal consistency is scored from (src-shared/consistency.ts): for
 * each generated token, every block's logit-lens top-1 at the position that predicted it,
 * under the variant's own plan. One forward pass over the prompt and the response (teacher
 * forcing gives the activations generation had), with a lens head per block reduced to its
 * argmax in the graph, so only [tokens x blocks] ids leave it.
 *
 * Why after generation rather than during it: a lens head per block on every decode step
 * multiplies each block's stream by the whole unembedding one token at a time (reading the
 * d_model x d_vocab matrix once per block per token), while one pass afterwards does the
 * same products for all tokens at once as matrix-matrix products (measured: README, Compare).
 *
 * With an answer set Y (the paper's form, METHODS.md 4), one more pass reads every block's
 * lens logits at the position that predicted the answer (the last generated token in Y)
 * and takes the argmax over Y's tokens alone.
 */
import type { ModelHandle } from '../engine';
import { EngineError } from '../errors';
import type { LensHead } from '../graph/taps';
import { hookName } from '../hooks/names';
import type { TextTokenizer } from '../model/tokenizer/types';
import { answerTokenFromText, spokenText } from './tokens';
import { blockAgreement, consistencyLayers, responseConsistency, tokenConsistency, type AnswerConsistency, type ConsistencyFrom } from '../../../src-shared/consistency';

const lensHeads = (nLayers: number, argmax: boolean): LensHead[] =>
  Array.from({ length: nLayers }, (_, layer) => ({ name: `consistency.lens.${layer}`, hook: hookName.residPost(layer), finalNorm: true, fuse: false, argmax }));

/** [token][block]: the lens top-1 id of each block at the position that predicted generated token t. */
export async function lensTopTokens(model: ModelHandle, plan: unknown, promptIds: number[], generated: number[]): Promise<number[][]> {
  if (generated.length === 0) return [];
  // Token t is predicted at position promptLength - 1 + t; the last token predicts nothing here.
  const ids = [...promptIds, ...generated.slice(0, -1)];
  const logitsAt = generated.map((_, t) => promptIds.length - 1 + t);
  const lenses = lensHeads(model.spec.nLayers, true);
  const outputs = await model.runLenses(ids, plan, lenses, { promptLength: promptIds.length, logitsAt });
  const top = lenses.map((lens) => outputs[lens.name].data as BigInt64Array); // [1, tokens] each
  return generated.map((_, t) => top.map((row) => Number(row[t])));
}

/** Y from its texts (first-token convention, with warnings); two texts naming one token are refused. */
export function answerSet(tokenizer: TextTokenizer, texts: readonly string[]): { ids: number[]; warnings: string[] } {
  const ids: number[] = [];
  const warnings: string[] = [];
  for (const text of texts) {
    const { id, warning } = answerTokenFromText(tokenizer, text, 'answer');
    const twin = ids.indexOf(id);
    if (twin >= 0) throw new EngineError('bad_argument', `answers ${JSON.stringify(texts[twin])} and ${JSON.stringify(text)} are the same token ${JSON.stringify(tokenizer.tokenText(id))} (#${id}); each answer must be its own token`);
    ids.push(id);
    if (warning) warnings.push(warning);
  }
  return { ids, warnings };
}

/**
 * The paper's IC at the answer: ŷ_l = argmax over Y of block l's lens logits at the
 * position that predicted the response's last token of Y, against ŷ_N = that token.
 * When the response emits no token of Y, `at` is null and a warning names a generated
 * token spelt like an answer but tokenized otherwise (" True" written where "True" was asked).
 */
export async function answerConsistency(model: ModelHandle, plan: unknown, promptIds: number[], generated: number[], answers: { ids: number[]; warnings: string[] }, from: ConsistencyFrom = 0): Promise<AnswerConsistency> {
  const { tokenizer } = model;
  const record = { answers: answers.ids, answerTexts: answers.ids.map((id) => tokenizer.tokenText(id)), warnings: [...answers.warnings] };
  const index = generated.findLastIndex((id) => answers.ids.includes(id));
  if (index < 0) {
    record.warnings.push(missingAnswer(tokenizer, answers.ids, generated));
    return { ...record, at: null };
  }
  const ids = [...promptIds, ...generated.slice(0, index)];
  const lenses = lensHeads(model.spec.nLayers, false);
  const outputs = await model.runLenses(ids, plan, lenses, { promptLength: promptIds.length, logitsAt: [ids.length - 1] });
  const readings = lenses.map((lens) => {
    const logits = outputs[lens.name].data as Float32Array; // [1, 1, d_vocab]
    return answers.ids.reduce((best, id) => (logits[id] > logits[best] ? id : best), answers.ids[0]);
  });
  const token = generated[index];
  return { ...record, at: { index, token, readings, score: tokenConsistency(readings, token, from) } };
}

/** Why no answer was found, naming generated tokens that read like an answer (case and spaces aside). */
function missingAnswer(tokenizer: TextTokenizer, answers: number[], generated: number[]): string {
  const spelt = (id: number): string => spokenText(tokenizer, id).trim().toLowerCase();
  const wanted = new Set(answers.map(spelt));
  const nearly = [...new Set(generated.filter((id) => wanted.has(spelt(id))))];
  const list = answers.map((id) => `${JSON.stringify(spokenText(tokenizer, id))} (#${id})`).join(', ');
  const hint = nearly.length
    ? `; it emits ${nearly.map((id) => `${JSON.stringify(spokenText(tokenizer, id))} (#${id})`).join(', ')}: write the answers as the model tokenizes them (with or without a leading space, same case)`
    : '';
  return `the response never emits an answer token (${list}), so there is no answer to score${hint}`;
}

export interface ConsistencyRequest {
  plan: unknown;
  promptIds: number[];
  generated: number[];
  fromLayer?: ConsistencyFrom;
  /** Y as texts; empty or absent: full-vocabulary agreement only. */
  answers?: readonly string[];
}

export interface ConsistencyResult {
  /** L': the blocks the scores count. */
  layers: number[];
  /** [token][block]: every block's full-vocabulary lens top-1. */
  lensTop1: number[][];
  /** [token][block]: does the block's top-1 equal the generated token? */
  agree: boolean[][];
  /** [token]: the share of L' that agrees. */
  scores: number[];
  /** The response's IC: the mean token score; null with no generated token. */
  score: number | null;
  /** The paper's IC at the answer over Y; null without answers. */
  answer: AnswerConsistency | null;
  forwardPasses: number;
}

/** Internal consistency of a generated response: full-vocabulary agreement per token, and over Y at the answer when answers are given. */
export async function internalConsistency(model: ModelHandle, request: ConsistencyRequest): Promise<ConsistencyResult> {
  const { plan, promptIds, generated, fromLayer = 0, answers = [] } = request;
  const { nLayers } = model.spec;
  const layers = consistencyLayers(nLayers, fromLayer);
  if (layers.length === 0) throw new EngineError('bad_argument', `from layer ${fromLayer}: this model has ${nLayers} blocks and the score counts blocks 0..${Math.max(0, nLayers - 2)} (all but the last), so it must start at ${Math.max(0, nLayers - 2)} or before`);
  const set = answers.length > 0 ? answerSet(model.tokenizer, answers) : null;
  const lensTop1 = await lensTopTokens(model, plan, promptIds, generated);
  const answer = set ? await answerConsistency(model, plan, promptIds, generated, set, fromLayer) : null;
  const tokens = generated.map((id, t) => ({ id, lensTop1: lensTop1[t] }));
  return {
    layers,
    lensTop1,
    agree: tokens.map((token) => blockAgreement(token.lensTop1, token.id)),
    scores: tokens.map((token) => tokenConsistency(token.lensTop1, token.id, fromLayer)),
    score: responseConsistency(tokens, fromLayer),
    answer,
    forwardPasses: (generated.length > 0 ? 1 : 0) + (answer?.at ? 1 : 0),
  };
}
