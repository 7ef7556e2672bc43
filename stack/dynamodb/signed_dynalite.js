#!/usr/bin/env node
// dynalite behind an AWS Signature Version 4 check: the stack's DynamoDB (stack/supervisord.conf,
// [program:dynamodb]).
//
// Why: dynalite parses the SigV4 `Authorization` header (it answers MissingAuthenticationToken when there
// is none) but never verifies the signature, so any key, or none worth the name, reads and writes the card
// history. This launcher starts the same server (same arguments as dynalite's cli.js) and puts a check in
// front of dynalite's request handler:
//
// - the request carries `Authorization: AWS4-HMAC-SHA256 Credential=.../<date>/<region>/dynamodb/aws4_request,
//   SignedHeaders=..., Signature=...` (the header form only; query-string signatures are refused);
// - the access key id is the platform's (AWS_ACCESS_KEY_ID), else UnrecognizedClientException;
// - X-Amz-Date is within 15 minutes of now and its day is the credential scope's date; `host` is signed;
// - the signature, recomputed with AWS_SECRET_ACCESS_KEY over the canonical request (method, path, query,
//   the signed headers as node gives them, the sha256 of the body as received: `x-amz-content-sha256` is
//   not trusted), equals the one sent (crypto.timingSafeEqual), else InvalidSignatureException.
//
// Bodies are buffered up to dynalite's own limit (16 MiB, 413 above it) and handed to dynalite as a
// replayable stream only once the signature holds. Refusals answer 400 with DynamoDB's JSON error and one
// log line (method, reason, remote address; never the signature nor the key).
//
// What stays anonymous: `GET /` only. dynalite answers every GET with the fixed string
// "healthy: dynamodb.us-east-1.amazonaws.com " and reads nothing from its store for it; it is the
// service's health answer (as on AWS). Everything else, CORS preflights included, must be signed.
//
// Environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (required: it never serves without a key),
// DYNALITE_DIR (dynalite's package directory; default $CACHE_DIR/node/node_modules/dynalite).
//
// Besides: it closes the LevelDB iterators dynalite leaves open (close_iterators.js says why).
'use strict'

const crypto = require('crypto')
const path = require('path')
const zlib = require('zlib')
const { Readable } = require('stream')
const { closeIteratorsOnReturn } = require('./close_iterators')

const PROG = 'signed_dynalite'
const MAX_REQUEST_BYTES = 16 * 1024 * 1024 // dynalite's own limit (index.js MAX_REQUEST_BYTES)
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000
const ALGORITHM = 'AWS4-HMAC-SHA256'
const SERVICE = 'dynamodb'
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0'

function fail (message) {
  console.error(`${PROG}: ${message}`)
  process.exit(2)
}

function dynaliteDir () {
  if (process.env.DYNALITE_DIR) return path.resolve(process.env.DYNALITE_DIR)
  if (process.env.CACHE_DIR) return path.join(process.env.CACHE_DIR, 'node', 'node_modules', 'dynalite')
  return fail('set DYNALITE_DIR (or CACHE_DIR) to find dynalite')
}

const DYNALITE_DIR = dynaliteDir()
let minimist
try {
  // dynalite's own dependency, from its node_modules tree (as its cli.js requires it).
  minimist = require(require.resolve('minimist', { paths: [ DYNALITE_DIR ] }))
}
catch (err) {
  fail(`cannot load dynalite's minimist from ${DYNALITE_DIR}: ${err.message}`)
}

const argv = minimist(process.argv.slice(2), { alias: { debug: [ 'd' ], verbose: [ 'v' ] } })
if (argv.help || argv.h) {
  console.log('Usage: signed_dynalite.js [dynalite cli.js options: --host, --port, --path, --createTableMs, ...]\n' +
    'Like dynalite, but every request except GET / must be signed (SigV4) with AWS_ACCESS_KEY_ID and\n' +
    'AWS_SECRET_ACCESS_KEY from the environment. DYNALITE_DIR (or CACHE_DIR) locates dynalite.')
  process.exit(0)
}

const ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID || ''
const SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY || ''
if (!ACCESS_KEY_ID.trim() || !SECRET_ACCESS_KEY.trim()) {
  fail('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set: refusing to serve DynamoDB without a key')
}

// --- SigV4 --------------------------------------------------------------------------------------------

class Refusal extends Error {
  constructor (type, message, reason) {
    super(message)
    this.type = type
    this.reason = reason || message // for the log line
  }
}

const missingToken = (reason) => new Refusal('MissingAuthenticationTokenException',
  'Request is missing Authentication Token', reason)
const invalidSignature = (message, reason) => new Refusal('InvalidSignatureException', message, reason)
const unknownKey = () => new Refusal('UnrecognizedClientException',
  'The security token included in the request is invalid.', 'unknown access key id')

function sha256Hex (data) {
  return crypto.createHash('sha256').update(data).digest('hex')
}

function hmac (key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest()
}

