/**
 * A small OpenTelemetry collector stand-in on 127.0.0.1: accepts OTLP/HTTP exports on /v1/traces and /v1/metrics
 * in either encoding the official exporters send (application/json, or application/x-protobuf decoded here with a
 * minimal wire-format reader), and keeps the spans and metric points for assertions.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type AttributeValue = string | number | boolean;

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: { traceId: string; spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, AttributeValue>;
}

export interface CollectedPoint {
  attributes: Record<string, AttributeValue>;
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

export interface CollectedMetric {
  name: string;
  type: "sum" | "gauge" | "histogram";
  points: CollectedPoint[];
}

export interface CollectedExport {
  path: string;
  contentType: string;
  headers: IncomingHttpHeaders;
}

export interface OtlpCollector {
  /** The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: CollectedSpan[];
  metrics: CollectedMetric[];
  exports: CollectedExport[];
  close(): Promise<void>;
}

// ---- protobuf wire format -------------------------------------------------------------------------------------

type Field = { wire: number; varint?: bigint; bytes?: Buffer };

function readVarint(buffer: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buffer[at++] as number;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, at];
    shift += 7n;
  }
}

function decodeMessage(buffer: Buffer): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let at = 0;
  while (at < buffer.length) {
    const [tag, next] = readVarint(buffer, at);
    at = next;
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let field: Field;
    if (wire === 0) {
      const [value, after] = readVarint(buffer, at);
      at = after;
      field = { wire, varint: value };
    } else if (wire === 1) {
      field = { wire, bytes: buffer.subarray(at, at + 8) };
      at += 8;
    } else if (wire === 2) {
      const [length, after] = readVarint(buffer, at);
      field = { wire, bytes: buffer.subarray(after, after + Number(length)) };
      at = after + Number(length);
    } else if (wire === 5) {
      field = { wire, bytes: buffer.subarray(at, at + 4) };
      at += 4;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
    fields.set(number, [...(fields.get(number) ?? []), field]);
  }
  return fields;
}

const messages = (fields: Map<number, Field[]>, n: number) => (fields.get(n) ?? []).map((field) => decodeMessage(field.bytes ?? Buffer.alloc(0)));
const bytesHex = (fields: Map<number, Field[]>, n: number) => fields.get(n)?.[0]?.bytes?.toString("hex") ?? "";
const text = (fields: Map<number, Field[]>, n: number) => fields.get(n)?.[0]?.bytes?.toString("utf8") ?? "";
const varint = (fields: Map<number, Field[]>, n: number) => Number(fields.get(n)?.[0]?.varint ?? 0n);
const double = (fields: Map<number, Field[]>, n: number) => fields.get(n)?.[0]?.bytes?.readDoubleLE(0);
const fixed64 = (fields: Map<number, Field[]>, n: number) => {
  const bytes = fields.get(n)?.[0]?.bytes;
  return bytes ? Number(bytes.readBigUInt64LE(0)) : undefined;
};

function protoAttributes(list: Map<number, Field[]>[]): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {};
  for (const keyValue of list) {
    const value = messages(keyValue, 2)[0] ?? new Map();
    if (value.has(1)) result[text(keyValue, 1)] = text(value, 1);
    else if (value.has(2)) result[text(keyValue, 1)] = varint(value, 2) === 1;
    else if (value.has(3)) result[text(keyValue, 1)] = Number(BigInt.asIntN(64, value.get(3)?.[0]?.varint ?? 0n));
    else if (value.has(4)) result[text(keyValue, 1)] = double(value, 4) ?? 0;
  }
  return result;
}

function protoSpans(body: Buffer): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const resourceSpans of messages(decodeMessage(body), 1)) {
    const resource = protoAttributes(messages(messages(resourceSpans, 1)[0] ?? new Map(), 1));
    for (const scopeSpans of messages(resourceSpans, 2)) {
      for (const span of messages(scopeSpans, 2)) {
        spans.push({
          traceId: bytesHex(span, 1),
          spanId: bytesHex(span, 2),
          parentSpanId: bytesHex(span, 4),
          name: text(span, 5),
          kind: varint(span, 6),
          attributes: protoAttributes(messages(span, 9)),
          links: messages(span, 13).map((link) => ({ traceId: bytesHex(link, 1), spanId: bytesHex(link, 2) })),
          statusCode: varint(messages(span, 15)[0] ?? new Map(), 3),
          resource,
        });
      }
    }
  }
  return spans;
}

function packedFixed64(fields: Map<number, Field[]>, n: number, read: (buffer: Buffer, at: number) => number): number[] {
  const values: number[] = [];
  for (const field of fields.get(n) ?? []) {
    const bytes = field.bytes ?? Buffer.alloc(0);
    for (let at = 0; at + 8 <= bytes.length; at += 8) values.push(read(bytes, at));
  }
  return values;
}

function protoMetrics(body: Buffer): CollectedMetric[] {
  const result: CollectedMetric[] = [];
  const numberPoint = (point: Map<number, Field[]>): CollectedPoint => ({
    attributes: protoAttributes(messages(point, 7)),
    value: point.has(4) ? double(point, 4) : Number(BigInt.asIntN(64, point.get(6)?.[0]?.bytes?.readBigUInt64LE(0) ?? 0n)),
  });
  for (const resourceMetrics of messages(decodeMessage(body), 1)) {
    for (const scopeMetrics of messages(resourceMetrics, 2)) {
      for (const metric of messages(scopeMetrics, 2)) {
        const name = text(metric, 1);
        const gauge = messages(metric, 5)[0];
        const sum = messages(metric, 7)[0];
        const histogram = messages(metric, 9)[0];
        if (gauge) result.push({ name, type: "gauge", points: messages(gauge, 1).map(numberPoint) });
        else if (sum) result.push({ name, type: "sum", points: messages(sum, 1).map(numberPoint) });
        else if (histogram) {
          result.push({
            name,
            type: "histogram",
            points: messages(histogram, 1).map((point) => ({
              attributes: protoAttributes(messages(point, 9)),
              count: fixed64(point, 4),
              sum: double(point, 5),
              bucketCounts: packedFixed64(point, 6, (b, at) => Number(b.readBigUInt64LE(at))),
              explicitBounds: packedFixed64(point, 7, (b, at) => b.readDoubleLE(at)),
            })),
          });
        }
      }
    }
  }
  return result;
}

// ---- OTLP/JSON -------------------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- OTLP/JSON documents are read field by field for assertions */
function jsonValue(value: any): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  return Number(value.doubleValue);
}

