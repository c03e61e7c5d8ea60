/** Fan-out's filters as a unit: event types, labels (all-of) and channels (any-of, Svix's rule). */
import { describe, expect, it } from "vitest";
import { matchesChannels, matchesSubscription } from "../../src/outbound/matching.ts";

describe("matchesChannels", () => {
  it("a subscription without channels takes every event, with or without channels", () => {
    for (const filter of [null, undefined, []]) {
      for (const channels of [null, undefined, [], ["a"], ["x", "y"]]) expect(matchesChannels(filter, channels), JSON.stringify({ filter, channels })).toBe(true);
    }
  });

  it("a subscription with channels takes an event carrying at least one of them, and no event without channels", () => {
    const filter = ["a", "b"];
    expect(matchesChannels(filter, ["b"])).toBe(true);
    expect(matchesChannels(filter, ["c", "a"])).toBe(true);
    expect(matchesChannels(filter, ["a", "b"])).toBe(true);
    expect(matchesChannels(filter, ["c"])).toBe(false);
    expect(matchesChannels(filter, [])).toBe(false);
    expect(matchesChannels(filter, null)).toBe(false);
    expect(matchesChannels(filter, undefined)).toBe(false);
  });

  it("compares names exactly, case included", () => {
    expect(matchesChannels(["Orders"], ["orders"])).toBe(false);
    expect(matchesChannels(["project:1"], ["project:1"])).toBe(true);
    expect(matchesChannels(["project:1"], ["project:10"])).toBe(false);
  });
});

describe("matchesSubscription", () => {
  const event = { eventType: "invoice.paid", labels: { region: "eu" }, channels: ["b"] };

  it("needs the event type, the labels and the channels to match", () => {
    expect(matchesSubscription({ event_types: ["invoice.*"], labels: { region: "eu" }, channels: ["a", "b"] }, event)).toBe(true);
    expect(matchesSubscription({ event_types: ["invoice.*"], labels: {}, channels: null }, event)).toBe(true);
    expect(matchesSubscription({ event_types: ["user.*"], labels: {}, channels: ["b"] }, event)).toBe(false);
    expect(matchesSubscription({ event_types: ["*"], labels: { region: "us" }, channels: ["b"] }, event)).toBe(false);
    expect(matchesSubscription({ event_types: ["*"], labels: {}, channels: ["c"] }, event)).toBe(false);
  });

  it("takes filters and events recorded before channels (no channels key) as having none", () => {
    expect(matchesSubscription({ event_types: ["*"], labels: {} }, { eventType: "x", labels: {} })).toBe(true);
    expect(matchesSubscription({ event_types: ["*"], labels: {}, channels: ["a"] }, { eventType: "x", labels: {} })).toBe(false);
  });
});
