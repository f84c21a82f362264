/** Previous/next paging with "x–y of total". */
export default function Pager({ from, to, total, page, pages, onPage, label = 'Pages', testId }) {
  return (
    <nav className="pager" aria-label={label} data-testid={testId}>
      <span className="pager-range" data-testid={testId ? `${testId}-range` : undefined}>
        {total ? `${from.toLocaleString('en-US')}–${to.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}` : '0 of 0'}
      </span>
      <button type="button" aria-label="First page" disabled={page <= 1} onClick={() => onPage(1)}>
        «
      </button>
      <button type="button" aria-label="Previous page" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        ‹
      </button>
      <span className="pager-page">
        Page {page} of {pages}
      </span>
      <button type="button" aria-label="Next page" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        ›
      </button>
      <button type="button" aria-label="Last page" disabled={page >= pages} onClick={() => onPage(pages)}>
        »
      </button>
    </nav>
  )
}