function jsonAttributes(list: any[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value ?? {})]));
}

function jsonSpans(document: any): CollectedSpan[] {
  return (document.resourceSpans ?? []).flatMap((resourceSpans: any) => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans: any) =>
      (scopeSpans.spans ?? []).map((span: any) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? "",
        name: span.name,
        kind: span.kind,
        attributes: jsonAttributes(span.attributes),
        links: (span.links ?? []).map((link: any) => ({ traceId: link.traceId, spanId: link.spanId })),
        statusCode: span.status?.code ?? 0,
        resource,
      })),
    );
  });
}

function jsonMetrics(document: any): CollectedMetric[] {
  const numberPoint = (point: any): CollectedPoint => ({ attributes: jsonAttributes(point.attributes), value: Number(point.asDouble ?? point.asInt ?? 0) });
  return (document.resourceMetrics ?? []).flatMap((resourceMetrics: any) =>
    (resourceMetrics.scopeMetrics ?? []).flatMap((scopeMetrics: any) =>
      (scopeMetrics.metrics ?? []).map((metric: any): CollectedMetric => {
        if (metric.gauge) return { name: metric.name, type: "gauge", points: metric.gauge.dataPoints.map(numberPoint) };
        if (metric.sum) return { name: metric.name, type: "sum", points: metric.sum.dataPoints.map(numberPoint) };
        return {
          name: metric.name,
          type: "histogram",
          points: (metric.histogram?.dataPoints ?? []).map((point: any) => ({
            attributes: jsonAttributes(point.attributes),
            count: Number(point.count),
            sum: Number(point.sum),
            bucketCounts: (point.bucketCounts ?? []).map(Number),
            explicitBounds: (point.explicitBounds ?? []).map(Number),
          })),
        };
      }),
    ),
  );
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const metrics: CollectedMetric[] = [];
  const exports: CollectedExport[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers["content-type"] ?? "";
      const path = req.url ?? "/";
      const json = contentType.startsWith("application/json");
      exports.push({ path, contentType, headers: req.headers });
      try {
        if (path === "/v1/traces") spans.push(...(json ? jsonSpans(JSON.parse(body.toString("utf8"))) : protoSpans(body)));
        else if (path === "/v1/metrics") metrics.push(...(json ? jsonMetrics(JSON.parse(body.toString("utf8"))) : protoMetrics(body)));
        else {
          res.writeHead(404).end();
          return;
        }
      } catch (error) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
        return;
      }
      // An empty success body is a valid ExportServiceResponse in both encodings.
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" }).end(json ? "{}" : "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
