import type { LogFields, Logger } from "../../src/log.ts";

export interface LoggedLine {
  level: string;
  msg: string;
  fields?: LogFields | undefined;
}

/** A Logger that keeps every line in `lines` (its children write there too, without their own fields). */
export function recordingLogger(lines: LoggedLine[]): Logger {
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, fields });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => logger };
  return logger;
}
