/**
 * How the Compare view draws internal consistency (src-shared/consistency.ts): a strip
 * under each generated token, one segment per block left to right, filled where that
 * block's logit lens already says the token; the text of the token's details; the score
 * over the answer set in a column's header; and the choices of where the scores start.
 */
import { formatRanges } from './format';
import { blockAgreement, consistencyLayers, tokenConsistency, type AnswerConsistency, type ConsistencyFrom } from '../../../../src-shared/consistency';

const AGREE = 'var(--accent)';
const DISAGREE = 'var(--border-strong)';
/** How much of its colour a block the score leaves out keeps (seen, but not counted). */
const UNSCORED_PERCENT = 35;

/** A CSS background image: hard-stopped segments, one per block, agree or disagree; faint before the first block the score counts. */
export function agreementStrip(lensTop1: readonly number[], token: number, from: ConsistencyFrom = 0): string {
  const agree = blockAgreement(lensTop1, token);
  const width = 100 / agree.length;
  const first = consistencyLayers(lensTop1.length, from)[0] ?? lensTop1.length;
  const stops = agree.map((yes, block) => {
    const colour = yes ? AGREE : DISAGREE;
    return `${block < first ? `color-mix(in srgb, ${colour} ${UNSCORED_PERCENT}%, transparent)` : colour} ${(block * width).toFixed(3)}% ${((block + 1) * width).toFixed(3)}%`;
  });
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** "3 of 4 blocks before the last (agreeing: 0-1, 3-4)": how many blocks of the layer set agree, and which ones of all blocks do. */
export function agreementText(lensTop1: readonly number[], token: number, from: ConsistencyFrom = 0): string {
  const agree = blockAgreement(lensTop1, token);
  const layers = consistencyLayers(lensTop1.length, from);
  const count = Math.round(tokenConsistency(lensTop1, token, from) * layers.length);
  const blocks = agree.flatMap((yes, block) => (yes ? [block] : []));
  const set = from === 0 ? ' before the last' : layers.length > 0 ? ` ${formatRanges(layers)}` : '';
  return `${count} of ${layers.length} blocks${set}${blocks.length > 0 ? ` (agreeing: ${formatRanges(blocks)})` : ''}`;
}

/** A column header's score over the answer set: its label and the details behind it. */
export function answerSummary(answer: AnswerConsistency, from: ConsistencyFrom): { label: string; title: string; warned: boolean } {
  const set = `{${answer.answerTexts.map((text) => JSON.stringify(text)).join(', ')}}`;
  const warnings = answer.warnings.length > 0 ? `\n${answer.warnings.join('\n')}` : '';
  const warned = answer.warnings.length > 0;
  const { at } = answer;
  if (at === null) return { label: 'IC(Y) –', title: `Internal consistency over the answer set ${set}: no answer to score.${warnings}`, warned };
  const layers = consistencyLayers(at.readings.length, from);
  if (layers.length === 0) return { label: 'IC(Y) –', title: `The model has ${at.readings.length} blocks: the scores cannot start at block ${from}.${warnings}`, warned };
  const score = tokenConsistency(at.readings, at.token, from);
  const token = JSON.stringify(answer.answerTexts[answer.answers.indexOf(at.token)] ?? `#${at.token}`);
  return {
    label: `IC(Y) ${score.toFixed(2)}`,
    title: `Internal consistency over the answer set ${set} at the answer ${token} (token #${at.index}): the share of blocks ${formatRanges(layers)} whose lens, over these answers only, already picks it.${warnings}`,
    warned,
  };
}

/** Where the scores may start for a model of `nLayers` blocks (all but the last are scored); the current choice always among them. */
export function fromLayerOptions(nLayers: number | null, current: ConsistencyFrom): { value: ConsistencyFrom; label: string }[] {
  const options: { value: ConsistencyFrom; label: string }[] = [
    { value: 0, label: 'Every block but the last' },
    { value: 'middle', label: nLayers === null ? 'From the middle block' : `From the middle block (${consistencyLayers(nLayers, 'middle')[0] ?? '–'})` },
  ];
  const last = nLayers === null ? 0 : nLayers - 2;
  for (let block = 1; block <= last; block++) options.push({ value: block, label: `From block ${block}` });
  if (!options.some((option) => option.value === current)) options.push({ value: current, label: `From block ${current}` });
  return options;
}

/** The answers field's text as the answer set: comma-separated, spaces kept (" True" is not "True"), empty entries dropped. */
export function parseAnswers(text: string): string[] {
  return text.split(',').filter((answer) => answer.length > 0);
}
