export function parseList(text: string | undefined): string[] {
    return (text || '').split(',').map((item) => item.trim()).filter(Boolean)
}
