/**
 * HTML building blocks of the console and the portal. Everything goes through hono/html's `html` tag, which
 * escapes every interpolated string: tenant content (payloads, response excerpts, header names and values, labels,
 * URLs) can only ever become text. `raw` is used for nothing but our own constant markup.
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { CONSOLE_CSS } from "./styles.ts";
import { layOutJson } from "./jsonLayout.ts";

export type Html = HtmlEscapedString;

/** `html` with the synchronous result our templates always produce (they never interpolate a promise). */
export const h = (strings: TemplateStringsArray, ...values: unknown[]): Html => html(strings, ...values) as Html;

export interface NavItem {
  href: string;
  label: string;
}

export interface PageFrame {
  title: string;
  nonce: string;
  /** Signed-in pages: the navigation, who is signed in, and the sign-out form. */
  chrome?: { nav: NavItem[]; current: string; who: string; signOut?: { action: string; csrf: string } };
  /** Shown above the content: the outcome of the last action. */
  flash?: { kind: "ok" | "error"; text: string; detail?: Html };
  body: Html;
}

export function page(frame: PageFrame): Html {
  const chrome = frame.chrome;
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${frame.title} · hookledger</title>
<style nonce="${frame.nonce}">${raw(CONSOLE_CSS)}</style></head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><span class="brand">hookledger</span>
${chrome
  ? h`<nav aria-label="Main"><ul>${chrome.nav.map(
      (item) => h`<li><a href="${item.href}"${item.href === chrome.current ? h` aria-current="page"` : ""}>${item.label}</a></li>`,
    )}</ul></nav>
<div class="who"><span title="Signed in as">${chrome.who}</span>${chrome.signOut
      ? h`<form method="post" action="${chrome.signOut.action}"><input type="hidden" name="csrf" value="${chrome.signOut.csrf}"><button class="link">Sign out</button></form>`
      : ""}</div>`
  : ""}
</header>
<main id="main">
${frame.flash ? h`<div class="flash ${frame.flash.kind}" role="${frame.flash.kind === "error" ? "alert" : "status"}"><strong>${frame.flash.kind === "ok" ? "Done: " : "Not done: "}</strong>${frame.flash.text}${frame.flash.detail ?? ""}</div>` : ""}
${frame.body}
</main>
<script nonce="${frame.nonce}">${raw(CONSOLE_SCRIPT)}</script>
</body></html>`;
}

/**
 * The only script: copy buttons for one-time secrets, and local times in titles. Pages work without it.
 */
const CONSOLE_SCRIPT = `for (const b of document.querySelectorAll("button[data-copy]")) {
  b.hidden = false;
  b.addEventListener("click", () => { const t = document.getElementById(b.dataset.copy); if (t) navigator.clipboard.writeText(t.textContent.trim()).then(() => { b.textContent = "Copied"; }); });
}
for (const t of document.querySelectorAll("time[datetime]")) t.title = new Date(t.getAttribute("datetime")).toLocaleString();`;

export const iso = (date: Date | null | undefined): string => (date ? date.toISOString() : "");

/** A time as UTC text, machine-readable in `datetime`. */
export function time(date: Date | null | undefined, empty = "—"): Html {
  if (!date) return h`${empty}`;
  return h`<time datetime="${iso(date)}">${iso(date).replace("T", " ").slice(0, 19)}</time>`;
}

/** "3 min ago", for freshness at a glance (the exact time is in the element). */
export function ago(date: Date | null | undefined, now: Date, empty = "never"): Html {
  if (!date) return h`${empty}`;
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  const text =
    Math.abs(seconds) < 90 ? `${seconds} s` : Math.abs(seconds) < 5400 ? `${Math.round(seconds / 60)} min` : Math.abs(seconds) < 172800 ? `${Math.round(seconds / 3600)} h` : `${Math.round(seconds / 86400)} d`;
  return h`<time datetime="${iso(date)}">${seconds >= 0 ? `${text} ago` : `in ${text.replace("-", "")}`}</time>`;
}

type Tone = "ok" | "bad" | "warn" | "idle";

const toneOf: Record<string, Tone> = {
  succeeded: "ok",
  failed: "bad",
  cancelled: "idle",
  pending: "warn",
  retrying: "warn",
  enabled: "ok",
  disabled: "idle",
  healthy: "ok",
  failing: "bad",
  open: "bad",
  closed: "ok",
};
const glyph: Record<Tone, string> = { ok: "✓", bad: "✕", warn: "…", idle: "–" };

/** A status as a word with a glyph: readable without colour. */
export function badge(status: string, tone: Tone = toneOf[status] ?? "idle"): Html {
  return h`<span class="badge ${tone}"><span aria-hidden="true">${glyph[tone]}</span> ${status}</span>`;
}

export function table(caption: string, headings: string[], rows: Html[], empty: string): Html {
  if (rows.length === 0) return h`<p class="empty">${empty}</p>`;
  return h`<div class="scroll"><table><caption class="sr">${caption}</caption><thead><tr>${headings.map((heading) => h`<th scope="col">${heading}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

export function definitionList(items: [string, Html | string | number][]): Html {
  return h`<dl class="facts">${items.map(([term, value]) => h`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>`;
}

/**
 * A secret shown once on its page (a subscription's signing secret, a new admin token), with a copy button the page
 * script reveals: without script there is no clipboard to copy to, and the text is selected by hand. `id` names the
 * element the button copies from, so tests and the script find it.
 */
export function secretBox(id: string, secret: string): Html {
  return h`<div class="secret"><code id="${id}">${secret}</code><button type="button" class="secondary" data-copy="${id}" hidden>Copy</button></div>`;
}

/** JSON laid out for reading, token for token (jsonLayout.ts), when the text is JSON; the text itself otherwise. */
export function codeBlock(text: string, label: string): Html {
  return h`<pre class="code" tabindex="0" aria-label="${label}">${layOutJson(text) ?? text}</pre>`;
}
