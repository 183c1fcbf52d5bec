// Fetches a URL that redirects, the same URL without following, and one that does not redirect.
export async function runEveryMinute({ config }) {
    const followed = await fetch(config.base + '/redirect')
    console.log(`followed ${followed.status} ${followed.redirected} ${followed.url}`)
    const manual = await fetch(config.base + '/redirect', { redirect: 'manual' })
    console.log(`manual ${manual.status} ${manual.redirected} ${manual.headers.get('location')}`)
    const direct = await fetch(config.base + '/landed')
    console.log(`direct ${direct.status} ${direct.redirected} ${direct.url}`)
}
