import { BulbOutlined, EyeOutlined, ExperimentOutlined } from '@ant-design/icons'
import type { ModelInfo } from '@qiao/shared'
import { Flex, Select, Tag, Tooltip, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { bareModelName, canChat, modelPrices } from './chat-format'

/** The "emulated" badge: an emulated model answers from the built-in emulator, never from the real provider. */
export function EmulatedTag() {
  const { t } = useTranslation()
  return (
    <Tooltip title={t('chat.emulatedHint')}>
      <Tag color="orange" icon={<ExperimentOutlined />} style={{ marginInlineEnd: 0 }} data-testid="emulated-tag">
        {t('chat.emulated')}
      </Tag>
    </Tooltip>
  )
}

function Capabilities({ model }: { model: ModelInfo }) {
  const { t } = useTranslation()
  return (
    <Flex gap={4} wrap>
      {(model.kind === 'vision' || model.capabilities.includes('vision')) && (
        <Tag icon={<EyeOutlined />} color="blue" style={{ marginInlineEnd: 0 }}>
          {t('chat.capVision')}
        </Tag>
      )}
      {model.capabilities.includes('thinking') && (
        <Tag icon={<BulbOutlined />} color="purple" style={{ marginInlineEnd: 0 }}>
          {t('chat.capThinking')}
        </Tag>
      )}
    </Flex>
  )
}

function PriceLine({ model }: { model: ModelInfo }) {
  const { t } = useTranslation()
  const p = modelPrices(model)
  const text = p.image
    ? t('chat.pricePerImage', { price: p.image })
    : p.input || p.output
      ? t('chat.pricePerM', { input: p.input ?? '—', output: p.output ?? '—' })
      : t('chat.priceUnknown')
  return (
    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
      {text}
    </Typography.Text>
  )
}

/**
 * Picks the model for the next message: name, what it can do, what it costs, and whether it is emulated.
 * An emulated model's name comes without the server's "（模拟）": the tag beside it says so, once.
 */
export function ModelPicker({
  models,
  value,
  onChange,
  loading,
}: {
  models: ModelInfo[]
  value: string | undefined
  onChange: (id: string) => void
  loading?: boolean
}) {
  const { t } = useTranslation()
  const chatModels = models.filter(canChat)
  const selected = chatModels.find((m) => m.id === value)
  return (
    <Flex align="center" gap={6} style={{ minWidth: 0 }}>
      <Select
        data-testid="model-picker"
        aria-label={t('chat.model')}
        value={selected?.id}
        loading={loading}
        placeholder={t('chat.pickModel')}
        onChange={onChange}
        variant="borderless"
        popupMatchSelectWidth={false}
        // As wide as the name needs: no fixed cap, so tablets show it whole. Only a header too narrow
        // for it (a phone) squeezes it, and antd then ends the name with an ellipsis.
        style={{ minWidth: 120, maxWidth: '100%' }}
        styles={{ popup: { root: { width: 340, maxWidth: 'calc(100vw - 24px)' } } }}
        showSearch={{ optionFilterProp: 'label' }}
        options={chatModels.map((m) => ({ value: m.id, label: bareModelName(m), model: m }))}
        labelRender={({ label }) => (
          // The title carries the whole name where the ellipsis cuts it.
          <Typography.Text strong title={typeof label === 'string' ? label : undefined}>
            {label}
          </Typography.Text>
        )}
        optionRender={(option) => {
          const m = option.data.model
          return (
            <Flex vertical gap={2} style={{ padding: '2px 0' }} data-testid={`model-option-${m.id}`}>
              <Flex align="center" gap={6} wrap>
                <Typography.Text strong>{bareModelName(m)}</Typography.Text>
                {m.emulated && <EmulatedTag />}
              </Flex>
              <Flex align="center" justify="space-between" gap={8} wrap>
                <PriceLine model={m} />
                <Capabilities model={m} />
              </Flex>
            </Flex>
          )
        }}
      />
      {selected?.emulated && <EmulatedTag />}
      {selected && (
        <span className="qiao-chat-caps">
          <Capabilities model={selected} />
        </span>
      )}
    </Flex>
  )
}
