// The feed baked into packages (electron-builder `publish.url` → resources/app-update.yml). Keep it identical to
// `publish.url` in electron-builder.yml (the packaging test checks both). `updates.feed_url` overrides it.
// `.invalid` on purpose: a real deployment sets its own HTTPS host (docs/releasing.md).
export const BUILT_IN_FEED_URL = 'https://updates.minion.invalid/minion-agent/';
