/**
 * The subschemas of a tenant's JSON Schema and where its references lead, to refuse the recursion that never
 * ends before Ajv runs it: `{"$ref":"#"}` was accepted and then every event of its type answered 500 (stack
 * overflow), and a cycle through `$defs` overflowed the stack inside Ajv's compiler.
 *
 * The rule: a chain of references may come back to a schema only after moving into the payload (`properties`,
 * `items`, … apply to a member of the value), so recursion is bounded by the payload's depth, which the input rules
 * cap. A loop that stays on the same value (`$ref`, `allOf`, `if`/`then`, `not`, `dependentSchemas`, …) is
 * refused. References must resolve inside the schema; nothing is fetched or shared between tenants.
 *
 * Recursion that moves into the payload must also not multiply. Ajv's generated code evaluates every applicator
 * it meets, without memory, on the event loop: if a recursion can be entered by two paths for the same payload
 * member, the work doubles with every level of nesting. Measured on Bun with ~50-byte payloads of arrays nested 24
 * deep (the input rules allow 256): `{"allOf":[{"items":{"$ref":"#"}},{"items":{"$ref":"#"}}]}` took 1.9 s and
 * `{"items":{"$ref":"#"},"contains":{"$ref":"#"}}` 0.76 s, each extra level doubling it. So, within a recursion
 * (a strongly connected component of the graph whose edges are references, the keywords that stay on the same
 * value, and the keywords that move into a member), no subschema may start two walks that each stay on its value
 * and then step into a member, both still inside the recursion, when the two steps can select the same member:
 * `items`, `contains`, `unevaluatedItems` and `prefixItems/i` select elements (`items` only those after its own
 * `prefixItems`), `properties/k` the key k, `patternProperties`, `additionalProperties` and
 * `unevaluatedProperties` possibly any key (not those their own schema's `properties` or `patternProperties`
 * take); an element and a key never meet, a value being an array or an object. Any exponential recursion has such
 * a fork (two walks that come back to the same subschema for the same member part at some subschema), so this
 * refuses them all; a tree (`items` under `properties/children`), a binary tree (`properties/left` and
 * `properties/right` select different members), a linked list or `prefixItems` at different positions fork into
 * different members and stay linear. It is conservative where deciding needs a regular expression: a pattern is
 * taken to match any key unless it starts with `^` and a literal prefix the key (or the other pattern's prefix)
 * does not share; tenants' patterns are never run here. It is conservative too where two walks that fork into the
 * same member could never both continue (their types differ further on), and past 250,000 pairwise comparisons
 * of pattern-like keywords in one schema. `propertyNames` applies to keys, which have no members, so it cannot
 * carry a recursion and is left out. The check costs, per subschema in a recursion, a walk of that recursion's
 * graph; it never enumerates paths. Not refused: separate recursions chained one after the other (polynomial in
 * the depth, one degree per link), and a schema that reaches a subschema twice without recursing (a constant).
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
 * The most subschemas the analysis walks, for any schema, stored ones included. A schema created or changed now is
 * held to less (payloadSchema.ts: the compile budget).
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

/** A key as one token of a JSON pointer (RFC 6901). */
export const escapeToken = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
const unescapeToken = (token: string) => token.replace(/~1/g, "/").replace(/~0/g, "~");
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const withoutFragment = (url: URL) => url.href.replace(/#.*$/, "");
const shown = (text: string) => (text.length > 100 ? `${text.slice(0, 97)}...` : text);

interface Child {
  schema: unknown;
  pointer: string;
  edge: Edge;
  keyword: string;
  /** The property name or pattern for map keywords, the position for list keywords. */
  key: string | number | undefined;
}

function childrenOf(node: SchemaNode): Child[] {
  const children: Child[] = [];
  for (const edge of ["same", "into", "none"] as const) {
    const { single, list, map } = KEYWORDS[edge];
    for (const keyword of single) if (keyword in node.schema) children.push({ schema: node.schema[keyword], pointer: `${node.pointer}/${keyword}`, edge, keyword, key: undefined });
    for (const keyword of list) {
      const items = node.schema[keyword];
      if (Array.isArray(items)) items.forEach((schema, index) => children.push({ schema, pointer: `${node.pointer}/${keyword}/${index}`, edge, keyword, key: index }));
    }
    for (const keyword of map) {
      const entries = node.schema[keyword];
      if (isObject(entries)) for (const [key, schema] of Object.entries(entries)) children.push({ schema, pointer: `${node.pointer}/${keyword}/${escapeToken(key)}`, edge, keyword, key });
    }
  }
  return children;
}

/** A keyword that applies a subschema to members of the value: the edges a recursion moves into the payload by. */
interface Member {
  /** Pointer of the subschema applied (`/items`, `/properties/name`). */
  via: string;
  target: SchemaNode;
  /** The subschema the keyword is in: `items` skips its `prefixItems`, `additionalProperties` its `properties`. */
  owner: SchemaNode;
  keyword: string;
  key: string | number | undefined;
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
  const members = new Map<SchemaNode, Member[]>();
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
        // Property names are strings: nothing under propertyNames can move further into the payload.
        if (child.edge === "into" && child.keyword !== "propertyNames") {
          const member: Member = { via: child.pointer, target, owner: node, keyword: child.keyword, key: child.key };
          const existing = members.get(node);
          if (existing) existing.push(member);
          else members.set(node, [member]);
        }
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

  const loops = loopsWithinOneValue(walked, links);
  problems.push(...loops);
  // Forks are counted along walks that stay on one value, which the loops above would make endless.
  if (loops.length === 0) problems.push(...recursionsThatMultiply(walked, links, members));
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

/** Strongly connected components (iterative Tarjan): each node's component, numbered from 0. */
function components(nodes: SchemaNode[], successors: (node: SchemaNode) => SchemaNode[]): { of: Map<SchemaNode, number>; sizes: number[] } {
  const of = new Map<SchemaNode, number>();
  const sizes: number[] = [];
  const index = new Map<SchemaNode, number>();
  const low = new Map<SchemaNode, number>();
  const stack: SchemaNode[] = [];
  const onStack = new Set<SchemaNode>();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const frames: { node: SchemaNode; next: SchemaNode[]; at: number }[] = [];
    const open = (node: SchemaNode) => {
      index.set(node, index.size);
      low.set(node, index.size - 1);
      stack.push(node);
      onStack.add(node);
      frames.push({ node, next: successors(node), at: 0 });
    };
    open(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as (typeof frames)[number];
      const target = frame.next[frame.at++];
      if (target !== undefined) {
        if (!index.has(target)) open(target);
        else if (onStack.has(target)) low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(target) as number));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component = sizes.length;
        let size = 0;
        let member: SchemaNode | undefined;
        do {
          member = stack.pop() as SchemaNode;
          onStack.delete(member);
          of.set(member, component);
          size++;
        } while (member !== frame.node);
        sizes.push(size);
      }
    }
  }
  return { of, sizes };
}

