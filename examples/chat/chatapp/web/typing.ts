// Who is typing: the page's side of the Typing stream. What the user does
// goes out as requests (typing, then not after a pause or a message sent);
// who else in the room types comes back, and shows under the messages.
import type { ChatServiceClient } from "../../../../gen/ts/example/chat/v1/chat_sio.js";
import type { TypingRequest } from "../../../../gen/ts/example/chat/v1/chat_pb.js";
import { $ } from "./view.js";

// How long after the last keystroke the user counts as no longer typing.
const pauseMs = 3000;

/** An AsyncIterable fed by push: the requests of one stream. */
class Outbox<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** Who is typing, in words. */
function describe(names: string[]): string {
  switch (names.length) {
    case 0:
      return "";
    case 1:
      return `${names[0]} is typing…`;
    case 2:
      return `${names[0]} and ${names[1]} are typing…`;
    default:
      return `${names.length} people are typing…`;
  }
}

function show(names: string[]): void {
  const el = $("typing");
  el.textContent = describe(names);
  el.dataset.names = names.join(",");
}

/** One Typing stream at a time: started on each join, ended on leaving. */
export class TypingIndicator {
  private outbox: Outbox<Partial<TypingRequest>> | undefined;
  private abort: AbortController | undefined;
  private typing = false;
  private pause: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly chat: ChatServiceClient) {}

  /** Opens the stream for the room just joined (ending any before). */
  start(): void {
    this.stop();
    const outbox = new Outbox<Partial<TypingRequest>>();
    const abort = new AbortController();
    this.outbox = outbox;
    this.abort = abort;
    void this.listen(outbox, abort.signal);
  }

  /** Ends the stream. */
  stop(): void {
    clearTimeout(this.pause);
    this.typing = false;
    this.outbox?.close();
    this.abort?.abort();
    this.outbox = this.abort = undefined;
  }

  /** The user typed: say so once, and say it stopped after a pause. */
  input(): void {
    if (!this.typing) {
      this.typing = true;
      this.outbox?.push({ typing: true });
    }
    clearTimeout(this.pause);
    this.pause = setTimeout(() => this.idle(), pauseMs);
  }

  /** The user stopped typing (paused, or sent the message). */
  idle(): void {
    clearTimeout(this.pause);
    if (!this.typing) return;
    this.typing = false;
    this.outbox?.push({ typing: false });
  }

  private async listen(outbox: Outbox<Partial<TypingRequest>>, signal: AbortSignal): Promise<void> {
    try {
      for await (const res of this.chat.typing(outbox, { signal })) show(res.typing);
    } catch {
      // A lost connection or a new stream ends this one; the next join
      // starts another. The indicator is a nicety: no error is shown.
    } finally {
      if (this.abort?.signal === signal || this.abort === undefined) show([]);
    }
  }
}
