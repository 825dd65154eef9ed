// The chat page: the generated ChatServiceClient over socket.io-client,
// and the page's side of ChatClientService, which the server calls.
import { io } from "socket.io-client";
import { ChatServiceClient, ChatServiceNamespace } from "../../../../gen/ts/example/chat/v1/chat_sio.js";
import { RpcError } from "@sio-dev/runtime";
import { serveConfirm } from "./confirm.js";
import { type ConnState, trackConnection } from "./connection.js";
import { TypingIndicator } from "./typing.js";
import { $, MessageList, renderMembers } from "./view.js";

// ?transports=polling forces long-polling, as behind a proxy that blocks WebSocket.
const transports = new URLSearchParams(location.search).get("transports")?.split(",") ?? ["polling", "websocket"];
const socket = io(ChatServiceNamespace, { transports });
const chat = new ChatServiceClient(socket);
const typing = new TypingIndicator(chat);

const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);

/** Where the page has joined, and the name the room gave it ("ann (2)" when "ann" was taken). */
let joined: { room: string; me: string } | undefined;
let feed: AbortController | undefined;
let online = false;
const messages = new MessageList(() => joined?.me ?? "");

// Unread messages while the tab is hidden, counted in its title.
let unread = 0;
function updateTitle(): void {
  const where = joined !== undefined ? `#${joined.room} · ` : "";
  document.title = `${unread > 0 ? `(${unread}) ` : ""}${where}sio chat`;
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) unread = 0;
  updateTitle();
});

function showError(err: unknown): void {
  let text = String(err);
  if (err instanceof RpcError) {
    // A message the server chose not to send explains itself ("not sent: …").
    text = err.code === "aborted" ? err.rawMessage.replace(/^./, (c) => c.toUpperCase()) : `${err.code}: ${err.rawMessage}`;
  }
  $("error").textContent = text;
}

function updateComposer(): void {
  $<HTMLButtonElement>("send").disabled = !(online && joined !== undefined);
}

async function watch(room: string, signal: AbortSignal): Promise<void> {
  try {
    // The server sends the room's recent messages first, then new ones.
    for await (const update of chat.watchRoom({ room }, { signal })) {
      if (update.message !== undefined && messages.add(update.message) && document.hidden && update.message.user !== "") {
        unread++;
        updateTitle();
      }
      if (update.members.length > 0) renderMembers(update.members, joined?.me ?? "");
    }
  } catch (err) {
    // A lost connection ends the feed; it restarts on reconnect.
    if (!(err instanceof RpcError && (err.code === "unavailable" || err.code === "canceled"))) showError(err);
  }
}

async function join(room: string, user: string): Promise<void> {
  const switching = joined === undefined || joined.room !== room.trim();
  feed?.abort();
  feed = new AbortController();
  if (switching) messages.clear();
  void watch(room.trim(), feed.signal);
  const res = await chat.join({ room, user }, { timeoutMs: 10000 });
  const me = res.members[0] ?? user;
  joined = { room: room.trim(), me };
  renderMembers(res.members, me);
  typing.start();
  messages.markMine();
  $("where").textContent = `#${joined.room} · you are ${me}`;
  $("you-text").textContent = me === user.trim() ? `You are ${me} in #${joined.room}.` : `“${user.trim()}” was taken here: you are ${me} in #${joined.room}.`;
  $("join-form").hidden = true;
  $("you").hidden = false;
  document.body.dataset.joined = "true";
  $("error").textContent = "";
  updateTitle();
  updateComposer();
}

$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  join(input("room").value, input("user").value).then(
    () => input("text").focus(),
    showError,
  );
});

$("switch").addEventListener("click", () => {
  $("join-form").hidden = false;
  $("you").hidden = true;
  input("user").focus();
});

$("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = input("text");
  const text = field.value;
  if (joined === undefined) {
    showError("Join a room first.");
    return;
  }
  typing.idle();
  $("last-ack").textContent = "Sending…";
  $("error").textContent = "";
  // Long enough for the server to ask about an @everyone and wait for the answer.
  chat.sendMessage({ room: joined.room, user: joined.me, text }, { timeoutMs: 30000 }).then(
    (res) => {
      $("last-ack").textContent = `Sent (stored #${res.id})`;
      if (field.value === text) field.value = "";
    },
    (err: unknown) => {
      $("last-ack").textContent = "";
      showError(err);
    },
  );
});

input("text").addEventListener("input", () => {
  if (joined !== undefined && input("text").value !== "") typing.input();
  else typing.idle();
});

serveConfirm(socket, (outcome) => {
  if (outcome === "timeout") $("last-ack").textContent = "The question timed out.";
  input("text").focus();
});

trackConnection(
  socket,
  (state: ConnState) => {
    online = state === "connected" || state === "reconnected";
    updateComposer();
  },
  () => {
    // After a reconnection the server has forgotten this socket: join again,
    // under the name the room gave us, and catch up from the history.
    if (joined !== undefined) join(joined.room, joined.me).catch(showError);
  },
);
