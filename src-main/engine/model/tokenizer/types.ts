export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What the engine needs from a tokenizer, whatever file it came from. */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** Ids of special tokens (BOS, EOS, added control tokens) that decode(skipSpecial) drops. */
  readonly specialTokenIds: ReadonlySet<number>;
  /** Encode text. `addSpecialTokens` (default true) adds BOS etc. as the tokenizer's config says. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Decode ids to text; `skipSpecialTokens` defaults to false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The vocabulary entry for one id, for display (e.g. "▁time", "<0x0A>", "Ġdog"). */
  tokenText(id: number): string;
  /** The Jinja chat template from tokenizer_config.json, or null when the model has none. */
  readonly chatTemplate: string | null;
  /** Render messages through the chat template; throws EngineError('bad_argument') without one. */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}