/** Keys a properties or patternProperties entry can select: one key, keys with a prefix, or (undefined) any. */
const keyShapes = new WeakMap<Member, { text: string; exact: boolean } | undefined>();
function keyShape(member: Member): { text: string; exact: boolean } | undefined {
  if (keyShapes.has(member)) return keyShapes.get(member);
  const shape = readKeyShape(member);
  keyShapes.set(member, shape);
  return shape;
}

function readKeyShape(member: Member): { text: string; exact: boolean } | undefined {
  if (member.keyword === "properties") return { text: String(member.key), exact: true };
  if (member.keyword !== "patternProperties") return undefined;
  // Only a leading `^` and plain ASCII characters are read, never run: `^x-` selects keys starting with "x-".
  const pattern = String(member.key);
  if (!pattern.startsWith("^") || pattern.includes("|")) return undefined;
  let text = "";
  for (let i = 1; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === "$" && i === pattern.length - 1) return { text, exact: true };
    if (!/^[\x20-\x7e]$/.test(char) || "\\^$.|?*+()[]{}".includes(char) || "?*+{".includes(pattern.charAt(i + 1))) break;
    text += char;
  }
  return { text, exact: false };
}

const ELEMENT_KEYWORDS = new Set(["items", "prefixItems", "contains", "unevaluatedItems"]);

