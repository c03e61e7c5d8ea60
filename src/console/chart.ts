/**
 * The overview's chart, drawn on the server as SVG: one stacked bar per minute (succeeded below, failed above,
 * failures also hatched so they read without colour), a gridline at the peak, and a text summary for screen
 * readers. Numbers only reach the markup through the escaping `h` tag.
 */
import { h, type Html } from "./html.ts";
import type { MinuteCount } from "./queries.ts";

const WIDTH = 720;
const HEIGHT = 160;
const PAD_LEFT = 34;
const PAD_BOTTOM = 18;

export function attemptsChart(counts: MinuteCount[], since: Date, now: Date): Html {
  const minutes = Math.max(1, Math.round((now.getTime() - since.getTime()) / 60_000));
  const byMinute = new Map(counts.map((count) => [Math.floor(count.minute.getTime() / 60_000), count]));
  const first = Math.floor(since.getTime() / 60_000) + 1;
  const peak = Math.max(1, ...counts.map((count) => count.succeeded + count.failed));
  const plotWidth = WIDTH - PAD_LEFT;
  const plotHeight = HEIGHT - PAD_BOTTOM - 6;
  const slot = plotWidth / minutes;
  const bars: Html[] = [];
  let succeeded = 0;
  let failed = 0;
  for (let i = 0; i < minutes; i++) {
    const count = byMinute.get(first + i);
    if (!count) continue;
    succeeded += count.succeeded;
    failed += count.failed;
    const x = (PAD_LEFT + i * slot).toFixed(1);
    const w = Math.max(1, slot - 1).toFixed(1);
    const okHeight = (count.succeeded / peak) * plotHeight;
    const badHeight = (count.failed / peak) * plotHeight;
    const base = HEIGHT - PAD_BOTTOM;
    const label = `${count.minute.toISOString().slice(11, 16)} UTC: ${count.succeeded} succeeded, ${count.failed} failed or aborted`;
    bars.push(h`<g><title>${label}</title>${count.succeeded > 0 ? h`<rect x="${x}" y="${(base - okHeight).toFixed(1)}" width="${w}" height="${okHeight.toFixed(1)}" fill="#17794a"/>` : ""}${count.failed > 0 ? h`<rect x="${x}" y="${(base - okHeight - badHeight).toFixed(1)}" width="${w}" height="${badHeight.toFixed(1)}" fill="url(#hatch)"/>` : ""}</g>`);
  }
  const ticks: Html[] = [];
  for (let hour = 0; hour * 60 <= minutes - 20; hour++) {
    const at = new Date((first + hour * 60) * 60_000);
    ticks.push(h`<text x="${(PAD_LEFT + hour * 60 * slot).toFixed(1)}" y="${HEIGHT - 4}" font-size="10" fill="#5b6576">${at.toISOString().slice(11, 16)}</text>`);
  }
  return h`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Delivery attempts per minute over the last ${Math.round(minutes / 60)} hours: ${succeeded} succeeded, ${failed} failed or aborted">
<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#b42318"/><rect width="1.5" height="4" fill="#f3b1aa"/></pattern></defs>
<line x1="${PAD_LEFT}" y1="6" x2="${WIDTH}" y2="6" stroke="#dde1e7" stroke-dasharray="3 3"/>
<text x="0" y="12" font-size="10" fill="#5b6576">${peak}/min</text>
<line x1="${PAD_LEFT}" y1="${HEIGHT - PAD_BOTTOM}" x2="${WIDTH}" y2="${HEIGHT - PAD_BOTTOM}" stroke="#c5ccd6"/>
${bars}${ticks}</svg>
<div class="legend"><span><span class="sw ok"></span>succeeded (${succeeded})</span><span><span class="sw bad"></span>failed or aborted, hatched (${failed})</span></div>`;
}
