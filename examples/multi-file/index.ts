import { cleanUrl } from './lib/clean-url'
import { parseList } from './lib/parse-list'

export async function setupPlugin({ config, global }) {
    global.keep = parseList(config.keepParams)
}

export async function processEvent(event, { global }) {
    for (const key of ['$current_url', '$referrer']) {
        if (typeof event.properties?.[key] === 'string') {
            event.properties[key] = cleanUrl(event.properties[key], global.keep)
        }
    }
    return event
}
