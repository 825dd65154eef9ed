// Runs the ledger scenario (ledger_scenario.ts) in Node.
// Usage: node ledger_client.mjs <ledger url> <control url> <refusing ledger url>
import { runLedgerScenario } from "./ledger_scenario.js";

const [url, control, refusing] = process.argv.slice(2) as [string, string, string];
await runLedgerScenario(url, control, refusing);
console.log("ok");
process.exit(0);
