// Article bodies are stored as (sanitised) HTML; the portal never injects it. It shows the text
// only: block elements become paragraphs, list items keep a bullet, everything else is dropped
// and character references are decoded. The result is rendered as text nodes.

const BLOCK = /^(p|div|h[1-6]|li|ul|ol|br|tr|table|blockquote|pre|section|article|header|footer|hr|dd|dt|dl|figure|figcaption)$/i;
const DROP_WITH_CONTENT = /<(script|style|template|noscript|iframe|object|svg|math)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', copy: '©', reg: '®', trade: '™', euro: '€', bull: '•' };

/** Decodes character references (&amp; &#39; &#x2019;); unknown named ones stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

/** The text of an HTML fragment as paragraphs (no markup survives). */
export function htmlToParagraphs(html: string): string[] {
  const marked = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(DROP_WITH_CONTENT, '')
    .replace(/<\s*(\/?)\s*([a-z][a-z0-9]*)\b[^>]*>/gi, (_tag, close: string, name: string) => {
      if (!BLOCK.test(name)) return '';
      if (name.toLowerCase() === 'li' && !close) return '\n\n• ';
      if (name.toLowerCase() === 'br') return '\n';
      return '\n\n';
    })
    .replace(/<[^>]*>?/g, '');
  return decodeEntities(marked)
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .split('\n')
        .map((line) => line.replace(/[ \t\r\f\v\u00a0]+/g, ' ').trim())
        .filter(Boolean)
        .join('\n'),
    )
    .filter((p) => p.length > 0 && p !== '•');
}

const STOP_WORDS = new Set(
  'a an and are as at be but by can cannot could did do does for from get got has have how i if in into is it its me my no not of on or our please so that the their them then there this to was we what when where which who why will with would you your help issue problem question'.split(' '),
);

/**
 * The searches that suggest articles for a case subject, best first: its meaningful words
 * together (the API finds titles holding every word; at most 8 words of 2+ letters or digits),
 * then its longest word alone. Empty when the subject has nothing to search for.
 */
export function suggestionQueries(subject: string): string[] {
  const words = (subject.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((w, i, all) => all.indexOf(w) === i);
  const meaningful = words.filter((w) => !STOP_WORDS.has(w));
  const use = (meaningful.length ? meaningful : words).slice(0, 8);
  if (use.length === 0) return [];
  const queries = [use.join(' ')];
  const longest = [...use].sort((a, b) => b.length - a.length)[0]!;
  if (meaningful.length > 1 && longest.length >= 3) queries.push(longest);
  return queries;
}
