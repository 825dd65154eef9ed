// The chat page: the generated ChatServiceClient over socket.io-client.
import { io } from "socket.io-client";
import type { ChatMessage } from "../../../../gen/ts/example/chat/v1/chat_pb.js";
import { ChatServiceClient, ChatServiceNamespace } from "../../../../gen/ts/example/chat/v1/chat_sio.js";
import { RpcError } from "../../../../gen/ts/sio_runtime.js";

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el;
}

function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

// ?transports=polling forces long-polling, as behind a proxy that blocks WebSocket.
const transports = new URLSearchParams(location.search).get("transports")?.split(",") ?? ["polling", "websocket"];
const socket = io(ChatServiceNamespace, { transports });
const chat = new ChatServiceClient(socket);

// The state badge keeps its history in data-history, for tests and curious readers.
function setState(state: "connecting" | "connected" | "reconnecting" | "disconnected"): void {
  const el = $("state");
  el.textContent = state;
  el.dataset.state = state;
  el.dataset.history = [...(el.dataset.history ?? "").split(" ").filter(Boolean), state].join(" ");
  $("transport").textContent = socket.io.engine?.transport.name ?? "";
}

function showError(err: unknown): void {
  $("error").textContent = err instanceof RpcError ? `${err.code}: ${err.rawMessage}` : String(err);
}

let joined: { room: string; user: string } | undefined;
let feed: AbortController | undefined;

function renderMessage(m: ChatMessage): void {
  const li = document.createElement("li");
  li.dataset.id = String(m.id);
  if (m.user === "") {
    li.className = "notice";
    li.textContent = m.text;
  } else {
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.user;
    li.append(who, m.text);
  }
  const list = $("messages");
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function renderMembers(names: readonly string[]): void {
  $("members").replaceChildren(...names.map((name) => Object.assign(document.createElement("li"), { textContent: name })));
}

async function watch(room: string, signal: AbortSignal): Promise<void> {
  try {
    for await (const update of chat.watchRoom({ room }, { signal })) {
      if (update.message !== undefined) renderMessage(update.message);
      if (update.members.length > 0) renderMembers(update.members);
    }
  } catch (err) {
    // A lost connection ends the feed; it restarts on reconnect.
    if (!(err instanceof RpcError && (err.code === "unavailable" || err.code === "canceled"))) showError(err);
  }
}

async function join(room: string, user: string): Promise<void> {
  feed?.abort();
  feed = new AbortController();
  const signal = feed.signal;
  void watch(room, signal);
  const res = await chat.join({ room, user }, { timeoutMs: 5000 });
  joined = { room, user };
  renderMembers(res.members);
  $("error").textContent = "";
}

$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  join(input("room").value, input("user").value).catch(showError);
});

$("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input("text").value;
  if (joined === undefined) {
    showError("join a room first");
    return;
  }
  $("last-ack").textContent = "sending…";
  chat
    .sendMessage({ room: joined.room, user: joined.user, text }, { timeoutMs: 5000 })
    .then((res) => {
      $("last-ack").textContent = `stored #${res.id}`;
      input("text").value = "";
      $("error").textContent = "";
    })
    .catch((err: unknown) => {
      $("last-ack").textContent = "";
      showError(err);
    });
});

socket.on("connect", () => {
  setState("connected");
  socket.io.engine.once("upgrade", () => setState("connected")); // refresh the transport label
  // After a reconnection the server has forgotten this socket: join again.
  if (joined !== undefined) join(joined.room, joined.user).catch(showError);
});
socket.on("disconnect", () => setState(socket.active ? "reconnecting" : "disconnected"));
socket.io.on("reconnect_attempt", () => setState("reconnecting"));
socket.on("connect_error", () => setState(socket.active ? "reconnecting" : "disconnected"));
setState("connecting");
