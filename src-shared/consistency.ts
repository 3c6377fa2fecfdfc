/**
 * Internal consistency (METHODS.md 4, Xie et al. 2024): how far the layers' own readings
 * agree with what the model finally said. For each generated token the engine keeps the
 * logit lens's top-1 token at every block (lensTop1, over the whole vocabulary); a block
 * agrees when that is the generated token. A token's score is the share of agreeing blocks
 * among all but the last (whose lens is the model's output itself: METHODS.md's layer set
 * 1..N-1, uniform weights); a response's is the mean over its tokens. Shared by the engine
 * and the Compare view.
 */

/** Per block: does its lens top-1 equal the generated token? */
export function blockAgreement(lensTop1: readonly number[], token: number): boolean[] {
  return lensTop1.map((id) => id === token);
}

/** The share of blocks before the last whose lens top-1 is the generated token (the only block when there is one). */
export function tokenConsistency(lensTop1: readonly number[], token: number): number {
  const blocks = lensTop1.length > 1 ? lensTop1.slice(0, -1) : lensTop1;
  return blocks.length === 0 ? 0 : blocks.filter((id) => id === token).length / blocks.length;
}

/** The mean token score of a response's tokens that carry a lens reading; null when none does. */
export function responseConsistency(tokens: readonly { id: number; lensTop1?: number[] }[]): number | null {
  const scored = tokens.filter((token): token is { id: number; lensTop1: number[] } => token.lensTop1 !== undefined);
  if (scored.length === 0) return null;
  return scored.reduce((sum, token) => sum + tokenConsistency(token.lensTop1, token.id), 0) / scored.length;
}
