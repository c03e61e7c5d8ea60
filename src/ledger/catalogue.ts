/**
 * The entry-type catalogue: every type the ledger accepts, each with the valibot schema of its `data`.
 *
 * Capabilities declare their entry types beside their code (`tenancy/entries.ts`, …); this file is the one place
 * that lists them all, so an append of an unknown type, or of data that does not match, is refused before SQL.
 */
import * as v from "valibot";
import { systemEntries } from "./systemEntries.ts";
import { tenancyEntries } from "../tenancy/entries.ts";
import { outboundEntries } from "../outbound/entries.ts";
import { inboundEntries } from "../inbound/entries.ts";
import { InvalidEntryError } from "./errors.ts";
import { entryMetaSchema, type EntryMeta } from "./entryMeta.ts";

export const entrySchemas = {
  ...systemEntries,
  ...tenancyEntries,
  ...outboundEntries,
  ...inboundEntries,
};

export type EntrySchemas = typeof entrySchemas;
export type EntryType = keyof EntrySchemas;
export type EntryData<T extends EntryType> = v.InferOutput<EntrySchemas[T]>;

/** An entry before it is appended. */
export type NewEntry = { [T in EntryType]: { type: T; data: EntryData<T>; meta?: EntryMeta } }[EntryType];

/** An entry as stored. */
export type RecordedEntry = {
  [T in EntryType]: {
    type: T;
    data: EntryData<T>;
    meta: EntryMeta;
    orgId: string;
    stream: string;
    version: number;
    /** Global position, as a decimal string (bigint). */
    position: string;
    recordedAt: Date;
  };
}[EntryType];

export function isEntryType(type: string): type is EntryType {
  return Object.hasOwn(entrySchemas, type);
}

const describe = (issues: readonly v.BaseIssue<unknown>[]): string[] =>
  issues.map((issue) => {
    const where = issue.path?.map((item) => String(item.key)).join(".");
    return where ? `${where}: ${issue.message}` : issue.message;
  });

/** Validates an entry against the catalogue and returns its normalised data and meta. */
export function validateEntry(entry: { type: string; data: unknown; meta?: unknown }): { data: unknown; meta: EntryMeta } {
  if (!isEntryType(entry.type)) throw new InvalidEntryError(entry.type, ["unknown entry type"]);
  const schema: v.GenericSchema = entrySchemas[entry.type];
  const data = v.safeParse(schema, entry.data);
  if (!data.success) throw new InvalidEntryError(entry.type, describe(data.issues));
  const meta = v.safeParse(entryMetaSchema, entry.meta ?? {});
  if (!meta.success) throw new InvalidEntryError(entry.type, describe(meta.issues).map((p) => `meta ${p}`));
  return { data: data.output, meta: meta.output };
}