// Constant time, whatever the lengths (the digests have equal lengths).
function sameSecretish (a, b) {
  return crypto.timingSafeEqual(crypto.createHash('sha256').update(a).digest(),
    crypto.createHash('sha256').update(b).digest())
}

const signingKeys = new Map() // "date/region/service" -> key; a handful per day
function signingKey (date, region, service) {
  const scope = `${date}/${region}/${service}`
  let key = signingKeys.get(scope)
  if (!key) {
    key = hmac(hmac(hmac(hmac('AWS4' + SECRET_ACCESS_KEY, date), region), service), 'aws4_request')
    if (signingKeys.size >= 32) signingKeys.clear()
    signingKeys.set(scope, key)
  }
  return key
}

// RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper case).
function uriEncode (s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

function safeDecode (s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'))
  }
  catch {
    return s
  }
}

// Non-S3 services: the path with dot segments removed, each segment encoded once more (as botocore and the
// AWS SDKs do it for DynamoDB; DynamoDB's path is always "/").
function canonicalUri (rawPath) {
  const out = []
  for (const segment of (rawPath || '/').split('/')) {
    if (segment === '.') continue
    if (segment === '..') { if (out.length > 1) out.pop(); continue }
    out.push(segment)
  }
  let normalized = out.join('/')
  if (!normalized.startsWith('/')) normalized = '/' + normalized
  if (rawPath.endsWith('/') && !normalized.endsWith('/')) normalized += '/'
  return normalized.split('/').map(uriEncode).join('/')
}

function canonicalQuery (rawQuery) {
  if (!rawQuery) return ''
  return rawQuery.split('&').filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq)
    const value = eq < 0 ? '' : pair.slice(eq + 1)
    return [ uriEncode(safeDecode(key)), uriEncode(safeDecode(value)) ]
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([ k, v ]) => `${k}=${v}`).join('&')
}

function headerValue (value) {
  return (Array.isArray(value) ? value.join(',') : String(value)).trim().replace(/\s+/g, ' ')
}

// Parses the Authorization header and checks everything that needs no body: its form, the key id, the
// date and the credential scope. Returns what verifySignature needs.
function checkHeaders (req) {
  const auth = req.headers.authorization
  if (!auth) return missingToken('no Authorization header')
  const trimmed = auth.trim()
  const space = trimmed.indexOf(' ')
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space)
  if (!algorithm.startsWith('AWS4-')) return missingToken('Authorization header is not AWS Signature Version 4')
  if (algorithm !== ALGORITHM) {
    return invalidSignature(`Unsupported AWS 'algorithm': only ${ALGORITHM} is accepted.`, 'unsupported algorithm')
  }
  const params = {}
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) params[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  const { Credential: credential, SignedHeaders: signedHeadersParam, Signature: signature } = params
  if (!credential || !signedHeadersParam || !signature) {
    return invalidSignature('Authorization header requires Credential, SignedHeaders and Signature.',
      'incomplete Authorization header')
  }
  const scope = credential.split('/')
  if (scope.length !== 5) {
    return invalidSignature('Credential must have exactly 5 slash-delimited elements.', 'malformed credential')
  }
  const [ keyId, scopeDate, region, service, terminator ] = scope
  if (!sameSecretish(keyId, ACCESS_KEY_ID)) return unknownKey()
  if (service !== SERVICE || terminator !== 'aws4_request' || !/^[a-z0-9-]+$/.test(region)) {
    return invalidSignature(`Credential should be scoped to service '${SERVICE}' with terminator 'aws4_request'.`,
      'wrong credential scope')
  }
  const amzDate = req.headers['x-amz-date'] || ''
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (!m) return invalidSignature("Requires an 'X-Amz-Date' header in ISO-8601 basic format.", 'no valid X-Amz-Date')
  const when = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  if (!(Math.abs(Date.now() - when) <= MAX_CLOCK_SKEW_MS)) {
    return invalidSignature(`Signature expired: ${amzDate} is more than 15 minutes from the server's time.`,
      'X-Amz-Date more than 15 minutes from now')
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    return invalidSignature('Date in Credential scope does not match YYYYMMDD from X-Amz-Date.', 'scope date mismatch')
  }
  const signedHeaders = signedHeadersParam.split(';')
  if (!signedHeaders.includes('host')) {
    return invalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.", 'host not signed')
  }
  for (const name of signedHeaders) {
    if (name !== name.toLowerCase() || req.headers[name] === undefined) {
      return invalidSignature('A signed header is missing from the request.', 'signed header missing')
    }
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) return invalidSignature('Malformed signature.', 'malformed signature')
  return { amzDate, scopeDate, region, service, signedHeadersParam, signedHeaders, signature }
}

