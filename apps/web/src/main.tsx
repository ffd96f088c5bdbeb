import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { restoreSession } from './api/session'
import { Root } from './app/Root'
import { registerServiceWorker } from './components/pwa'
import { initI18n } from './i18n'
import './index.css'

initI18n()
// Started before the first render so the cookie round-trip overlaps with parsing the UI.
void restoreSession()
registerServiceWorker()

const container = document.getElementById('root')
if (!container) throw new Error('#root is missing from index.html')
createRoot(container).render(
  <StrictMode>
    <Root />
  </StrictMode>,
)
