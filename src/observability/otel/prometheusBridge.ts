/**
 * The Prometheus registry as an OpenTelemetry metric producer: every export reads the same counters, gauges and
 * histograms /metrics serves and hands them to the OTLP exporter, with the same names and label names.
 *
 * Why a bridge instead of OpenTelemetry instruments beside prom-client: the counters are incremented on the
 * hottest paths (every event, every attempt), and a second set of instruments would double that work whether or
 * not anything is exported. Reading the registry once per export interval costs nothing between exports, and the
 * two views can never disagree.
 */
import { ValueType, type Attributes, type HrTime } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import { emptyResource } from "@opentelemetry/resources";
import type { Registry } from "prom-client";

interface PromValue {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

interface PromMetric {
  name: string;
  help: string;
  type: string;
  values: PromValue[];
}

function attributesOf(labels: PromValue["labels"], without?: string): Attributes {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(labels)) if (key !== without && value !== undefined) attributes[key] = String(value);
  return attributes;
}

/** prom-client answers a histogram as `_bucket` (cumulative, per `le`), `_sum` and `_count` series per label set. */
function histogramPoints(metric: PromMetric, startTime: HrTime, endTime: HrTime): DataPoint<{ buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number }>[] {
  const series = new Map<string, { attributes: Attributes; cumulative: [number, number][]; sum: number; count: number }>();
  for (const value of metric.values) {
    const attributes = attributesOf(value.labels, "le");
    const key = JSON.stringify(attributes);
    let entry = series.get(key);
    if (!entry) {
      entry = { attributes, cumulative: [], sum: 0, count: 0 };
      series.set(key, entry);
    }
    if (value.metricName?.endsWith("_bucket")) {
      const le = value.labels.le;
      entry.cumulative.push([le === "+Inf" || le === undefined ? Infinity : Number(le), value.value]);
    } else if (value.metricName?.endsWith("_sum")) entry.sum = value.value;
    else if (value.metricName?.endsWith("_count")) entry.count = value.value;
  }
  return [...series.values()].map(({ attributes, cumulative, sum, count }) => {
    cumulative.sort(([a], [b]) => a - b);
    const boundaries = cumulative.filter(([le]) => Number.isFinite(le)).map(([le]) => le);
    // OTLP buckets count what falls in each interval, the last one up to +Inf; Prometheus counts cumulatively.
    const counts = boundaries.map((_, i) => (cumulative[i]?.[1] ?? 0) - (i > 0 ? (cumulative[i - 1]?.[1] ?? 0) : 0));
    counts.push(count - (cumulative[boundaries.length - 1]?.[1] ?? 0));
    return { startTime, endTime, attributes, value: { buckets: { boundaries, counts }, sum, count } };
  });
}

function toMetricData(metric: PromMetric, startTime: HrTime, endTime: HrTime): MetricData | undefined {
  const descriptor = { name: metric.name, description: metric.help, unit: "", valueType: ValueType.DOUBLE };
  const points = () => metric.values.map((value) => ({ startTime, endTime, attributes: attributesOf(value.labels), value: value.value }));
  switch (metric.type) {
    case "counter":
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points() };
    case "gauge":
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points() };
    case "histogram":
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints: histogramPoints(metric, startTime, endTime) };
    default:
      // Summaries have no OTLP equivalent that keeps their meaning; none of ours is one.
      return undefined;
  }
}

export class PrometheusBridge implements MetricProducer {
  /** Counters count from the registry's creation; this process's telemetry start is the closest honest start. */
  private readonly startTime = hrTime();

  constructor(private readonly registry: Registry) {}

  async collect(): Promise<CollectionResult> {
    const metrics = (await this.registry.getMetricsAsJSON()) as unknown as PromMetric[];
    const endTime = hrTime();
    return {
      // The reader replaces the resource with the SDK's own.
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: [{ scope: { name: "hookledger" }, metrics: metrics.map((metric) => toMetricData(metric, this.startTime, endTime)).filter((data): data is MetricData => data !== undefined) }],
      },
      errors: [],
    };
  }
}
