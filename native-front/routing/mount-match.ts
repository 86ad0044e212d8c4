// Longest-prefix mount matching on path-segment boundaries, across static and app mounts
// (the Alias / WSGIScriptAlias rule): "/assets" takes "/assets" and "/assets/x", not "/assetsx".

export class MountTable<T> {
  private routes: { prefix: string; value: T }[] = [];

  add(prefix: string, value: T): void {
    this.routes.push({ prefix, value });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(path: string): T | undefined {
    for (const r of this.routes) {
      const p = r.prefix;
      if (p === '') return r.value;
      if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47) /* / */) return r.value;
    }
    return undefined;
  }

  values(): T[] {
    return this.routes.map((r) => r.value);
  }
}