/** The positions an element keyword selects, [first, last], or undefined for none. */
function positions(member: Member, other: Member): [number, number] | undefined {
  const prefixItems = member.owner.schema.prefixItems;
  const afterPrefix = Array.isArray(prefixItems) ? prefixItems.length : 0;
  switch (member.keyword) {
    case "prefixItems":
      return [Number(member.key), Number(member.key)];
    case "items":
      return [afterPrefix, Infinity];
    case "unevaluatedItems":
      // Next to its own items nothing is left unevaluated; next to its own prefixItems, what follows them.
      if (other.owner === member.owner) return "items" in member.owner.schema ? undefined : [afterPrefix, Infinity];
      return [0, Infinity];
    default:
      return [0, Infinity];
  }
}

/** Whether two keywords that move into the payload can select the same member of one value. */
function canSelectTheSameMember(a: Member, b: Member): boolean {
  const elements = ELEMENT_KEYWORDS.has(a.keyword);
  if (elements !== ELEMENT_KEYWORDS.has(b.keyword)) return false;
  if (elements) {
    const [ap, bp] = [positions(a, b), positions(b, a)];
    return ap !== undefined && bp !== undefined && ap[0] <= bp[1] && bp[0] <= ap[1];
  }
  for (const [member, other] of [
    [a, b],
    [b, a],
  ] as const) {
    // additionalProperties takes only the keys its own properties and patternProperties do not, and
    // unevaluatedProperties only those no keyword of its own schema took.
    const rest = member.keyword === "additionalProperties" || member.keyword === "unevaluatedProperties";
    if (rest && member.owner === other.owner && member.keyword !== other.keyword) return false;
    const properties = member.owner.schema.properties;
    if (member.keyword === "additionalProperties" && other.keyword === "properties" && isObject(properties) && Object.hasOwn(properties, String(other.key))) return false;
  }
  const [ak, bk] = [keyShape(a), keyShape(b)];
  if (ak === undefined || bk === undefined) return true;
  if (ak.exact && bk.exact) return ak.text === bk.text;
  if (ak.exact) return ak.text.startsWith(bk.text);
  if (bk.exact) return bk.text.startsWith(ak.text);
  return ak.text.startsWith(bk.text) || bk.text.startsWith(ak.text);
}

interface Walk {
  /** Which link of the forking subschema the walk starts with. */
  fork: number;
  first: string;
  member: Member;
}

/**
 * Two walks starting with different links that step into the same member, or undefined. Walks come grouped by
 * their first link. Entries under `properties` or `prefixItems` are matched with each other through maps; every
 * other keyword is compared with the walks of other groups, within `budget` comparisons for the whole schema, past
 * which a pair counts as selecting the same member (conservatively).
 */
function fork(walks: Walk[], budget: { left: number }): [Walk, Walk] | undefined {
  const byMember = new Map<Member, Walk>();
  const byKey = new Map<string, Walk>();
  const byPosition = new Map<number, Walk>();
  const exact: Walk[] = [];
  const others: Walk[] = [];
  for (const walk of walks) {
    const prior = byMember.get(walk.member);
    if (prior) {
      if (prior.fork !== walk.fork) return [prior, walk];
      continue;
    }
    byMember.set(walk.member, walk);
    const { keyword, key } = walk.member;
    if (keyword !== "properties" && keyword !== "prefixItems") {
      others.push(walk);
      continue;
    }
    exact.push(walk);
    const same = keyword === "properties" ? byKey.get(String(key)) : byPosition.get(Number(key));
    if (same && same.fork !== walk.fork) return [same, walk];
    if (!same && keyword === "properties") byKey.set(String(key), walk);
    if (!same && keyword === "prefixItems") byPosition.set(Number(key), walk);
  }
  // Walks of one group are contiguous: each comparison skips its own group's run.
  const compare = (walk: Walk, against: Walk[], from: number): [Walk, Walk] | undefined => {
    for (let i = from; i < against.length; i++) {
      const other = against[i] as Walk;
      if (other.fork === walk.fork) continue;
      if (--budget.left < 0 || canSelectTheSameMember(walk.member, other.member)) return [walk, other];
    }
    return undefined;
  };
  for (let i = 0; i < others.length; i++) {
    const walk = others[i] as Walk;
    const found = compare(walk, others, i + 1) ?? compare(walk, exact, 0);
    if (found) return found;
  }
  return undefined;
}

