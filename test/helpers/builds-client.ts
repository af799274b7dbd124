import { createHash } from 'node:crypto';

/** What a client of /v1/builds does: submit, follow (SSE or polling), fetch the binary. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export async function call(method: string, url: string, token: string, body?: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method,
    redirect: 'manual',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('application/json');
  return { status: res.status, headers: res.headers, body: json && text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  /** performance.now() when it arrived. */
  readonly at: number;
}

/** Reads `GET /v1/builds/{id}/events` until the stream ends (the build finished) or the signal fires. */
export async function readEvents(url: string, token: string, signal?: AbortSignal): Promise<SseEvent[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
  if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}: ${await res.text()}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown>, at: performance.now() });
    }
  }
  return events;
}

/** Polls a build's status until it is final (bounded). */
export async function pollUntilFinal(base: string, id: string, token: string, ms = 30_000, every = 100): Promise<Answer> {
  const deadline = Date.now() + ms;
  for (;;) {
    const answer = await call('GET', `${base}/v1/builds/${id}`, token);
    if (answer.status !== 200 || !['queued', 'building'].includes(String(answer.body.status))) return answer;
    if (Date.now() > deadline) throw new Error(`build ${id} still ${String(answer.body.status)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function downloadSha256(url: string): Promise<{ status: number; sha256: string; size: number }> {
  const res = await fetch(url);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}
