/**
 * How the Compare view draws internal consistency (src-shared/consistency.ts): a strip
 * under each generated token, one segment per block left to right, filled where that
 * block's logit lens already says the token; and the text of the token's details.
 */
import { blockAgreement, tokenConsistency } from '../../../../src-shared/consistency';

const AGREE = 'var(--accent)';
const DISAGREE = 'var(--border-strong)';

/** A CSS background image: hard-stopped segments, one per block, agree or disagree. */
export function agreementStrip(lensTop1: readonly number[], token: number): string {
  const agree = blockAgreement(lensTop1, token);
  const width = 100 / agree.length;
  const stops = agree.map((yes, block) => `${yes ? AGREE : DISAGREE} ${(block * width).toFixed(3)}% ${((block + 1) * width).toFixed(3)}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** "4 of 7 blocks (3-6, 8)": how many blocks before the last agree, and which ones of all blocks do. */
export function agreementText(lensTop1: readonly number[], token: number): string {
  const agree = blockAgreement(lensTop1, token);
  const before = Math.max(1, agree.length - 1);
  const count = Math.round(tokenConsistency(lensTop1, token) * before);
  const blocks = agree.flatMap((yes, block) => (yes ? [block] : []));
  return `${count} of ${before} blocks before the last${blocks.length > 0 ? ` (agreeing: ${ranges(blocks)})` : ''}`;
}

/** Sorted integers as ranges: [0, 1, 2, 5] -> "0-2, 5". */
function ranges(values: number[]): string {
  const parts: string[] = [];
  let start = values[0];
  for (let i = 1; i <= values.length; i++) {
    if (values[i] === values[i - 1] + 1) continue;
    parts.push(start === values[i - 1] ? `${start}` : `${start}-${values[i - 1]}`);
    start = values[i];
  }
  return parts.join(', ');
}
