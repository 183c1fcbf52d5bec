// Adds the country of the event's $ip, as the GeoIP plugin does; records a failed lookup instead.
async function processEvent(event, { geoip }) {
  try {
    const location = await geoip.locate(event.properties.$ip)
    event.properties.country = location ? location.country.isoCode : null
  } catch (error) {
    event.properties.geoipError = error.message
  }
  return event
}
