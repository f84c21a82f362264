import { apiUrl, downloadWithToken, hasToken } from '../../api/index.js'
import { showError } from '../../stores/uiStore.js'

/**
 * A download link to an API path (with its query). Without an API token the browser follows
 * the link itself (streamed, any size); with one the file is fetched with the header.
 */
export default function DownloadLink({ path, filename, children, className = 'button', ...rest }) {
  const onClick = (event) => {
    if (!hasToken()) return
    event.preventDefault()
    downloadWithToken(path, filename).catch(showError)
  }
  return (
    <a className={className} href={apiUrl(path)} download={filename} onClick={onClick} {...rest}>
      {children}
    </a>
  )
}