function verifySignature (req, auth, body) {
  const q = req.url.indexOf('?')
  const rawPath = q < 0 ? req.url : req.url.slice(0, q)
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1)
  const canonicalRequest = [
    req.method,
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    auth.signedHeaders.map((name) => `${name}:${headerValue(req.headers[name])}\n`).join(''),
    auth.signedHeadersParam,
    sha256Hex(body),
  ].join('\n')
  const stringToSign = [
    ALGORITHM,
    auth.amzDate,
    `${auth.scopeDate}/${auth.region}/${auth.service}/aws4_request`,
    sha256Hex(canonicalRequest),
  ].join('\n')
  const expected = crypto.createHmac('sha256', signingKey(auth.scopeDate, auth.region, auth.service))
    .update(stringToSign, 'utf8').digest()
  const given = Buffer.from(auth.signature, 'hex') // 32 bytes: checkHeaders checked the form
  if (!crypto.timingSafeEqual(expected, given)) {
    return invalidSignature('The request signature we calculated does not match the signature you provided. ' +
      'Check your AWS Secret Access Key and signing method.', 'signature mismatch')
  }
  return null
}

// --- HTTP ---------------------------------------------------------------------------------------------

function remote (req) {
  const s = req.socket
  return s ? `${s.remoteAddress}:${s.remotePort}` : '?'
}

function logRefusal (req, status, reason) {
  console.log(`${new Date().toISOString()} ${PROG} refused ${status} ${req.method} ${reason} from ${remote(req)}`)
}

function refuse (req, res, refusal, bodyUnread) {
  logRefusal(req, 400, refusal.reason)
  const body = JSON.stringify({ __type: `com.amazon.coral.service#${refusal.type}`, message: refusal.message })
  res.statusCode = 400
  res.setHeader('x-amzn-RequestId', crypto.randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0'))
  if (zlib.crc32) res.setHeader('x-amz-crc32', zlib.crc32(body))
  res.setHeader('Content-Type', JSON_CONTENT_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  if (bodyUnread) res.setHeader('Connection', 'close') // do not read a refused body
  res.end(body)
}

function tooLarge (req, res) {
  logRefusal(req, 413, `body over ${MAX_REQUEST_BYTES} bytes`)
  res.statusCode = 413
  res.setHeader('Connection', 'close')
  res.setHeader('Content-Length', 0)
  res.end()
}

// What dynalite's httpHandler uses of a request: on('data'|'end'|'error'), removeAllListeners, headers,
// method, url (index.js, httpHandler and sendData).
function replayable (req, body) {
  const copy = new Readable({ read () {} })
  if (body.length) copy.push(body)
  copy.push(null)
  copy.headers = req.headers
  copy.rawHeaders = req.rawHeaders
  copy.method = req.method
  copy.url = req.url
  copy.httpVersion = req.httpVersion
  copy.socket = copy.connection = req.socket
  return copy
}

// Before dynalite opens its store: without it, every Query and Scan leaks a LevelDB snapshot.
closeIteratorsOnReturn(DYNALITE_DIR)
const createDynalite = require(path.join(DYNALITE_DIR, 'index.js'))
const server = createDynalite(argv)
const dynaliteHandlers = server.listeners('request')
if (dynaliteHandlers.length !== 1) fail(`expected one request listener on dynalite's server, found ${dynaliteHandlers.length}`)
const dynaliteHandler = dynaliteHandlers[0]
server.removeAllListeners('request')

server.on('request', (req, res) => {
  const pathOnly = req.url.split('?')[0]
  // Anonymous on purpose: dynalite's fixed "healthy" answer, nothing from the store (see the top comment).
  const anonymousHealth = req.method === 'GET' && pathOnly === '/'
  let auth = null
  if (!anonymousHealth) {
    auth = checkHeaders(req)
    if (auth instanceof Refusal) return refuse(req, res, auth, true)
  }
  const declared = Number(req.headers['content-length'])
  if (declared > MAX_REQUEST_BYTES) return tooLarge(req, res)

  const chunks = []
  let length = 0
  let done = false
  req.on('data', (chunk) => {
    if (done) return
    length += chunk.length
    if (length > MAX_REQUEST_BYTES) {
      done = true
      chunks.length = 0
      return tooLarge(req, res)
    }
    chunks.push(chunk)
  })
  req.on('error', () => { done = true })
  req.on('end', () => {
    if (done) return
    done = true
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length)
    if (auth) {
      const refusal = verifySignature(req, auth, body)
      if (refusal) return refuse(req, res, refusal, false)
    }
    dynaliteHandler.call(server, replayable(req, body), res)
  })
})

// If we're PID 1, eg in a docker container, SIGINT won't end the process as usual (as dynalite's cli.js)
if (process.pid === 1) process.on('SIGINT', process.exit)

server.listen(argv.port || 4567, argv.host || undefined, () => {
  const address = server.address()
  const version = require(path.join(DYNALITE_DIR, 'package.json')).version
  console.log(`${new Date().toISOString()} ${PROG}: dynalite ${version} listening at ` +
    `${argv.ssl ? 'https' : 'http'}://${argv.host || 'localhost'}:${address.port}; every request but GET / must ` +
    'be signed (SigV4) with the platform key (AWS_ACCESS_KEY_ID)')
})
