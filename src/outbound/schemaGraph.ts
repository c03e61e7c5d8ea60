/**
 * The subschemas of a tenant's JSON Schema and where its references lead, to refuse the recursion that never
 * ends before Ajv runs it: `{"$ref":"#"}` was accepted and then every event of its type answered 500 (stack
 * overflow), and a cycle through `$defs` overflowed the stack inside Ajv's compiler.
 *
 * The rule: a chain of references may come back to a schema only after moving into the payload (`properties`,
 * `items`, … apply to a member of the value), so recursion is bounded by the payload's depth, which the input rules
 * cap. A loop that stays on the same value (`$ref`, `allOf`, `if`/`then`, `not`, `dependentSchemas`, …) is
 * refused. References must resolve inside the schema; nothing is fetched or shared between tenants.
 */

export interface SchemaNode {
  schema: Record<string, unknown>;
  /** JSON pointer from the schema's root ("" for the root). */
  pointer: string;
  /** Absolute URI that references inside this subschema resolve against. */
  base: string;
}

export interface SchemaProblem {
  /** JSON pointer of the offending keyword within the schema. */
  pointer: string;
  message: string;
}

// Relative `$id`s and references need an absolute base; this one names nothing that could be fetched.
const DOCUMENT_BASE = "https://schema.hookledger.invalid/payload.json";
const MAX_PROBLEMS = 20;
/**
 * Ajv's compiler costs ~0.3 ms per subschema on Bun (8,000 took 4 s), all of it on the event loop, at every
 * create or PATCH and once per process for each schema in use; this caps that at about half a second.
 */
export const MAX_SUBSCHEMAS = 2000;

