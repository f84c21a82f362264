import AlertBell from './components/alerts/AlertBell.jsx'
import AlertsPage from './components/alerts/AlertsPage.jsx'
import BatchTable from './components/batch/BatchTable.jsx'
import ErrorBanner from './components/common/ErrorBanner.jsx'
import TokenPrompt from './components/common/TokenPrompt.jsx'
import Dashboard from './components/dashboard/Dashboard.jsx'
import NicheFeed from './components/niche/NicheFeed.jsx'
import ProxiesPage from './components/proxy/ProxiesPage.jsx'
import SettingsForm from './components/settings/SettingsForm.jsx'
import StoriesNow from './components/stories/StoriesNow.jsx'
import { useEffect, useRef } from 'react'
import { Link, useRoute } from './lib/router.js'
import { useUiStore } from './stores/uiStore.js'

export const TABS = [
  { path: '/', label: 'Stories now', testId: 'nav-stories', Page: StoriesNow },
  { path: '/niches', label: 'Niche Feed', testId: 'nav-niche-feed', Page: NicheFeed },
  { path: '/batches', label: 'Batches', testId: 'nav-batches', Page: BatchTable },
  { path: '/proxies', label: 'Proxies', testId: 'nav-proxies', Page: ProxiesPage },
  { path: '/settings', label: 'Settings', testId: 'nav-settings', Page: SettingsForm },
  { path: '/dashboard', label: 'Dashboard', testId: 'nav-dashboard', Page: Dashboard },
  { path: '/alerts', label: 'Alerts', testId: 'nav-alerts', Page: AlertsPage },
]

function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Go to Stories now</Link>
      </p>
    </div>
  )
}

export default function App() {
  const path = useRoute()
  const tab = TABS.find((t) => t.path === path)
  const Page = tab ? tab.Page : NotFound
  const nav = useRef(null)

  // Banners belong to the page that raised them: leaving it clears them.
  useEffect(() => {
    useUiStore.getState().leavePage(path)
  }, [path])

  // On a narrow screen the tabs are one scrolling strip: keep the current tab in view.
  useEffect(() => {
    const strip = nav.current
    const current = strip?.querySelector('[aria-current="page"]')
    if (!strip || !current || strip.scrollWidth <= strip.clientWidth) return
    strip.scrollLeft = current.offsetLeft - (strip.clientWidth - current.offsetWidth) / 2
  }, [path])

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">storycheck</span>
        <nav aria-label="Main" className="topnav" ref={nav}>
          <ul className="tabs">
            {TABS.map((t) => (
              <li key={t.path}>
                <Link to={t.path} className="tab" aria-current={t.path === path ? 'page' : undefined} data-testid={t.testId}>
                  {t.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <AlertBell />
      </header>
      <ErrorBanner />
      <main id="main" className="content">
        <Page />
      </main>
      <TokenPrompt />
    </div>
  )
}
