import type { ChatCompletion, ChatCompletionChunk } from '../providers/chat.types';
import { replayAsChunks } from './replay-stream';

function completion(
  message: Partial<ChatCompletion['choices'][number]['message']>,
): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-test',
    system_fingerprint: 'fp_1',
    choices: [
      {
        index: 0,
        finish_reason: message.tool_calls ? 'tool_calls' : 'stop',
        logprobs: null,
        message: { role: 'assistant', content: null, refusal: null, ...message },
      },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, cached_tokens: 2 },
  };
}

/** What a client rebuilds from the chunks, the way OpenAI's SDK accumulates a stream. */
function accumulate(chunks: ChatCompletionChunk[]) {
  let content = '';
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  let finish: string | null = null;
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        calls[call.index] ??= { arguments: '' };
        const target = calls[call.index];
        if (call.id !== undefined) target.id = call.id;
        if (call.function?.name !== undefined) target.name = call.function.name;
        target.arguments += call.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  return { content, calls, finish };
}

describe('replayAsChunks', () => {
  it('streams text as role, content, finish and usage chunks', () => {
    const chunks = replayAsChunks(completion({ content: 'Hello, world! 👋🏽' }), { chunkChars: 5 });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-1')).toBe(
      true,
    );
    expect(chunks.every((c) => c.model === 'gpt-test' && c.system_fingerprint === 'fp_1')).toBe(
      true,
    );
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.slice(1, -2).map((c) => c.choices[0].delta.content)).toEqual([
      'Hello',
      ', wor',
      'ld! 👋',
      '🏽',
    ]);
    const finish = chunks.at(-2)!;
    expect(finish.choices).toEqual([
      { index: 0, delta: {}, finish_reason: 'stop', logprobs: null },
    ]);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({
      prompt_tokens: 5,
      completion_tokens: 3,
      total_tokens: 8,
      cached_tokens: 2,
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    expect(accumulate(chunks)).toEqual({ content: 'Hello, world! 👋🏽', calls: [], finish: 'stop' });
  });

  it('streams tool calls: id and name first, then the arguments', () => {
    const chunks = replayAsChunks(
      completion({
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":1,"b":2}' } },
          { id: 'call_2', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      }),
      { chunkChars: 8 },
    );
    expect(chunks[1].choices[0].delta.tool_calls).toEqual([
      { index: 0, id: 'call_1', type: 'function', function: { name: 'add', arguments: '' } },
    ]);
    expect(chunks[2].choices[0].delta.tool_calls).toEqual([
      { index: 0, function: { arguments: '{"a":1,"' } },
    ]);
    expect(accumulate(chunks)).toEqual({
      content: '',
      calls: [
        { id: 'call_1', name: 'add', arguments: '{"a":1,"b":2}' },
        { id: 'call_2', name: 'now', arguments: '{}' },
      ],
      finish: 'tool_calls',
    });
  });

  it('leaves out the usage chunk when asked, or when there is no usage', () => {
    const withUsage = completion({ content: 'hi' });
    expect(replayAsChunks(withUsage, { includeUsage: false }).at(-1)!.choices).toHaveLength(1);
    const { usage: _usage, ...withoutUsage } = withUsage;
    expect(replayAsChunks(withoutUsage).at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('replays every choice under its own index', () => {
    const two = completion({ content: 'a' });
    two.choices.push({
      ...two.choices[0],
      index: 1,
      message: { ...two.choices[0].message, content: 'b' },
    });
    const chunks = replayAsChunks(two, { includeUsage: false });
    expect(chunks.map((c) => [c.choices[0].index, c.choices[0].delta.content ?? null])).toEqual([
      [0, ''],
      [0, 'a'],
      [0, null],
      [1, ''],
      [1, 'b'],
      [1, null],
    ]);
  });
});