type Edge = "same" | "into" | "none";
const KEYWORDS: Record<Edge, { single: string[]; list: string[]; map: string[] }> = {
  // Applied to the very value the parent applies to.
  same: { single: ["not", "if", "then", "else"], list: ["allOf", "anyOf", "oneOf"], map: ["dependentSchemas"] },
  // Applied to a member of the value (or a property name, which has no members).
  into: { single: ["additionalProperties", "items", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties"], list: ["prefixItems"], map: ["properties", "patternProperties"] },
  // Not applied at all; reachable only through references.
  none: { single: [], list: [], map: ["$defs", "definitions"] },
};

const escapeToken = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
const unescapeToken = (token: string) => token.replace(/~1/g, "/").replace(/~0/g, "~");
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const withoutFragment = (url: URL) => url.href.replace(/#.*$/, "");
const shown = (text: string) => (text.length > 100 ? `${text.slice(0, 97)}...` : text);

interface Child {
  schema: unknown;
  pointer: string;
  edge: Edge;
}

function childrenOf(node: SchemaNode): Child[] {
  const children: Child[] = [];
  for (const edge of ["same", "into", "none"] as const) {
    const { single, list, map } = KEYWORDS[edge];
    for (const keyword of single) if (keyword in node.schema) children.push({ schema: node.schema[keyword], pointer: `${node.pointer}/${keyword}`, edge });
    for (const keyword of list) {
      const items = node.schema[keyword];
      if (Array.isArray(items)) items.forEach((schema, index) => children.push({ schema, pointer: `${node.pointer}/${keyword}/${index}`, edge }));
    }
    for (const keyword of map) {
      const entries = node.schema[keyword];
      if (isObject(entries)) for (const [key, schema] of Object.entries(entries)) children.push({ schema, pointer: `${node.pointer}/${keyword}/${escapeToken(key)}`, edge });
    }
  }
  return children;
}

interface Link {
  /** Pointer of the keyword that makes the link (`/allOf/0`, `/$defs/a/$ref`). */
  via: string;
  target: SchemaNode;
  isReference: boolean;
}

/**
 * Every subschema of `root` (including those only references reach) and the problems that make it unusable:
 * references that do not resolve inside the schema, and reference loops that never move into the payload.
 */
export function analyseSchema(root: Record<string, unknown>): { nodes: SchemaNode[]; problems: SchemaProblem[] } {
  const nodes = new Map<object, SchemaNode>();
  const ids = new Map<string, SchemaNode>();
  const anchors = new Map<string, SchemaNode>();
  const dynamicAnchors = new Map<string, SchemaNode[]>();
  const links = new Map<SchemaNode, Link[]>();
  const problems: SchemaProblem[] = [];
  const pending: SchemaNode[] = [];
  const dynamicRefs: { node: SchemaNode; via: string; name: string }[] = [];

  const addLink = (from: SchemaNode, link: Link) => {
    const existing = links.get(from);
    if (existing) existing.push(link);
    else links.set(from, [link]);
  };

  /** Registers a subschema found at `pointer` under a parent whose base is `parentBase`. */
  const register = (schema: Record<string, unknown>, pointer: string, parentBase: string): SchemaNode => {
    const known = nodes.get(schema);
    if (known) return known;
    let base = parentBase;
    if (typeof schema.$id === "string") {
      try {
        base = withoutFragment(new URL(schema.$id, parentBase));
        if (ids.has(base)) problems.push({ pointer: `${pointer}/$id`, message: "names the same URI as another subschema's $id" });
      } catch {
        problems.push({ pointer: `${pointer}/$id`, message: "is not a URI reference" });
      }
    }
    const node: SchemaNode = { schema, pointer, base };
    nodes.set(schema, node);
    if (typeof schema.$id === "string" || pointer === "") ids.set(base, node);
    if (typeof schema.$anchor === "string") anchors.set(`${base}#${schema.$anchor}`, node);
    if (typeof schema.$dynamicAnchor === "string") {
      anchors.set(`${base}#${schema.$dynamicAnchor}`, node);
      const named = dynamicAnchors.get(schema.$dynamicAnchor);
      if (named) named.push(node);
      else dynamicAnchors.set(schema.$dynamicAnchor, [node]);
    }
    pending.push(node);
    return node;
  };

  /** Follows a JSON pointer from a resource, the way Ajv does: through any object, `$id`s moving the base. */
  const follow = (resource: SchemaNode, fragment: string): SchemaNode | "boolean" | undefined => {
    let value: unknown = resource.schema;
    let base = resource.base;
    let pointer = resource.pointer;
    for (const token of fragment.split("/").slice(1).map(unescapeToken)) {
      if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(token) && Number(token) < value.length) value = value[Number(token)];
      else if (isObject(value) && Object.hasOwn(value, token)) value = value[token];
      else return undefined;
      pointer = `${pointer}/${escapeToken(token)}`;
      if (isObject(value) && typeof value.$id === "string") {
        try {
          base = withoutFragment(new URL(value.$id, base));
        } catch {
          return undefined;
        }
      }
    }
    if (typeof value === "boolean") return "boolean";
    return isObject(value) ? (nodes.get(value) ?? register(value, pointer, base)) : undefined;
  };

  const resolve = (ref: string, base: string): SchemaNode | "boolean" | undefined => {
    let url: URL;
    let fragment: string;
    try {
      url = new URL(ref, base);
      fragment = decodeURIComponent(url.hash.slice(1));
    } catch {
      return undefined;
    }
    const resource = ids.get(withoutFragment(url));
    if (!resource) return undefined;
    if (fragment === "") return resource;
    if (fragment.startsWith("/")) return follow(resource, fragment);
    return anchors.get(`${resource.base}#${fragment}`);
  };

  const linkReferences = (node: SchemaNode) => {
    for (const keyword of ["$ref", "$dynamicRef"] as const) {
      const ref = node.schema[keyword];
      if (typeof ref !== "string") continue;
      const via = `${node.pointer}/${keyword}`;
      const target = resolve(ref, node.base);
      if (target === undefined) {
        problems.push({ pointer: via, message: `refers to "${shown(ref)}", which is not in this schema; references must point inside it (such as #/$defs/name)` });
      } else if (target !== "boolean") {
        addLink(node, { via, target, isReference: true });
      }
      if (keyword === "$dynamicRef" && /^#[A-Za-z_][-A-Za-z0-9._]*$/.test(ref)) dynamicRefs.push({ node, via, name: ref.slice(1) });
    }
  };

  register(root, "", DOCUMENT_BASE);
  const walked: SchemaNode[] = [];
  // Structure first, so every subschema is known by its place in the document before references are followed.
  const walkStructure = () => {
    while (pending.length > 0) {
      if (nodes.size > MAX_SUBSCHEMAS) return;
      const node = pending.pop() as SchemaNode;
      walked.push(node);
      // Registered in reverse so that the stack hands them out, and problems are reported, in document order.
      for (const child of childrenOf(node).reverse()) {
        if (!isObject(child.schema)) continue;
        const target = register(child.schema, child.pointer, node.base);
        if (child.edge === "same") addLink(node, { via: child.pointer, target, isReference: false });
      }
    }
  };
  walkStructure();
  for (let linked = 0; linked < walked.length; linked++) {
    linkReferences(walked[linked] as SchemaNode);
    walkStructure();
  }
  if (nodes.size > MAX_SUBSCHEMAS) return { nodes: walked, problems: [{ pointer: "", message: `has more than ${MAX_SUBSCHEMAS} subschemas; split the event type or simplify its schema` }] };
  // A $dynamicRef may land on any $dynamicAnchor of its name, depending on the path taken: assume each.
  for (const { node, via, name } of dynamicRefs) for (const target of dynamicAnchors.get(name) ?? []) addLink(node, { via, target, isReference: true });

  problems.push(...loopsWithinOneValue(walked, links));
  return { nodes: walked, problems: problems.slice(0, MAX_PROBLEMS) };
}

/** Reference loops made only of links that stay on the same value (iterative depth-first search). */
function loopsWithinOneValue(nodes: SchemaNode[], links: Map<SchemaNode, Link[]>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const state = new Map<SchemaNode, "open" | "done">();
  for (const start of nodes) {
    if (state.has(start)) continue;
    const path: { node: SchemaNode; next: number; via: Link | undefined }[] = [{ node: start, next: 0, via: undefined }];
    state.set(start, "open");
    while (path.length > 0 && problems.length < MAX_PROBLEMS) {
      const frame = path[path.length - 1] as (typeof path)[number];
      const link = links.get(frame.node)?.[frame.next++];
      if (!link) {
        state.set(frame.node, "done");
        path.pop();
        continue;
      }
      const seen = state.get(link.target);
      if (seen === "open") {
        // The loop is the path from the target to here plus this link; name the reference that closes it, or
        // another reference in it (there is one: the document alone is a tree).
        const loop = path.slice(path.findIndex((step) => step.node === link.target) + 1).map((step) => step.via as Link);
        const reference = link.isReference ? link : (loop.find((step) => step.isReference) ?? link);
        problems.push({
          pointer: reference.via,
          message: `leads back to ${reference.target.pointer === "" ? "the root schema" : `#${reference.target.pointer}`} without moving into the payload, so validation would never end; recurse through properties, items or another keyword that moves into the value`,
        });
      } else if (seen === undefined) {
        state.set(link.target, "open");
        path.push({ node: link.target, next: 0, via: link });
      }
    }
  }
  return problems;
}
