// Buffers every event for a minute, as export plugins of 2021 did; nothing flushes it in teardown.
const { createBuffer } = require('@posthog/plugin-contrib')

const buffer = createBuffer({
    limit: 100,
    timeoutSeconds: 60,
    onFlush: async (items) => {
        console.log(`flushed ${items.length}: ${items.join(', ')}`)
    },
})

export function onEvent(event) {
    buffer.add(event.event)
}
