import { Flex, Typography, theme } from 'antd'

/** The bridge mark: an arch over water, drawn in the brand colour so it follows the theme. */
export function LogoMark({ size = 28 }: { size?: number }) {
  const { token } = theme.useToken()
  return (
    <svg width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <rect width="64" height="64" rx="14" fill={token.colorPrimary} />
      <path d="M8 40 Q32 10 56 40" fill="none" stroke="#fff" strokeWidth="5" strokeLinecap="round" />
      <path d="M6 42 H58" stroke="#fff" strokeWidth="5" strokeLinecap="round" />
      <path d="M20 28 V42 M32 22 V42 M44 28 V42" stroke="#fff" strokeWidth="3.5" strokeLinecap="round" />
      <path
        d="M12 51 Q18 48 24 51 T36 51 T48 51 T56 50"
        fill="none"
        stroke="#fff"
        strokeOpacity="0.7"
        strokeWidth="3"
        strokeLinecap="round"
      />
    </svg>
  )
}

/** "桥 Qiao" with the mark; `compact` drops the word (collapsed sidebar). */
export function Logo({ compact = false, size = 28 }: { compact?: boolean; size?: number }) {
  return (
    <Flex align="center" gap={10} style={{ minWidth: 0 }}>
      <LogoMark size={size} />
      {!compact && (
        <Typography.Text strong style={{ fontSize: size * 0.64, whiteSpace: 'nowrap', lineHeight: 1 }}>
          桥 Qiao
        </Typography.Text>
      )}
    </Flex>
  )
}
