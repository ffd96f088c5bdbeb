import { defaultSchema, type Options as SanitizeSchema } from 'rehype-sanitize'

/**
 * GitHub's sanitisation schema (what rehype-sanitize ships), widened only for what KaTeX emits
 * (its spans with classes and inline sizes, MathML, and the few SVG shapes it draws for roots and
 * arrows) and for code-fence language classes. No event handler attribute, no `href`/`src` on
 * SVG, no raw HTML element is allowed anywhere (SECURITY E1, E2).
 */

const MATHML_TAGS = [
  'math',
  'semantics',
  'annotation',
  'mrow',
  'mi',
  'mo',
  'mn',
  'ms',
  'mtext',
  'mspace',
  'msup',
  'msub',
  'msubsup',
  'mfrac',
  'msqrt',
  'mroot',
  'mover',
  'munder',
  'munderover',
  'mtable',
  'mtr',
  'mtd',
  'mlabeledtr',
  'mstyle',
  'mpadded',
  'mphantom',
  'menclose',
  'merror',
  'mmultiscripts',
  'mprescripts',
  'none',
]

const MATHML_ATTRIBUTES: Record<string, string[]> = {
  math: ['xmlns', 'display'],
  annotation: ['encoding'],
  mo: [
    'fence',
    'stretchy',
    'separator',
    'lspace',
    'rspace',
    'minsize',
    'maxsize',
    'accent',
    'largeop',
    'movablelimits',
    'form',
    'symmetric',
  ],
  mi: ['mathvariant'],
  mn: ['mathvariant'],
  mtext: ['mathvariant'],
  mspace: ['width', 'height', 'depth', 'linebreak'],
  mstyle: ['scriptlevel', 'displaystyle', 'mathcolor', 'mathsize', 'mathvariant'],
  mtable: ['rowspacing', 'columnspacing', 'columnalign', 'rowalign', 'columnlines', 'rowlines', 'frame', 'width'],
  mtr: ['columnalign', 'rowalign'],
  mtd: ['columnalign', 'rowalign', 'columnspan', 'rowspan'],
  mpadded: ['width', 'height', 'depth', 'lspace', 'voffset'],
  menclose: ['notation'],
  mfrac: ['linethickness'],
  mover: ['accent'],
  munder: ['accentunder'],
  munderover: ['accent', 'accentunder'],
}

const base = defaultSchema.attributes ?? {}

export const markdownSchema: SanitizeSchema = {
  ...defaultSchema,
  tagNames: [...(defaultSchema.tagNames ?? []), ...MATHML_TAGS, 'svg', 'path', 'line'],
  attributes: {
    ...base,
    ...MATHML_ATTRIBUTES,
    // KaTeX positions glyphs with inline heights and vertical offsets; a style can move pixels,
    // not run code, and markdown itself cannot produce one (raw HTML is never parsed as HTML).
    span: [...(base.span ?? []), 'className', 'style', 'ariaHidden'],
    code: [['className', /^language-[\w#+.-]+$/, 'math-inline', 'math-display']],
    svg: ['xmlns', 'width', 'height', 'viewBox', 'preserveAspectRatio', 'style'],
    path: ['d'],
    line: ['x1', 'y1', 'x2', 'y2', 'strokeWidth'],
  },
  // Links keep only web and mail addresses; images become links (see Markdown.tsx).
  protocols: { ...defaultSchema.protocols, href: ['http', 'https', 'mailto'], src: ['http', 'https'] },
}
