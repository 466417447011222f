// The company's brand in the portal: its name, logo and accent colour (GET /branding, public).
// The accent colour is applied as CSS custom properties on the document element (through the
// CSSOM, which the page's CSP allows), with black or white text over it, whichever contrasts more.

export interface Brand {
  company_name: string;
  logo_url: string | null;
  accent: string;
}

/** The accent when the company has set none (white text on it passes AA). */
export const DEFAULT_ACCENT = '#1d4ed8';

/** `#rrggbb` (or `#rgb`) as [r, g, b] in 0–255; null for anything else. */
export function parseHex(colour: string | null | undefined): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((colour ?? '').trim());
  if (!m) return null;
  const hex = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!;
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** WCAG 2 relative luminance of an sRGB colour. */
export function luminance([r, g, b]: [number, number, number]): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio of two luminances (1 to 21). */
export function contrast(a: number, b: number): number {
  const [hi, lo] = a > b ? [a, b] : [b, a];
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever is more readable over the colour (always at least 4.5:1 for one of them). */
export function textOn(colour: string): '#000000' | '#ffffff' {
  const rgb = parseHex(colour) ?? parseHex(DEFAULT_ACCENT)!;
  const l = luminance(rgb);
  return contrast(l, 1) >= contrast(l, 0) ? '#ffffff' : '#000000';
}

/** The brand from the API's answer, with defaults for what is missing or malformed. */
export function readBrand(raw: unknown): Brand {
  const b = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const name = typeof b.company_name === 'string' && b.company_name.trim() ? b.company_name.trim() : 'Customer';
  const logo = typeof b.logo_url === 'string' && /^(https:|data:image\/)/i.test(b.logo_url) ? b.logo_url : null;
  const accent = typeof b.accent_colour === 'string' && parseHex(b.accent_colour) ? b.accent_colour.trim().toLowerCase() : DEFAULT_ACCENT;
  return { company_name: name, logo_url: logo, accent };
}

/** Sets --accent and --on-accent on the document element, and the page title. */
export function applyBrand(brand: Brand, doc: Document = document): void {
  const root = doc.documentElement;
  root.style.setProperty('--accent', brand.accent);
  root.style.setProperty('--on-accent', textOn(brand.accent));
  doc.title = brand.company_name;
}
