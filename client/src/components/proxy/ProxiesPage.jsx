import { useEffect, useState } from 'react'
import { usePolling } from '../../lib/hooks.js'
import { useStreamStore } from '../../stores/eventStream.js'
import { useProxyStore } from '../../stores/proxyStore.js'
import ProxyAddForm from './ProxyAddForm.jsx'
import ProxyErrorLogModal from './ProxyErrorLogModal.jsx'
import ProxyImportForm from './ProxyImportForm.jsx'
import ProxyTable from './ProxyTable.jsx'
import { proxyHealth, testState } from './proxyFormat.js'

/** The Proxies tab: pairs, their health, and the forms that add them. */
export default function ProxiesPage() {
  const proxies = useProxyStore((s) => s.proxies)
  const loading = useProxyStore((s) => s.loading)
  const loaded = useProxyStore((s) => s.loaded)
  const fetchProxies = useProxyStore((s) => s.fetchProxies)
  const testAll = useProxyStore((s) => s.testAll)
  const testingAll = useProxyStore((s) => s.testingAll)
  const live = useStreamStore((s) => s.mode === 'live')
  const [errorsOf, setErrorsOf] = useState(null)

  useEffect(() => {
    fetchProxies()
  }, [fetchProxies])
  // Without the event stream, health changes (cooling, invalid…) arrive by polling.
  usePolling(() => fetchProxies({ quiet: true }), 10000, !live)

  const ready = proxies.filter((p) => proxyHealth(p) === 'ready').length
  const untested = proxies.filter((p) => testState(p) === 'untested').length
  return (
    <div className="page proxies-page">
      <header className="page-header">
        <h1>Proxies</h1>
        <span className="muted" data-testid="proxy-summary">
          {proxies.length} pair{proxies.length === 1 ? '' : 's'}, {ready} ready
          {untested ? `, ${untested} untested` : ''}
        </span>
        <button
          type="button"
          onClick={() => testAll()}
          disabled={testingAll || !proxies.some((p) => p.is_active !== false)}
          data-testid="proxy-test-all"
          title="Send one lookup through every switched-on pair and report each step"
        >
          {testingAll ? 'Testing…' : 'Test all'}
        </button>
        <button type="button" onClick={() => fetchProxies()} disabled={loading}>
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </header>
      {loaded && !proxies.length ? (
        <p className="empty-state" data-testid="proxies-empty">
          No proxies yet — add a proxy + session pair to start checking
        </p>
      ) : (
        <ProxyTable onShowErrors={setErrorsOf} />
      )}
      {!loaded && loading && <p className="empty">Loading proxies…</p>}
      <div className="proxy-forms">
        <ProxyAddForm />
        <ProxyImportForm />
      </div>
      {errorsOf && <ProxyErrorLogModal proxy={errorsOf} onClose={() => setErrorsOf(null)} />}
    </div>
  )
}
