/** The URL without its query string, except the parameters in `keep`. */
export function cleanUrl(url: string, keep: string[]): string {
    const [base, query] = url.split('?', 2)
    if (!query) return url
    const kept = query.split('&').filter((pair) => keep.includes(pair.split('=')[0]))
    return kept.length > 0 ? `${base}?${kept.join('&')}` : base
}
