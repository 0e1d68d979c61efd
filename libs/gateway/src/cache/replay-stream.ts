import type { ChatCompletion, ChatCompletionChunk } from '../providers/chat.types';

export interface ReplayOptions {
  /**
   * Longest text delta, in characters (code points, so no surrogate pair is split).
   * @default 256
   */
  chunkChars?: number;
  /**
   * Whether to end with the usage chunk (`choices: []`), as OpenAI does when the request
   * asked for `stream_options.include_usage`.
   * @default true
   */
  includeUsage?: boolean;
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];
type FinishReason = ChatCompletionChunk['choices'][number]['finish_reason'];

/**
 * A cached full completion as the chunk sequence OpenAI would have streamed: per choice a
 * role chunk, text deltas, tool-call deltas (id and name first, then arguments) and a
 * finish chunk; then, if the completion has usage, one usage chunk with no choices.
 */
export function replayAsChunks(
  completion: ChatCompletion,
  options: ReplayOptions = {},
): ChatCompletionChunk[] {
  const chunkChars = Math.max(1, options.chunkChars ?? 256);
  const base: Omit<ChatCompletionChunk, 'choices'> = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint == null
      ? {}
      : { system_fingerprint: completion.system_fingerprint }),
  };
  const chunk = (index: number, delta: Delta, finishReason: FinishReason = null) => ({
    ...base,
    choices: [{ index, delta, finish_reason: finishReason, logprobs: null }],
  });

  const chunks: ChatCompletionChunk[] = [];
  for (const choice of completion.choices) {
    const { index, message } = choice;
    chunks.push(chunk(index, { role: 'assistant', content: '' }));
    for (const text of split(message.content, chunkChars)) {
      chunks.push(chunk(index, { content: text }));
    }
    for (const text of split(message.refusal, chunkChars)) {
      chunks.push(chunk(index, { refusal: text }));
    }
    (message.tool_calls ?? []).forEach((call, callIndex) => {
      if (call.type !== 'function') return;
      chunks.push(
        chunk(index, {
          tool_calls: [
            {
              index: callIndex,
              id: call.id,
              type: 'function',
              function: { name: call.function.name, arguments: '' },
            },
          ],
        }),
      );
      for (const text of split(call.function.arguments, chunkChars)) {
        chunks.push(
          chunk(index, { tool_calls: [{ index: callIndex, function: { arguments: text } }] }),
        );
      }
    });
    chunks.push(chunk(index, {}, choice.finish_reason));
  }
  if ((options.includeUsage ?? true) && completion.usage !== undefined) {
    chunks.push({ ...base, choices: [], usage: completion.usage });
  }
  return chunks;
}

function split(text: string | null | undefined, size: number): string[] {
  if (text == null || text === '') return [];
  const codePoints = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += size) {
    pieces.push(codePoints.slice(i, i + size).join(''));
  }
  return pieces;
}
