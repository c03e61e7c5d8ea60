/** hookledger's version, from package.json (sent in User-Agent and printed at start-up). */
import { readFileSync } from "node:fs";

export const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
