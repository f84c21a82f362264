import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { setTokenHandler } from './api/index.js'
import App from './App.jsx'
import { restartEventStream, startEventStream } from './stores/eventStream.js'
import { useUiStore } from './stores/uiStore.js'
import './styles.css'

// A 401 {error: "unauthorized"} opens the "API token" prompt; the entered token is stored and
// the request retried. The event stream reconnects with it too.
setTokenHandler(async ({ rejected }) => {
  const token = await useUiStore.getState().requestToken({ rejected })
  if (token) setTimeout(restartEventStream, 0)
  return token
})

startEventStream()

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
