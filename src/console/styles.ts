/**
 * The console's one stylesheet, inlined with the page's CSP nonce (no second request, no build step). Status is
 * never colour alone: badges carry a word and a glyph. Layout is one column below 720 px; tables scroll sideways
 * inside their own box, so a 360 px screen never scrolls the page horizontally. Blocks that show tenant text are
 * bidi-isolated: a right-to-left override (U+202E) in a name reorders its own cell, not the rest of the row.
 */
export const CONSOLE_CSS = `
:root{--bg:#f6f7f9;--panel:#fff;--ink:#1b2330;--muted:#5b6576;--line:#dde1e7;--accent:#2f5bd3;--ok:#17794a;--okbg:#e5f5ec;
--bad:#b42318;--badbg:#fdecea;--warn:#8a5a00;--warnbg:#fdf3dc;--idle:#4b5563;--idlebg:#eef0f3;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent)}a:hover{text-decoration:none}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:2}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:4px 18px;padding:8px 20px;background:#141a24;color:#e8ecf3}
.brand{font-weight:650;letter-spacing:.02em}
.top nav ul{display:flex;flex-wrap:wrap;gap:2px;margin:0;padding:0;list-style:none}
.top nav a{display:block;padding:4px 10px;border-radius:6px;color:#c9d2e0;text-decoration:none}
.top nav a:hover,.top nav a[aria-current=page]{background:#263041;color:#fff}
.who{margin-left:auto;display:flex;align-items:center;gap:10px;color:#aab4c3;font-size:13px}
.who form{margin:0}.who .link{color:#dfe6f1}
main{max-width:1180px;margin:0 auto;padding:18px 20px 40px}
h1{font-size:20px;margin:4px 0 14px}h2{font-size:15px;margin:22px 0 8px}
.crumbs{font-size:13px;color:var(--muted);margin-bottom:2px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-bottom:14px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:14px}
.stat{font-size:24px;font-weight:600}.muted{color:var(--muted)}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:var(--panel)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top;white-space:nowrap}
td.wrap,.wrap{white-space:normal;word-break:break-all}
.usage{list-style:none;margin:0;padding:0}.usage li{display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px;padding:5px 0}.usage .what{flex:1 1 170px;font-weight:600;font-size:13px}
th{background:#f0f2f5;font-weight:600;color:#3a4453}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:#fafbfc}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;border:1px solid transparent}
.badge.ok{color:var(--ok);background:var(--okbg);border-color:#b7e1c8}.badge.bad{color:var(--bad);background:var(--badbg);border-color:#f4c1bb}
.badge.warn{color:var(--warn);background:var(--warnbg);border-color:#f0d9a5}.badge.idle{color:var(--idle);background:var(--idlebg);border-color:#d7dbe1}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px 18px;margin:0}
.facts dt{font-size:12px;color:var(--muted)}.facts dd{margin:0;word-break:break-word}
code,.code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.code{background:#0f1620;color:#dbe4f0;padding:12px;border-radius:8px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all;margin:6px 0}
form.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;margin-bottom:12px}
label{display:block;font-size:12px;font-weight:600;color:#3a4453;margin-bottom:3px}
input,select,textarea{font:inherit;padding:6px 8px;border:1px solid #c5ccd6;border-radius:6px;background:#fff;color:var(--ink);max-width:100%}
textarea{width:100%;min-height:60px}
button,.button{font:inherit;font-weight:600;padding:6px 14px;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
button.link{background:none;border:0;padding:0;font-weight:400;text-decoration:underline}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.actions form{margin:0}
.flash{padding:10px 14px;border-radius:8px;margin-bottom:14px;border:1px solid}
.flash.ok{background:var(--okbg);border-color:#b7e1c8}.flash.error{background:var(--badbg);border-color:#f4c1bb}
.secret{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:8px}
.secret code{background:#fff;border:1px solid var(--line);padding:4px 8px;border-radius:6px;word-break:break-all}
.timeline{list-style:none;margin:0;padding:0 0 0 14px;border-left:2px solid var(--line)}
.timeline>li{position:relative;margin:0 0 14px;padding-left:12px}
.timeline>li::before{content:"";position:absolute;left:-21px;top:6px;width:12px;height:12px;border-radius:50%;background:var(--line);border:2px solid #fff}
.timeline>li.ok::before{background:var(--ok)}.timeline>li.bad::before{background:var(--bad)}
details>summary{cursor:pointer;color:var(--accent)}
.chart{width:100%;height:auto;display:block}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:4px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.sw.ok{background:var(--ok)}.sw.bad{background:var(--bad)}
meter{width:140px;max-width:40vw;height:10px}
.empty{color:var(--muted);padding:10px 0}
.pager{display:flex;justify-content:flex-end;margin-top:10px}
.signin{max-width:420px;margin:40px auto}
td,dd,h1,.who,li,p{unicode-bidi:isolate}
@media (max-width:720px){main{padding:12px}.who{margin-left:0;width:100%}h1{font-size:18px}}
`;
