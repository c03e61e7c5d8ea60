-- OpenTelemetry: an event keeps the W3C traceparent of its fan-out span, so every attempt of its deliveries (a retry
-- hours later included) joins the event's trace without the job payload carrying it; and a subscription may opt in
-- to receiving the attempt's traceparent header.
alter table hookledger.events add column traceparent text;
comment on column hookledger.events.traceparent is
  'W3C traceparent of the event''s fan-out span when OpenTelemetry tracing was on at ingestion (null otherwise): delivery attempt spans are its children.';

alter table hookledger.subscriptions add column send_traceparent boolean not null default false;
comment on column hookledger.subscriptions.send_traceparent is
  'Send the delivery attempt span''s W3C traceparent header to this endpoint (only while OpenTelemetry tracing is on). Off by default, so receivers see no trace ids unless the tenant asks for them.';
