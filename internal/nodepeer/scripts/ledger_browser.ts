// The ledger scenario (ledger_scenario.ts) for a browser page: bundled
// whole, socket.io-client and protobuf included, it exposes
// runLedgerScenario on window for browser_ledger.mjs to call.
import { runLedgerScenario } from "./ledger_scenario.js";

(globalThis as unknown as { runLedgerScenario: typeof runLedgerScenario }).runLedgerScenario = runLedgerScenario;
