import { Typography } from 'antd'
import type { CSSProperties } from 'react'
import { emailLines } from './format'

/**
 * An email address that never pushes the page wider than the screen. By default it wraps: first
 * after the "@" (and at the hyphens a browser breaks on anyway), and only if one part alone is still
 * wider than the box, anywhere inside it. `ellipsis` keeps it to one line instead, cut with "…", and
 * the whole address in the title. Addresses have no break points of their own ('.' and '@' are not
 * line-break opportunities), so left alone they overflow; `word-break: break-all` splits them mid-word.
 */
export function EmailText({
  email,
  ellipsis = false,
  secondary = false,
  copyable = false,
  style,
}: {
  email: string
  ellipsis?: boolean
  secondary?: boolean
  copyable?: boolean
  style?: CSSProperties
}) {
  const common = {
    ...(secondary ? { type: 'secondary' as const } : {}),
    ...(copyable ? { copyable: { text: email } } : {}),
  }
  if (ellipsis) {
    return (
      <Typography.Text {...common} ellipsis title={email} style={style}>
        {email}
      </Typography.Text>
    )
  }
  const [user, domain] = emailLines(email)
  return (
    <Typography.Text {...common} style={{ overflowWrap: 'anywhere', ...style }}>
      {user}
      {domain && <wbr />}
      {domain}
    </Typography.Text>
  )
}
