// "Did you mean ...?" for unknown keys.

/** Case, "-" and "_" do not matter: server_name ~ serverName. */
function norm(s: string): string {
  return s.toLowerCase().replace(/[-_ ]/g, '');
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key closest to `key`, when it is close enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const k = norm(key);
  let best: string | undefined;
  let bestD = Infinity;
  for (const cand of known) {
    const c = norm(cand);
    if (c === k) return cand;
    const dist = editDistance(k, c);
    if (dist < bestD) {
      bestD = dist;
      best = cand;
    }
  }
  // Allow about one edit per four letters, at least one, at most three.
  const limit = Math.min(3, Math.max(1, Math.floor(k.length / 4)));
  return bestD <= limit ? best : undefined;
}
