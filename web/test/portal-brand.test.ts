// Tests of web/src/portal/brand.ts and text.ts: the accent colour's text contrast, reading the
// brand, article HTML shown as text, and the searches that suggest articles.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_ACCENT, contrast, luminance, parseHex, readBrand, textOn } from '../src/portal/brand';
import { decodeEntities, htmlToParagraphs, suggestionQueries } from '../src/portal/text';

describe('brand', () => {
  test('hex colours', () => {
    assert.deepEqual(parseHex('#ff8000'), [255, 128, 0]);
    assert.deepEqual(parseHex('#FFF'), [255, 255, 255]);
    assert.equal(parseHex('red'), null);
    assert.equal(parseHex('#12345'), null);
    assert.equal(parseHex(null), null);
  });

  test('black text on light accents, white on dark ones', () => {
    assert.equal(textOn('#ffffff'), '#000000');
    assert.equal(textOn('#ffd400'), '#000000');
    assert.equal(textOn('#000000'), '#ffffff');
    assert.equal(textOn('#1d4ed8'), '#ffffff');
    assert.equal(textOn('#7f1d1d'), '#ffffff');
  });

  test('the chosen text always reaches 4.5:1 over any accent', () => {
    for (let r = 0; r <= 255; r += 17) {
      for (let g = 0; g <= 255; g += 17) {
        for (let b = 0; b <= 255; b += 17) {
          const hex = `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
          const bg = luminance([r, g, b]);
          const fg = textOn(hex) === '#ffffff' ? 1 : 0;
          assert.ok(contrast(bg, fg) >= 4.5, `${hex}: ${contrast(bg, fg).toFixed(2)}`);
        }
      }
    }
  });

  test('the default accent with white text passes AA', () => {
    assert.ok(contrast(luminance(parseHex(DEFAULT_ACCENT)!), 1) >= 4.5);
  });

  test('reading the brand: defaults for what is missing or malformed', () => {
    assert.deepEqual(readBrand({ company_name: ' Acme ', logo_url: 'https://acme.example/logo.png', accent_colour: '#AA0000' }), {
      company_name: 'Acme',
      logo_url: 'https://acme.example/logo.png',
      accent: '#aa0000',
    });
    assert.deepEqual(readBrand({ company_name: 'Acme', logo_url: 'javascript:alert(1)', accent_colour: 'red' }), { company_name: 'Acme', logo_url: null, accent: DEFAULT_ACCENT });
    assert.equal(readBrand(null).company_name, 'Customer');
    assert.equal(readBrand({ logo_url: 'data:image/png;base64,AAAA' }).logo_url, 'data:image/png;base64,AAAA');
  });
});

describe('article text', () => {
  test('blocks become paragraphs; markup and scripts are dropped', () => {
    const html = '<h2>Reset</h2><p>Open <a href="/x">Settings</a> &amp; choose <b>Reset</b>.</p><script>alert(1)</script><p>Done.<br>Really.</p>';
    assert.deepEqual(htmlToParagraphs(html), ['Reset', 'Open Settings & choose Reset.', 'Done.\nReally.']);
  });

  test('list items keep a bullet', () => {
    assert.deepEqual(htmlToParagraphs('<ul><li>One</li><li>Two</li></ul>'), ['• One', '• Two']);
  });

  test('text that looks like markup after decoding stays text', () => {
    assert.deepEqual(htmlToParagraphs('<p>&lt;img src=x onerror=alert(1)&gt;</p>'), ['<img src=x onerror=alert(1)>']);
  });

  test('plain text passes through', () => {
    assert.deepEqual(htmlToParagraphs('Just text\n\nTwo paragraphs'), ['Just text', 'Two paragraphs']);
    assert.deepEqual(htmlToParagraphs(''), []);
  });

  test('character references', () => {
    assert.equal(decodeEntities('it&#39;s &#x2019; &nbsp;&unknown;'), 'it\'s ’ \u00a0&unknown;');
  });
});

describe('article suggestions', () => {
  test('meaningful words first, then the longest alone', () => {
    assert.deepEqual(suggestionQueries('How do I reset my password?'), ['reset password', 'password']);
  });

  test('one word, nothing to search, at most eight words', () => {
    assert.deepEqual(suggestionQueries('Invoices'), ['invoices']);
    assert.deepEqual(suggestionQueries('?? !'), []);
    assert.equal(suggestionQueries('alpha beta gamma delta epsilon zeta eta theta iota kappa')[0]!.split(' ').length, 8);
  });

  test('only stop words: searched as they are', () => {
    assert.deepEqual(suggestionQueries('how to'), ['how to']);
  });
});
