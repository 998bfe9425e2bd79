// Number formatting for the console table and the README.

/** Three significant digits, with k/M/G for large rates. */
export function formatValue(value, unit) {
  if (value === undefined || value === null || !Number.isFinite(value)) return "–";
  if (unit === "ops/s" || Math.abs(value) >= 1e4) {
    for (const [scale, suffix] of [[1e9, " G"], [1e6, " M"], [1e3, " k"]]) {
      if (Math.abs(value) >= scale) return `${sig(value / scale)}${suffix}`;
    }
  }
  return sig(value);
}

function sig(x) {
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export function formatRatio(ratio) {
  if (!Number.isFinite(ratio)) return "–";
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

/** "≤ 0.8×" for lower-is-better figures, "≥ 0.8×" for higher-is-better. */
export function formatGoal(goal) {
  return goal ? `${goal.op === "<=" ? "≤" : "≥"} ${goal.ratio}×` : "";
}

/** Pads columns of a table given as an array of rows (arrays of strings). */
export function columns(rows, align = []) {
  const widths = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const pad = " ".repeat(widths[i] - [...cell].length);
          return align[i] === "right" ? pad + cell : cell + pad;
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
