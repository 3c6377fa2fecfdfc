/**
 * An SAE read on the model's own activations: the prompt is run once with a capture at
 * the SAE's hook (every position), and each position's activation is encoded
 * (saelens.ts). The SAE is checked against the model first, so a mismatch is refused
 * with its reason before anything runs.
 */
import type { ModelHandle } from '../engine';
import { topFeatures, type FeatureActivation, type Sae } from './saelens';

export interface TokenFeatures {
  id: number;
  text: string;
  features: FeatureActivation[];
}

export async function saeFeaturesOnPrompt(model: ModelHandle, sae: Sae, ids: number[], top: number): Promise<{ hook: string; tokens: TokenFeatures[] }> {
  sae.checkModel(model.spec);
  const { hook } = sae.info;
  const { captures } = await model.run(ids, { captures: [{ hook, positions: 'all' }] });
  const acts = sae.encode(captures[hook].data);
  const rows = topFeatures(acts, sae.info.dSae, top);
  return { hook, tokens: ids.map((id, p) => ({ id, text: model.tokenizer.tokenText(id), features: rows[p] })) };
}
