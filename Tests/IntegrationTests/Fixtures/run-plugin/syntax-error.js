export function processEvent(event) {
    return event
