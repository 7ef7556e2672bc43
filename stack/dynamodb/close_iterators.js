// Makes dynalite close the LevelDB iterators of its queries and scans, which it otherwise never does.
//
// Why: dynalite 4.0.0 reads a Query's or Scan's items through a stream over a LevelDB iterator (db/index.js,
// createValueStream and createKeyStream) and, when the stream ends or is destroyed, closes the iterator by
// calling its `return()`, which abstract-level's iterators do not have (they have `close()`). So every
// Query and Scan left an iterator open for the life of the process, each holding a LevelDB snapshot: no
// compaction could drop anything written after the first query, overwritten or deleted, nor delete the
// table files it replaced. Measured (bench/README.md, soak): the store grew 33 -> 547 MiB in 12 minutes at
// 1,000 tx/s and to 8.6 GiB over a day, and dynalite's resident memory with it (LevelDB maps its table
// files). The scorer queries the log table at every compaction of its history log, so this ran all day.
//
// What it does: gives abstract-level's iterators the `return()` dynalite calls, closing the iterator.
// Must run before dynalite opens its store; `dynaliteDir` finds the abstract-level dynalite itself loads.
'use strict'

function closeIteratorsOnReturn (dynaliteDir) {
  const level = require.resolve('level', { paths: [ dynaliteDir ] })
  const abstractLevel = require(require.resolve('abstract-level', { paths: [ level ] }))
  for (const name of [ 'AbstractIterator', 'AbstractKeyIterator', 'AbstractValueIterator' ]) {
    const proto = abstractLevel[name].prototype
    if (typeof proto.return === 'function') continue // a later abstract-level has its own
    Object.defineProperty(proto, 'return', {
      value: async function () {
        await this.close()
        return { done: true, value: undefined }
      },
      writable: true,
      configurable: true
    })
  }
}

module.exports = { closeIteratorsOnReturn }
