// Drawing the room: messages in order, each once, with who sent them and
// when; and who is here.
import type { ChatMessage } from "../../../../gen/ts/example/chat/v1/chat_pb.js";

/** Returns the element with id, which the page must have. */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el as T;
}

// The same words the server asks about (chatapp/confirm.go).
const massMention = /(^|[^\p{L}\p{N}_@])@(everyone|all|here|room)\b/iu;

/** A stable hue per name, so that two names look apart at a glance. */
function hue(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) % 3600;
  return h / 10;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

function timeElement(unixMs: bigint): HTMLTimeElement {
  const at = new Date(Number(unixMs));
  const el = document.createElement("time");
  el.dateTime = at.toISOString();
  el.title = full.format(at);
  el.textContent = (at.toDateString() === new Date().toDateString() ? timeOfDay : dayAndTime).format(at);
  return el;
}

/** The message list of one room. */
export class MessageList {
  private readonly list = $<HTMLOListElement>("messages");
  // Keys of the messages shown: a message can come twice, in the history
  // replayed on (re)joining and live. On one node the id alone is unique;
  // nodes of a cluster count ids apart, so the time joins it.
  private readonly shown = new Set<string>();

  constructor(private readonly me: () => string) {}

  clear(): void {
    this.list.replaceChildren();
    this.shown.clear();
    $("messages-empty").hidden = false;
  }

  /** Shows m in its place by time; reports whether it was new. */
  add(m: ChatMessage): boolean {
    const key = `${m.id}@${m.sentUnixMs}`;
    if (this.shown.has(key)) return false;
    this.shown.add(key);
    const li = m.user === "" ? this.notice(m) : this.message(m);
    li.dataset.id = String(m.id);
    li.dataset.key = key;
    li.dataset.at = String(m.sentUnixMs);
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const next = Array.from(this.list.children).find((el) => this.after(el as HTMLElement, m));
    this.list.insertBefore(li, next ?? null);
    $("messages-empty").hidden = true;
    if (next === undefined && (atBottom || m.user === this.me())) this.list.scrollTop = this.list.scrollHeight;
    return true;
  }

  /** Marks the messages of the current user, once its name is known. */
  markMine(): void {
    this.list.querySelectorAll<HTMLElement>("li.msg").forEach((li) => {
      li.classList.toggle("mine", li.dataset.user === this.me());
    });
  }

  // Whether el comes after m: by time, then by id.
  private after(el: HTMLElement, m: ChatMessage): boolean {
    const at = BigInt(el.dataset.at ?? "0");
    return at > m.sentUnixMs || (at === m.sentUnixMs && BigInt(el.dataset.id ?? "0") > m.id);
  }

  private notice(m: ChatMessage): HTMLLIElement {
    const li = document.createElement("li");
    li.className = "notice";
    li.append(m.text, timeElement(m.sentUnixMs));
    return li;
  }

  private message(m: ChatMessage): HTMLLIElement {
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.user = m.user;
    li.style.setProperty("--hue", String(hue(m.user)));
    const me = this.me();
    if (m.user === me) li.classList.add("mine");
    if (massMention.test(m.text) || (me !== "" && m.user !== me && m.text.includes(`@${me}`))) li.classList.add("mention");

    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = [...m.user][0] ?? "?";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.user;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.append(who, timeElement(m.sentUnixMs));
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = m.text;
    li.append(avatar, meta, text);
    return li;
  }
}

/** Shows who is in the room, the current user marked. */
export function renderMembers(names: readonly string[], me: string): void {
  const items = [...names].sort().map((name) => {
    const li = document.createElement("li");
    li.textContent = name;
    if (name === me) li.classList.add("me");
    return li;
  });
  $("members").replaceChildren(...items);
  $("members-empty").hidden = names.length > 0;
  $("count").textContent = names.length > 0 ? `(${names.length})` : "";
}
