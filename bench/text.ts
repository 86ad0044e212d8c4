// Text that compresses like real pages do (about 3-4x with gzip 6), generated from a seed so
// every server and every run gets the same bytes: HTML with varied words, numbers and markup.

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'were her she there been one all we their has would when if so no will more can who out up about into them time ' +
  'some could than other its only two may then first any like new these do most over such our after also did made ' +
  'many before must through back years where much your way well down should because each just those people how too ' +
  'little state good very make world still own see men work long get here between both life being under never day ' +
  'same another know while last might us great old year off come since against go came right used take three cache ' +
  'server request response header static front worker pool mount brotli gzip compress stream socket client thread'
).split(' ');

/** `bytes` of deterministic HTML-like text. */
export function benchText(bytes: number, seed = 14): Buffer {
  let x = seed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const parts: string[] = ['<!doctype html>\n<html><head><title>bench</title></head><body>\n'];
  let len = parts[0].length;
  while (len < bytes) {
    let p = `<p class="c${rnd(40)}" id="p${rnd(100000)}">`;
    const n = 8 + rnd(30);
    for (let i = 0; i < n; i++) p += (i ? ' ' : '') + WORDS[rnd(WORDS.length)] + (rnd(9) === 0 ? ` ${rnd(10000)}` : '');
    p += '.</p>\n';
    parts.push(p);
    len += p.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}
