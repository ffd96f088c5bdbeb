import { tuneHeap } from './platform/heap'

// The process entry. The heap settings come first: V8 applies them from here on, so they must be
// set before the server's modules (and everything they import) load. The server is imported
// dynamically for that reason; in the bundle it is a chunk of its own.
const serving = tuneHeap()
import('./server')
  .then(({ serve }) => serve())
  .then(serving)
  .catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
