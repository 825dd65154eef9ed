// What the page tells the user about its connection: a badge in the header
// and a banner for anything but a healthy link.
import type { Socket } from "socket.io-client";
import { $ } from "./view.js";

/** The connection's states, as the badge's data-state shows them. */
export type ConnState = "connecting" | "connected" | "offline" | "reconnected" | "disconnected";

const labels: Record<ConnState, string> = {
  connecting: "Connecting…",
  connected: "Online",
  offline: "Offline",
  reconnected: "Reconnected",
  disconnected: "Disconnected",
};

// How long "Reconnected" stays up before the badge settles on "Online".
const reconnectedMs = 4000;

/**
 * Follows socket's events and shows them. onConnect runs on every
 * connection, with whether it is a reconnection.
 */
export function trackConnection(socket: Socket, onChange: (s: ConnState) => void, onConnect: (again: boolean) => void): void {
  let everConnected = false;
  let settle: ReturnType<typeof setTimeout> | undefined;

  const show = (state: ConnState, banner: string, tone: "warn" | "bad" | "good" | "" = ""): void => {
    clearTimeout(settle);
    const badge = $("state");
    badge.textContent = labels[state];
    badge.dataset.state = state;
    // The whole history stays on the badge, for tests and curious readers.
    badge.dataset.history = [...(badge.dataset.history ?? "").split(" ").filter(Boolean), state].join(" ");
    const box = $("banner");
    box.hidden = banner === "";
    box.dataset.tone = tone;
    $("banner-text").textContent = banner;
    $("retry").hidden = state !== "disconnected";
    $("transport").textContent = socket.connected ? (socket.io.engine?.transport.name ?? "") : "";
    onChange(state);
  };
  const offlineText = (attempt?: number): string =>
    (navigator.onLine ? "Offline: the connection to the server was lost. Reconnecting" : "Your device is offline. Reconnecting when it is back") +
    (attempt !== undefined ? ` (attempt ${attempt})…` : "…");

  socket.on("connect", () => {
    const again = everConnected;
    everConnected = true;
    if (again) {
      show("reconnected", "Reconnected. Messages you missed are filled in from the room's history.", "good");
      settle = setTimeout(() => show("connected", ""), reconnectedMs);
    } else {
      show("connected", "");
    }
    // The label follows an upgrade from polling to WebSocket.
    socket.io.engine.once("upgrade", () => {
      $("transport").textContent = socket.io.engine.transport.name;
    });
    onConnect(again);
  });
  socket.on("disconnect", (reason) => {
    if (socket.active) show("offline", offlineText(), "bad");
    else show("disconnected", `Disconnected (${reason}).`, "bad");
  });
  socket.io.on("reconnect_attempt", (attempt) => {
    if (everConnected) show("offline", offlineText(attempt), "bad");
  });
  socket.on("connect_error", (err) => {
    if (!socket.active) show("disconnected", `The server refused the connection: ${err.message}`, "bad");
    else if (!everConnected) show("connecting", "Cannot reach the server yet. Retrying…", "warn");
  });
  $("retry").addEventListener("click", () => {
    show("connecting", "Connecting to the server…", "warn");
    socket.connect();
  });
  window.addEventListener("offline", () => {
    if (!socket.connected) $("banner-text").textContent = offlineText();
  });
  show("connecting", "Connecting to the server…", "warn");
}
