// The one error type of the viewer's data layer. `kind`: "missing" (HTTP 404), "http" (another HTTP
// failure), "stale" (a file of another format), "corrupt" (unreadable or inconsistent; the message
// names the file). The router picks its heading from the kind and shows the message as is.

export class DataError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}
