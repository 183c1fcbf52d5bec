// exportEvents with a custom attachment-driven prefix, and one capture per export.
export async function setupPlugin({ attachments, global }) {
    global.prefix = attachments.prefixFile ? attachments.prefixFile.contents.toString().trim() : 'none'
}

export async function exportEvents(events, { global }) {
    console.log(`${global.prefix}: ${events.length}`)
    posthog.capture('exported', { distinct_id: 'exporter', count: events.length })
}
