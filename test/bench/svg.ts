/**
 * A hand-written SVG bar chart of each row's ratio to its same-run baseline, on a log scale (ratios here span
 * 0.01–10, and a linear axis would flatten every small one to nothing). Red below 0.5: the issue's bar for a
 * write-up.
 */
import type { Row } from "./report.ts";

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function ratioChart(rows: Row[], title: string): string {
  const labelWidth = 330;
  const plotWidth = 520;
  const rowHeight = 22;
  const top = 48;
  const height = top + rows.length * rowHeight + 40;
  const width = labelWidth + plotWidth + 90;
  const min = 0.001;
  const max = 10;
  const x = (ratio: number) => labelWidth + ((Math.log10(Math.min(max, Math.max(min, ratio))) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="38" fill="#555">ratio to the baseline measured in the same run (log scale; 1 = as fast as the baseline, higher is better)</text>`,
  ];
  for (const tick of [0.001, 0.01, 0.1, 0.5, 1, 10]) {
    const tx = x(tick).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + rows.length * rowHeight}" stroke="${tick === 1 ? "#333" : tick === 0.5 ? "#c0392b" : "#ddd"}" stroke-dasharray="${tick === 0.5 ? "4 3" : "0"}"/>`);
    parts.push(`<text x="${tx}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#555">${tick}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const ratio = Number.isFinite(row.ratio) ? row.ratio : min;
    const colour = ratio < 0.5 ? "#c0392b" : "#27ae60";
    parts.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(`${row.id} ${row.name}`.slice(0, 52))}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(ratio) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${colour}"/>`);
    parts.push(`<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + 15}" fill="#333">${Number.isFinite(row.ratio) ? row.ratio.toFixed(3) : "n/a"}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
