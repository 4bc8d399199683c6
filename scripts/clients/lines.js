'use strict'
// The log lines every driver sends: line i of a fixed, deterministic sequence.
// Same function as lines.py and lines.sh (see lines.py for the three templates); keep them identical.
function line (i, prefix) {
  let s
  switch (i % 3) {
    case 0:
      s = `user ${1000 + i} logged in from 10.0.${i % 250}.${(i * 7) % 250 + 1}`
      break
    case 1:
      s = `connection ${i} closed after ${(i * 37) % 1000} ms`
      break
    default:
      s = `failed password for admin from 10.1.${i % 200}.${(i * 13) % 250 + 1} port ${20000 + i} ssh2`
  }
  return prefix ? `${prefix} ${s}` : s
}

module.exports = { line }

if (require.main === module) {
  const n = Number(process.argv[2] || 6)
  const first = Number(process.argv[4] || 0)
  for (let j = first; j < first + n; j++) console.log(line(j, process.argv[3] || ''))
}