/** Compares JSON pointers token by token, positions as numbers, so that `/allOf/2` comes before `/allOf/10`. */
function documentOrder(a: string, b: string): number {
  const [as, bs] = [a.split("/"), b.split("/")];
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const [at, bt] = [as[i] as string, bs[i] as string];
    if (at === bt) continue;
    return /^\d+$/.test(at) && /^\d+$/.test(bt) ? Number(at) - Number(bt) : at < bt ? -1 : 1;
  }
  return as.length - bs.length;
}

/**
 * Recursions that can be entered twice for the same payload member, one problem per recursion, named at the
 * first subschema (in document order) where two walks fork: each walk follows links that stay on the value, then
 * one keyword that moves into a member, all inside the recursion.
 */
function recursionsThatMultiply(nodes: SchemaNode[], links: Map<SchemaNode, Link[]>, members: Map<SchemaNode, Member[]>): SchemaProblem[] {
  const { of, sizes } = components(nodes, (node) => [...(links.get(node) ?? []).map((link) => link.target), ...(members.get(node) ?? []).map((member) => member.target)]);
  const inside = (from: SchemaNode, to: SchemaNode) => of.get(from) === of.get(to);
  // The members a walk that stays on the value can step into from a subschema, without leaving its recursion.
  const reachable = new Map<SchemaNode, Member[]>();
  const stepsFrom = (start: SchemaNode): Member[] => {
    const known = reachable.get(start);
    if (known) return known;
    const found: Member[] = [];
    const visited = new Set<SchemaNode>([start]);
    const pending = [start];
    while (pending.length > 0) {
      const node = pending.pop() as SchemaNode;
      for (const member of members.get(node) ?? []) if (inside(start, member.target)) found.push(member);
      for (const link of links.get(node) ?? []) {
        if (!inside(start, link.target) || visited.has(link.target)) continue;
        visited.add(link.target);
        pending.push(link.target);
      }
    }
    reachable.set(start, found);
    return found;
  };

  const problems: SchemaProblem[] = [];
  const reported = new Set<number>();
  const budget = { left: 250_000 };
  for (const node of nodes) {
    const component = of.get(node) as number;
    if ((sizes[component] as number) < 2 || reported.has(component) || problems.length >= MAX_PROBLEMS) continue;
    const steps = (members.get(node) ?? []).filter((member) => inside(node, member.target));
    const onward = (links.get(node) ?? []).filter((link) => inside(node, link.target));
    // One way on from here is no fork (a fork further on is found where it happens).
    if (steps.length + onward.length < 2) continue;
    const walks: Walk[] = steps.map((member, index) => ({ fork: index, first: member.via, member }));
    onward.forEach((link, index) => {
      for (const member of stepsFrom(link.target)) walks.push({ fork: -1 - index, first: link.via, member });
    });
    const found = fork(walks, budget);
    if (!found) continue;
    reported.add(component);
    found.sort((a, b) => documentOrder(a.first, b.first));
    const describe = ({ first, member }: Walk) => (member.via === first || member.via.startsWith(`${first}/`) ? `#${member.via}` : `#${first} then #${member.via}`);
    problems.push({
      pointer: node.pointer,
      message: `this recursion can be entered twice for the same payload value (via ${describe(found[0])} and ${describe(found[1])}); validation time would double with every level of nesting, so let each member be reached by one path`,
    });
  }
  return problems;
}
