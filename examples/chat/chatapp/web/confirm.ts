// The page's side of ChatClientService: the server asks, in a dialog, and
// gets the answer typed. A question the server stops waiting for (its
// deadline passed), or one pending when the connection drops, closes by
// itself as a no: the server has already taken it as one.
import type { Socket } from "socket.io-client";
import { registerChatClientServiceHandler } from "../../../../gen/ts/example/chat/v1/chat_sio.js";
import { $ } from "./view.js";

/** How a question ended, kept on the dialog as data-outcome. */
type Outcome = "yes" | "no" | "timeout" | "disconnected";

/** Serves Confirm on socket; the returned function stops serving. */
export function serveConfirm(socket: Socket, onOutcome: (o: Outcome) => void): () => void {
  // One dialog at a time: a second question waits for the first answer.
  let queue: Promise<unknown> = Promise.resolve();
  return registerChatClientServiceHandler(socket, {
    async confirm(request, context) {
      const answer = queue.then(() => ask(socket, request.question, context.signal));
      queue = answer.catch(() => undefined);
      const outcome = await answer;
      onOutcome(outcome);
      return { confirmed: outcome === "yes" };
    },
  });
}

function ask(socket: Socket, question: string, deadline: AbortSignal): Promise<Outcome> {
  if (deadline.aborted) return Promise.resolve("timeout");
  if (!socket.connected) return Promise.resolve("disconnected");
  const dialog = $<HTMLDialogElement>("confirm");
  $("confirm-question").textContent = question;
  dialog.returnValue = "";
  delete dialog.dataset.outcome;
  dialog.showModal();
  return new Promise((resolve) => {
    const end = (outcome: Outcome): void => {
      dialog.removeEventListener("close", onClose);
      deadline.removeEventListener("abort", onTimeout);
      socket.off("disconnect", onDisconnect);
      dialog.dataset.outcome = outcome;
      if (dialog.open) dialog.close();
      resolve(outcome);
    };
    // Confirm and Cancel submit the dialog's form; Escape cancels it.
    const onClose = (): void => end(dialog.returnValue === "yes" ? "yes" : "no");
    const onTimeout = (): void => end("timeout");
    const onDisconnect = (): void => end("disconnected");
    dialog.addEventListener("close", onClose);
    deadline.addEventListener("abort", onTimeout);
    socket.on("disconnect", onDisconnect);
  });
}
