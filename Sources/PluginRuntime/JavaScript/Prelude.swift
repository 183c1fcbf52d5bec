// swift-format-ignore-file
// (This file holds JavaScript source in a raw string, which Swift formatting rules do not fit.)
/// The JavaScript run in every context before the plugin: globals of reference §6.1 (console, Buffer,
/// URL, fetch, RetryError, require for the libraries of §6.3), `meta` (§8.2) and the runtime's own
/// helpers. It is a function expression called with the context's native bridge (pure operations), so
/// no bridge ever becomes a global and plugin code cannot reach one. It installs the shared builtins
/// and returns `configure`, which each plugin config of the context calls with its own bridge and
/// settings, getting its own console, fetch, posthog, require, `meta` and the helper object the
/// runtime keeps.
enum Prelude {
    static let source = #"""
(function (native, testTimer) {
'use strict';
const G = globalThis;
const $apply = Reflect.apply, $then = Promise.prototype.then, $Promise = Promise, $String = String;
const $stringify = JSON.stringify, $parse = JSON.parse, $freeze = Object.freeze, $isArray = Array.isArray;
const $keys = Object.keys, $ownNames = Object.getOwnPropertyNames, $define = Object.defineProperty;
const $toString = Object.prototype.toString, $fromCharCode = String.fromCharCode, $join = Array.prototype.join;
const isObject = (v) => v !== null && (typeof v === 'object' || typeof v === 'function');
const isRedirect = $freeze((c) => [301, 302, 303, 307, 308].includes(c));
const readOnly = (name, value) => $define(G, name, { value, writable: false, enumerable: false, configurable: false });
const writable = (name, value) => $define(G, name, { value, writable: true, enumerable: false, configurable: true });
// ---- Error stacks: V8 starts `error.stack` with the error's `Name: message` line (formatted when the
// stack is first read), JavaScriptCore gives the frames alone, so a plugin logging `error.stack` lost
// its message. Errors made with `new Error(…)` (and the other constructors, subclasses included) get
// that line; the runtime's own frames (this file, the constructor's trap) are left out. Errors the
// engine itself throws (`null.x`) keep JavaScriptCore's stack.
const PRELUDE_FRAME = /^[^\s@]*@prelude\.js:\d+:\d+$/, NATIVE_FRAME = /^[^\s@]*@\[native code\]$/;
const settleStack = (error, value) => {
  try { $define(error, 'stack', { value, writable: true, enumerable: false, configurable: true }); } catch (e) { /* frozen */ }
};
// The stack's text is taken at construction, as JavaScriptCore made it, and reworked only when read.
function withStackHead(error) {
  const raw = isObject(error) ? error.stack : undefined;
  if (typeof raw !== 'string') return error;
  try {
    $define(error, 'stack', {
      enumerable: false, configurable: true,
      get() {
        const lines = raw.split('\n').filter((line) => !PRELUDE_FRAME.test(line));
        let first = 0;
        while (first < lines.length && NATIVE_FRAME.test(lines[first])) first++;
        const frames = $apply($join, lines.slice(first), ['\n']);
        let head;
        try { head = $String(this); } catch (e) { head = 'Error'; }
        const value = frames ? head + '\n' + frames : head;
        settleStack(this, value);
        return value;
      },
      set(value) { settleStack(this, value); },
    });
  } catch (e) { /* a frozen or exotic object: its stack stays */ }
  return error;
}
// V8 keeps 10 frames (`Error.stackTraceLimit`), JavaScriptCore 100: a stack overflow recorded 100
// copies of one frame. The limit is 10 as in Node, and a plugin may change it as there. The frames of
// the constructor's trap below are taken beyond the limit, so the plugin's own still count 10.
const $Error = Error, RUNTIME_FRAMES = 4;
$Error.stackTraceLimit = 10;
function constructed(make) {
  const limit = $Error.stackTraceLimit;
  if (typeof limit !== 'number') return make();
  $Error.stackTraceLimit = limit + RUNTIME_FRAMES;
  try { return make(); } finally { $Error.stackTraceLimit = limit; }
}
for (const name of ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']) {
  const Base = G[name];
  if (typeof Base !== 'function') continue;
  const Wrapped = new Proxy(Base, {
    construct: (target, args, newTarget) => withStackHead(constructed(() => Reflect.construct(target, args, newTarget))),
    apply: (target, self, args) => withStackHead(constructed(() => $apply(target, self, args))),
  });
  $define(Base.prototype, 'constructor', { value: Wrapped, writable: true, enumerable: false, configurable: true });
  writable(name, Wrapped);
}
function deepFreeze(value) {
  if (isObject(value) && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    $freeze(value);
    for (const key of $ownNames(value)) deepFreeze(value[key]);
  }
  return value;
}

// ---- console (§6.2)
function formatArgs(args) {
  const parts = [];
  for (const arg of args) {
    let text;
    try { text = $String(arg); } catch (e) { text = $apply($toString, arg, []); }
    if ($isArray(arg) || text === '[object Object]') {
      try { const json = $stringify(arg); if (json !== undefined) text = json; } catch (e) { /* cyclic: keep String(arg) */ }
    }
    parts[parts.length] = text;
  }
  return $apply($join, parts, [' ']);
}

// ---- bytes: Buffer, TextEncoder/TextDecoder, atob/btoa
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
B64_INDEX[45] = 62; B64_INDEX[95] = 63; // base64url
function base64Encode(bytes, url) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) { const n = bytes[i] << 16; out += B64[n >> 18] + B64[(n >> 12) & 63] + (url ? '' : '=='); }
  else if (rest === 2) { const n = (bytes[i] << 16) | (bytes[i + 1] << 8); out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + (url ? '' : '='); }
  if (url) out = out.replace(/\+/g, '-').replace(/\//g, '_');
  return out;
}
function base64Decode(text) {
  const out = [];
  let bits = 0, value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 61) break; // '='
    const d = c < 128 ? B64_INDEX[c] : -1;
    if (d < 0) continue; // Node skips characters outside the alphabet
    value = (value << 6) | d; bits += 6;
    if (bits >= 8) { bits -= 8; out.push((value >> bits) & 255); }
  }
  return out;
}
function normalizeEncoding(encoding) {
  const e = encoding === undefined || encoding === null ? 'utf8' : $String(encoding).toLowerCase();
  switch (e) {
    case 'utf8': case 'utf-8': return 'utf8';
    case 'hex': return 'hex';
    case 'base64': return 'base64';
    case 'base64url': return 'base64url';
    case 'latin1': case 'binary': return 'latin1';
    case 'ascii': return 'ascii';
    case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
    default: throw new TypeError('Unknown encoding: ' + encoding);
  }
}
class Buffer extends Uint8Array {
  static from(value, encodingOrOffset, length) {
    if (typeof value === 'string') return bufferFromString(value, encodingOrOffset);
    if (value instanceof String) return bufferFromString(value.valueOf(), encodingOrOffset);
    if (value instanceof ArrayBuffer) {
      const offset = encodingOrOffset >>> 0;
      return new Buffer(value, offset, length === undefined ? value.byteLength - offset : length);
    }
    if (ArrayBuffer.isView(value) || $isArray(value)) { const b = new Buffer(value.length); b.set(value); return b; }
    if (isObject(value) && value.type === 'Buffer' && $isArray(value.data)) return Buffer.from(value.data);
    if (isObject(value) && typeof value.length === 'number') return Buffer.from(Array.from(value));
    throw new TypeError('The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.');
  }
  static alloc(size, fill, encoding) {
    const b = new Buffer(size);
    if (fill !== undefined && fill !== 0) b.fill(fill, 0, size, encoding);
    return b;
  }
  static allocUnsafe(size) { return new Buffer(size); }
  static allocUnsafeSlow(size) { return new Buffer(size); }
  static isBuffer(value) { return value instanceof Buffer; }
  static isEncoding(encoding) { try { normalizeEncoding(encoding); return true; } catch (e) { return false; } }
  static byteLength(value, encoding) {
    if (typeof value !== 'string') return value.byteLength;
    return bufferFromString(value, encoding).length;
  }
  static concat(list, totalLength) {
    if (totalLength === undefined) { totalLength = 0; for (const b of list) totalLength += b.length; }
    const out = Buffer.alloc(totalLength);
    let offset = 0;
    for (const b of list) {
      if (offset >= totalLength) break;
      const part = b.length > totalLength - offset ? b.subarray(0, totalLength - offset) : b;
      out.set(part, offset); offset += part.length;
    }
    return out;
  }
  static compare(a, b) { return a.compare(b); }
  toString(encoding, start, end) {
    start = start === undefined ? 0 : start; end = end === undefined ? this.length : end;
    const bytes = start === 0 && end === this.length ? this : this.subarray(start, end);
    switch (normalizeEncoding(encoding)) {
      case 'utf8': return native('utf8decode', bytes);
      case 'hex': { let s = ''; for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16); return s; }
      case 'base64': return base64Encode(bytes, false);
      case 'base64url': return base64Encode(bytes, true);
      case 'latin1': { let s = ''; for (let i = 0; i < bytes.length; i++) s += $fromCharCode(bytes[i]); return s; }
      case 'ascii': { let s = ''; for (let i = 0; i < bytes.length; i++) s += $fromCharCode(bytes[i] & 127); return s; }
      case 'utf16le': { let s = ''; for (let i = 0; i + 1 < bytes.length; i += 2) s += $fromCharCode(bytes[i] | (bytes[i + 1] << 8)); return s; }
    }
  }
  toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
  equals(other) { return this.compare(other) === 0; }
  compare(other) {
    const n = Math.min(this.length, other.length);
    for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
    return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
  }
  slice(start, end) { return this.subarray(start, end); }
  write(string, offset, length, encoding) {
    const bytes = bufferFromString(string, typeof offset === 'string' ? offset : encoding);
    offset = typeof offset === 'number' ? offset : 0;
    const n = Math.min(bytes.length, this.length - offset, typeof length === 'number' ? length : Infinity);
    this.set(bytes.subarray(0, n), offset);
    return n;
  }
  // Node's forms: a string (in `encoding`), a byte or bytes to find; a string offset is the encoding.
  indexOf(value, byteOffset, encoding) { return bufferSearch(this, value, byteOffset, encoding, false); }
  lastIndexOf(value, byteOffset, encoding) { return bufferSearch(this, value, byteOffset, encoding, true); }
  includes(value, byteOffset, encoding) { return bufferSearch(this, value, byteOffset, encoding, false) !== -1; }
  fill(value, offset, end, encoding) {
    if (typeof offset === 'string') { encoding = offset; offset = undefined; end = undefined; }
    else if (typeof end === 'string') { encoding = end; end = undefined; }
    offset = offset === undefined ? 0 : offset; end = end === undefined ? this.length : end;
    if (typeof value !== 'string' && !ArrayBuffer.isView(value)) return Uint8Array.prototype.fill.call(this, Number(value) & 255, offset, end);
    const pattern = typeof value === 'string' ? bufferFromString(value, encoding) : value;
    if (pattern.length === 0) return Uint8Array.prototype.fill.call(this, 0, offset, end);
    for (let i = offset, j = 0; i < end; i++, j = (j + 1) % pattern.length) this[i] = pattern[j];
    return this;
  }
  copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
    sourceEnd = Math.min(sourceEnd, this.length);
    const count = Math.min(sourceEnd - sourceStart, target.length - targetStart);
    if (!(count > 0)) return 0;
    target.set(this.subarray(sourceStart, sourceStart + count), targetStart);
    return count;
  }
  swap16() { return bufferSwap(this, 2); }
  swap32() { return bufferSwap(this, 4); }
  swap64() { return bufferSwap(this, 8); }
  readUIntBE(offset, byteLength) { return bufferReadUInt(this, offset, byteLength, false); }
  readUIntLE(offset, byteLength) { return bufferReadUInt(this, offset, byteLength, true); }
  readIntBE(offset, byteLength) { return bufferReadInt(this, offset, byteLength, false); }
  readIntLE(offset, byteLength) { return bufferReadInt(this, offset, byteLength, true); }
  writeUIntBE(value, offset, byteLength) { return bufferWriteUInt(this, value, offset, byteLength, false, false); }
  writeUIntLE(value, offset, byteLength) { return bufferWriteUInt(this, value, offset, byteLength, true, false); }
  writeIntBE(value, offset, byteLength) { return bufferWriteUInt(this, value, offset, byteLength, false, true); }
  writeIntLE(value, offset, byteLength) { return bufferWriteUInt(this, value, offset, byteLength, true, true); }
}
function bufferRangeError(name, low, high, received) {
  const e = new RangeError('The value of "' + name + '" is out of range. It must be >= ' + low + ' and <= ' + high + '. Received ' + received);
  e.code = 'ERR_OUT_OF_RANGE';
  return e;
}
function bufferOffset(b, offset, size) {
  if (offset === undefined) offset = 0;
  if (typeof offset !== 'number') { const e = new TypeError('The "offset" argument must be of type number. Received type ' + typeof offset); e.code = 'ERR_INVALID_ARG_TYPE'; throw e; }
  if (b.length < size) { const e = new RangeError('Attempt to access memory outside buffer bounds'); e.code = 'ERR_BUFFER_OUT_OF_BOUNDS'; throw e; }
  if (!Number.isInteger(offset) || offset < 0 || offset > b.length - size) throw bufferRangeError('offset', 0, b.length - size, offset);
  return offset;
}
function bufferSearch(b, value, byteOffset, encoding, last) {
  if (typeof byteOffset === 'string') { encoding = byteOffset; byteOffset = undefined; }
  let needle;
  if (typeof value === 'number') needle = [value & 255];
  else if (typeof value === 'string') needle = bufferFromString(value, encoding);
  else if (ArrayBuffer.isView(value)) needle = value;
  else throw new TypeError('The "value" argument must be one of type number or string or an instance of Buffer or Uint8Array.');
  let start = byteOffset === undefined || Number.isNaN(Number(byteOffset)) ? (last ? b.length : 0) : Math.trunc(Number(byteOffset));
  if (start < 0) start += b.length;
  const at = (i) => { let j = 0; while (j < needle.length && b[i + j] === needle[j]) j++; return j === needle.length; };
  if (last) {
    for (let i = Math.min(start, b.length - needle.length); i >= 0; i--) if (at(i)) return i;
    return -1;
  }
  if (needle.length === 0) return Math.min(Math.max(start, 0), b.length);
  for (let i = Math.max(start, 0); i + needle.length <= b.length; i++) if (at(i)) return i;
  return -1;
}
function bufferSwap(b, size) {
  if (b.length % size !== 0) throw new RangeError('Buffer size must be a multiple of ' + size * 8 + '-bits');
  for (let i = 0; i < b.length; i += size) { for (let j = 0; j < size / 2; j++) { const t = b[i + j]; b[i + j] = b[i + size - 1 - j]; b[i + size - 1 - j] = t; } }
  return b;
}
function bufferReadUInt(b, offset, byteLength, little) {
  if (!Number.isInteger(byteLength) || byteLength < 1 || byteLength > 6) throw bufferRangeError('byteLength', 1, 6, byteLength);
  offset = bufferOffset(b, offset, byteLength);
  let v = 0;
  for (let i = 0; i < byteLength; i++) v = v * 256 + b[offset + (little ? byteLength - 1 - i : i)];
  return v;
}
function bufferReadInt(b, offset, byteLength, little) {
  const v = bufferReadUInt(b, offset, byteLength, little);
  return v >= 2 ** (8 * byteLength - 1) ? v - 2 ** (8 * byteLength) : v;
}
function bufferWriteUInt(b, value, offset, byteLength, little, signed) {
  if (!Number.isInteger(byteLength) || byteLength < 1 || byteLength > 6) throw bufferRangeError('byteLength', 1, 6, byteLength);
  offset = bufferOffset(b, offset, byteLength);
  value = +value;
  const low = signed ? -(2 ** (8 * byteLength - 1)) : 0, high = signed ? 2 ** (8 * byteLength - 1) - 1 : 2 ** (8 * byteLength) - 1;
  if (value < low || value > high) throw bufferRangeError('value', low, high, value);
  let v = value < 0 ? value + 2 ** (8 * byteLength) : value;
  for (let i = 0; i < byteLength; i++) { b[offset + (little ? i : byteLength - 1 - i)] = v % 256; v = Math.floor(v / 256); }
  return offset + byteLength;
}
// readUInt8…readBigInt64LE and the writes, over a DataView, with Node's range checks (and its
// lowercase `Uint` aliases).
for (const [name, size, view, low, high] of [
  ['UInt8', 1, 'Uint8', 0, 255], ['Int8', 1, 'Int8', -128, 127], ['UInt16', 2, 'Uint16', 0, 65535], ['Int16', 2, 'Int16', -32768, 32767],
  ['UInt32', 4, 'Uint32', 0, 4294967295], ['Int32', 4, 'Int32', -2147483648, 2147483647], ['Float', 4, 'Float32'], ['Double', 8, 'Float64'],
  ['BigUInt64', 8, 'BigUint64'], ['BigInt64', 8, 'BigInt64'],
]) {
  for (const suffix of size === 1 ? [''] : ['LE', 'BE']) {
    const little = suffix === 'LE', get = DataView.prototype['get' + view], set = DataView.prototype['set' + view];
    const read = function (offset) { offset = bufferOffset(this, offset, size); return $apply(get, new DataView(this.buffer, this.byteOffset, this.length), [offset, little]); };
    const write = function (value, offset) {
      offset = bufferOffset(this, offset, size);
      if (low !== undefined) { value = +value; if (value < low || value > high) throw bufferRangeError('value', low, high, value); }
      $apply(set, new DataView(this.buffer, this.byteOffset, this.length), [offset, value, little]);
      return offset + size;
    };
    for (const alias of name.startsWith('UInt') || name.startsWith('BigUInt') ? [name, name.replace('UInt', 'Uint')] : [name]) {
      $define(Buffer.prototype, 'read' + alias + suffix, { value: read, writable: true, configurable: true });
      $define(Buffer.prototype, 'write' + alias + suffix, { value: write, writable: true, configurable: true });
    }
  }
}
function toBuffer(u8) { return new Buffer(u8.buffer, u8.byteOffset, u8.length); }
function bufferFromString(text, encoding) {
  text = $String(text);
  switch (normalizeEncoding(encoding)) {
    case 'utf8': return toBuffer(native('utf8encode', text));
    case 'hex': {
      const n = text.length >>> 1, b = new Buffer(n);
      for (let i = 0; i < n; i++) { const v = parseInt(text.substr(i * 2, 2), 16); if (Number.isNaN(v)) return b.subarray(0, i); b[i] = v; }
      return b;
    }
    case 'base64': case 'base64url': return Buffer.from(base64Decode(text));
    case 'latin1': case 'ascii': { const b = new Buffer(text.length); for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i); return b; }
    case 'utf16le': { const b = new Buffer(text.length * 2); for (let i = 0; i < text.length; i++) { const c = text.charCodeAt(i); b[2 * i] = c & 255; b[2 * i + 1] = c >> 8; } return b; }
  }
}
function toBytes(data, encoding) {
  if (typeof data === 'string') return bufferFromString(data, encoding);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
}
readOnly('Buffer', Buffer);
class TextEncoder { get encoding() { return 'utf-8'; } encode(text = '') { return native('utf8encode', $String(text)); } }
class TextDecoder {
  constructor(label = 'utf-8') { if (!/^utf-?8$/i.test(label)) throw new RangeError('The "' + label + '" encoding is not supported'); }
  get encoding() { return 'utf-8'; }
  decode(input) { return input === undefined ? '' : native('utf8decode', toBytes(input)); }
}
writable('TextEncoder', TextEncoder);
writable('TextDecoder', TextDecoder);
writable('btoa', function btoa(text) {
  text = $String(text);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw new Error('Invalid character');
    bytes[i] = c;
  }
  return base64Encode(bytes, false);
});
writable('atob', function atob(text) {
  const bytes = base64Decode($String(text).replace(/[\t\n\f\r ]/g, ''));
  let s = '';
  for (const b of bytes) s += $fromCharCode(b);
  return s;
});

// ---- URL and URLSearchParams (WHATWG-shaped, enough for plugins)
const SPECIAL_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21', 'file:': '' };
function formEncode(text) {
  return encodeURIComponent(text).replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, '+');
}
function formDecode(text) {
  const t = text.replace(/\+/g, ' ');
  try { return decodeURIComponent(t); } catch (e) { return unescape(t); }
}
class URLSearchParams {
  constructor(init) {
    $define(this, '_list', { value: [], writable: true });
    $define(this, '_url', { value: null, writable: true });
    if (init === undefined || init === null) return;
    if (typeof init === 'object' && typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) this._list.push([$String(pair[0]), $String(pair[1])]);
    } else if (typeof init === 'object') {
      for (const key of $keys(init)) this._list.push([key, $String(init[key])]);
    } else this._parse($String(init));
  }
  _parse(text) {
    this._list = [];
    if (text.startsWith('?')) text = text.slice(1);
    for (const part of text.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      this._list.push(eq < 0 ? [formDecode(part), ''] : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
    }
  }
  _update() { if (this._url) { const s = this.toString(); this._url._query = s ? '?' + s : ''; } }
  get size() { return this._list.length; }
  append(name, value) { this._list.push([$String(name), $String(value)]); this._update(); }
  delete(name) { name = $String(name); this._list = this._list.filter((p) => p[0] !== name); this._update(); }
  get(name) { name = $String(name); const p = this._list.find((p) => p[0] === name); return p ? p[1] : null; }
  getAll(name) { name = $String(name); return this._list.filter((p) => p[0] === name).map((p) => p[1]); }
  has(name) { name = $String(name); return this._list.some((p) => p[0] === name); }
  set(name, value) {
    name = $String(name); value = $String(value);
    const i = this._list.findIndex((p) => p[0] === name);
    if (i < 0) this._list.push([name, value]);
    else { this._list[i][1] = value; this._list = this._list.filter((p, j) => j <= i || p[0] !== name); }
    this._update();
  }
  sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._update(); }
  forEach(callback, thisArg) { for (const [k, v] of this._list) callback.call(thisArg, v, k, this); }
  keys() { return this._list.map((p) => p[0])[Symbol.iterator](); }
  values() { return this._list.map((p) => p[1])[Symbol.iterator](); }
  entries() { return this._list.map((p) => [p[0], p[1]])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return this._list.map((p) => formEncode(p[0]) + '=' + formEncode(p[1])).join('&'); }
}
const encodeComponent = (text, extra) => text.replace(extra, (c) => encodeURIComponent(c));
function normalizePath(path, special) {
  const segments = path.split('/');
  const out = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i], last = i === segments.length - 1;
    if (s === '..' || s.toLowerCase() === '%2e%2e') { if (out.length > 1) out.pop(); if (last) out.push(''); }
    else if (s === '.' || s.toLowerCase() === '%2e') { if (last) out.push(''); }
    else out.push(s);
  }
  let result = out.join('/');
  if (special && !result.startsWith('/')) result = '/' + result;
  return encodeComponent(result, /[^\x21-\x7e]|[ "<>`{}]/g);
}
// WHATWG host parsing for special schemes, as Node's URL: percent-decoded, forbidden code points
// refused, an address ending in a number read as IPv4 (`127.1`, `0x7f.0.0.1`), other labels
// lowercased and, when not ASCII, Punycode (`bücher.de` → `xn--bcher-kva.de`; UTS #46 mapping
// beyond NFC and lowercasing is not applied).
function parseHost(input) {
  if (input.startsWith('[')) return input.toLowerCase();
  let domain;
  try { domain = decodeURIComponent(input); } catch (e) { throw new TypeError('Invalid URL host: ' + input); }
  if (/[\x00-\x20#%\/:<>?@[\\\]^|\x7f]/.test(domain)) throw new TypeError('Invalid URL host: ' + input);
  domain = domain.normalize('NFC').toLowerCase().replace(/[\u3002\uff0e\uff61]/g, '.');
  const labels = domain.split('.');
  for (let i = 0; i < labels.length; i++) if (/[^\x00-\x7f]/.test(labels[i])) labels[i] = 'xn--' + punycode(labels[i]);
  domain = labels.join('.');
  const ipv4 = parseIPv4(domain);
  return ipv4 === null ? domain : ipv4;
}
function parseIPv4(host) {
  const parts = host.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const last = parts[parts.length - 1];
  if (!/^(\d+|0x[0-9a-f]*)$/.test(last)) return null;
  const invalid = () => new TypeError('Invalid URL host: ' + host);
  if (parts.length > 4) throw invalid();
  const numbers = [];
  for (let part of parts) {
    let radix = 10;
    if (/^0x/.test(part)) { radix = 16; part = part.slice(2); } else if (part.length > 1 && part[0] === '0') { radix = 8; part = part.slice(1); }
    if (part === '') { if (radix === 10) throw invalid(); numbers.push(0); continue; }
    if (!(radix === 16 ? /^[0-9a-f]+$/ : radix === 8 ? /^[0-7]+$/ : /^\d+$/).test(part)) throw invalid();
    numbers.push(parseInt(part, radix));
  }
  const n = numbers.length;
  for (let i = 0; i < n - 1; i++) if (numbers[i] > 255) throw invalid();
  if (numbers[n - 1] >= 256 ** (5 - n)) throw invalid();
  let address = numbers[n - 1];
  for (let i = 0; i < n - 1; i++) address += numbers[i] * 256 ** (3 - i);
  return [address / 16777216, address / 65536, address / 256, address].map((v) => Math.floor(v) % 256).join('.');
}
// RFC 3492 Punycode of one label.
function punycode(label) {
  const points = [];
  for (const c of label) points.push(c.codePointAt(0));
  const digit = (d) => $fromCharCode(d < 26 ? d + 97 : d + 22);
  const adapt = (delta, count, first) => {
    delta = first ? Math.floor(delta / 700) : delta >> 1;
    delta += Math.floor(delta / count);
    let k = 0;
    while (delta > 455) { delta = Math.floor(delta / 35); k += 36; }
    return k + Math.floor(36 * delta / (delta + 38));
  };
  let output = '';
  for (const c of points) if (c < 128) output += $fromCharCode(c);
  const basic = output.length;
  let handled = basic, n = 128, delta = 0, bias = 72;
  if (basic > 0) output += '-';
  while (handled < points.length) {
    let m = Infinity;
    for (const c of points) if (c >= n && c < m) m = c;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of points) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = 36; ; k += 36) {
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (q < t) break;
        output += digit(t + (q - t) % (36 - t));
        q = Math.floor((q - t) / (36 - t));
      }
      output += digit(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return output;
}
const encodeUserinfo = (text) => encodeComponent(text, /[^\x21-\x7e]|[ "#<>?`{}\/:;=@[\\\]^|]/g);
class URL {
  constructor(url, base) {
    url = $String(url).trim().replace(/[\t\n\r]/g, '');
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(url);
    if (!m) {
      if (base === undefined) throw new TypeError('Invalid URL: ' + url);
      const b = base instanceof URL ? base : new URL(base);
      this._init(b.protocol, b._user, b._pass, b.hostname, b.port, b.pathname, b._query, '');
      this._resolve(url);
      return;
    }
    const protocol = m[1].toLowerCase() + ':';
    let rest = m[2];
    const special = protocol in SPECIAL_PORTS;
    if (special) rest = rest.replace(/\\/g, '/');
    let hash = '', query = '';
    const h = rest.indexOf('#'); if (h >= 0) { hash = rest.slice(h); rest = rest.slice(0, h); }
    const q = rest.indexOf('?'); if (q >= 0) { query = rest.slice(q); rest = rest.slice(0, q); }
    if (protocol === 'file:' && rest.startsWith('//')) {
      // The host is what stands between '//' and the next '/'; a drive letter there is the path's.
      rest = rest.slice(2);
      const slash = rest.indexOf('/');
      let host = slash < 0 ? rest : rest.slice(0, slash);
      let path = slash < 0 ? '/' : rest.slice(slash);
      if (/^[a-zA-Z][:|]$/.test(host)) { path = '/' + host + path; host = ''; }
      host = host === '' || host.toLowerCase() === 'localhost' ? '' : parseHost(host);
      this._init(protocol, '', '', host, '', path, query, hash);
    } else if (rest.startsWith('//') || (special && protocol !== 'file:')) {
      rest = rest.replace(/^\/*/, '');
      const slash = rest.indexOf('/');
      const authority = slash < 0 ? rest : rest.slice(0, slash);
      const path = slash < 0 ? '' : rest.slice(slash);
      const at = authority.lastIndexOf('@');
      const userinfo = at < 0 ? '' : authority.slice(0, at);
      const hostport = at < 0 ? authority : authority.slice(at + 1);
      const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostport);
      if (!pm || (special && protocol !== 'file:' && pm[1] === '')) throw new TypeError('Invalid URL: ' + url);
      let port = pm[2] || '';
      if (port !== '') { const n = parseInt(port, 10); if (n > 65535) throw new TypeError('Invalid URL: ' + url); port = $String(n); }
      const colon = userinfo.indexOf(':');
      this._init(protocol, encodeUserinfo(colon < 0 ? userinfo : userinfo.slice(0, colon)), encodeUserinfo(colon < 0 ? '' : userinfo.slice(colon + 1)),
        special ? parseHost(pm[1]) : pm[1], port, path, query, hash);
      this._hasAuthority = true;
    } else {
      this._init(protocol, '', '', '', '', rest, query, hash);
      this._opaque = !rest.startsWith('/');
    }
  }
  _init(protocol, user, pass, host, port, path, query, hash) {
    $define(this, '_protocol', { value: protocol, writable: true });
    $define(this, '_user', { value: user, writable: true });
    $define(this, '_pass', { value: pass, writable: true });
    $define(this, '_host', { value: host, writable: true });
    $define(this, '_port', { value: SPECIAL_PORTS[protocol] === port ? '' : port, writable: true });
    $define(this, '_path', { value: '', writable: true });
    $define(this, '_query', { value: '', writable: true });
    $define(this, '_hash', { value: '', writable: true });
    $define(this, '_params', { value: null, writable: true });
    $define(this, '_hasAuthority', { value: protocol in SPECIAL_PORTS, writable: true });
    $define(this, '_opaque', { value: false, writable: true });
    this.pathname = path; this.search = query; this.hash = hash;
  }
  _resolve(ref) {
    if (this._protocol in SPECIAL_PORTS) ref = ref.replace(/\\/g, '/');
    let hash = '', query = null;
    const h = ref.indexOf('#'); if (h >= 0) { hash = ref.slice(h); ref = ref.slice(0, h); }
    const q = ref.indexOf('?'); if (q >= 0) { query = ref.slice(q); ref = ref.slice(0, q); }
    if (ref.startsWith('//')) { const u = new URL(this._protocol + ref + (query || '') + hash); Object.assign(this, {}); this._copy(u); return; }
    if (ref.startsWith('/')) this.pathname = ref;
    else if (ref !== '') this.pathname = this._path.slice(0, this._path.lastIndexOf('/') + 1) + ref;
    if (ref !== '' || query !== null) this.search = query || '';
    this.hash = hash;
  }
  _copy(u) { for (const k of ['_protocol', '_user', '_pass', '_host', '_port', '_path', '_query', '_hash', '_hasAuthority']) this[k] = u[k]; }
  get protocol() { return this._protocol; }
  set protocol(v) { v = $String(v).replace(/:.*$/, '').toLowerCase(); if (/^[a-z][a-z0-9+.-]*$/.test(v)) this._protocol = v + ':'; }
  get username() { return this._user; }
  set username(v) { this._user = encodeURIComponent($String(v)); }
  get password() { return this._pass; }
  set password(v) { this._pass = encodeURIComponent($String(v)); }
  get hostname() { return this._host; }
  set hostname(v) { try { this._host = this._protocol in SPECIAL_PORTS ? parseHost($String(v)) : $String(v); } catch (e) { /* ignored, as WHATWG */ } }
  get port() { return this._port; }
  set port(v) { v = $String(v); this._port = SPECIAL_PORTS[this._protocol] === v ? '' : v.replace(/\D.*$/, ''); }
  get host() { return this._host + (this._port ? ':' + this._port : ''); }
  set host(v) { const m = /^([^:]*)(?::(\d*))?$/.exec($String(v)); if (m) { this.hostname = m[1]; this.port = m[2] || ''; } }
  get origin() { return this._protocol in SPECIAL_PORTS && this._protocol !== 'file:' ? this._protocol + '//' + this.host : 'null'; }
  get pathname() { return this._path; }
  set pathname(v) { v = $String(v); this._path = this._opaque ? v : normalizePath(v, this._protocol in SPECIAL_PORTS); }
  get search() { return this._query.length > 1 ? this._query : ''; }
  set search(v) {
    v = $String(v); if (v !== '' && !v.startsWith('?')) v = '?' + v;
    this._query = encodeComponent(v, /[^\x21-\x7e]|[ "<>`#]/g);
    if (this._params) this._params._parse(this._query);
  }
  get searchParams() {
    if (!this._params) { this._params = new URLSearchParams(this._query); this._params._url = this; }
    return this._params;
  }
  get hash() { return this._hash.length > 1 ? this._hash : ''; }
  set hash(v) { v = $String(v); if (v !== '' && !v.startsWith('#')) v = '#' + v; this._hash = encodeComponent(v, /[^\x21-\x7e]|[ "<>`]/g); }
  get href() {
    const auth = this._user || this._pass ? this._user + (this._pass ? ':' + this._pass : '') + '@' : '';
    const authority = this._hasAuthority ? '//' + auth + this.host : '';
    // An empty query or fragment ('?', '#') stays in href, as WHATWG keeps it apart from none.
    return this._protocol + authority + this._path + this._query + this._hash;
  }
  set href(v) { this._copy(new URL(v)); }
  toString() { return this.href; }
  toJSON() { return this.href; }
}
writable('URL', URL);
writable('URLSearchParams', URLSearchParams);

// ---- url.parse / url.format / url.resolve: Node's legacy API, which plugins of 2021 still used
const SLASHED_PROTOCOLS = { 'http:': 1, 'https:': 1, 'ftp:': 1, 'gopher:': 1, 'file:': 1, 'ws:': 1, 'wss:': 1 };
const HOSTLESS_PROTOCOLS = { 'javascript:': 1 };
const legacyEscape = (text) => text.replace(/[\t\n\r "'<>\\^`{|}]/g, (c) => encodeURIComponent(c));
// querystring.parse: URLSearchParams's pairs (its '?' strip kept off the text), a repeated key's values in an array.
function queryParse(text) {
  const query = Object.create(null);
  for (const [key, value] of new URLSearchParams('?' + text)._list) {
    if (!(key in query)) query[key] = value;
    else if ($isArray(query[key])) query[key][query[key].length] = value;
    else query[key] = [query[key], value];
  }
  return query;
}
function queryStringify(object) {
  const encode = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
    && (typeof v !== 'number' || isFinite(v)) ? encodeURIComponent($String(v)) : '';
  const parts = [];
  for (const key of $keys(object)) {
    const value = object[key];
    for (const v of $isArray(value) ? value : [value]) parts[parts.length] = encodeURIComponent(key) + '=' + encode(v);
  }
  return $apply($join, parts, ['&']);
}
class Url {
  constructor() {
    this.protocol = null; this.slashes = null; this.auth = null; this.host = null; this.port = null; this.hostname = null;
    this.hash = null; this.search = null; this.query = null; this.pathname = null; this.path = null; this.href = null;
  }
  format() { return urlFormat(this); }
  resolve(relative) { return urlResolve(this.href, relative); }
}
function urlParse(url, parseQueryString, slashesDenoteHost) {
  if (url instanceof Url) return url;
  if (typeof url !== 'string') throw new TypeError('The "url" argument must be of type string. Received ' + (url === null ? 'null' : typeof url));
  const result = new Url();
  let rest = url.trim();
  // Backslashes before the query become slashes, as browsers read them.
  const queryOrHash = rest.search(/[?#]/);
  rest = queryOrHash < 0 ? rest.replace(/\\/g, '/') : rest.slice(0, queryOrHash).replace(/\\/g, '/') + rest.slice(queryOrHash);
  const protocolMatch = /^[a-z0-9.+-]+:/i.exec(rest);
  let lowerProtocol = '';
  if (protocolMatch) {
    lowerProtocol = protocolMatch[0].toLowerCase();
    result.protocol = lowerProtocol;
    rest = rest.slice(protocolMatch[0].length);
  }
  if (slashesDenoteHost || protocolMatch || /^\/\/[^@/]+@[^@/]+/.test(rest)) {
    if (rest.startsWith('//') && !(protocolMatch && HOSTLESS_PROTOCOLS[lowerProtocol])) { result.slashes = true; rest = rest.slice(2); }
  }
  if (!HOSTLESS_PROTOCOLS[lowerProtocol] && (result.slashes || (protocolMatch && !SLASHED_PROTOCOLS[lowerProtocol]))) {
    // The host ends at the first character no host may hold, unless an `@` follows it before a
    // `/`, `?` or `#` (what came before was the auth).
    let at = -1, nonHost = -1;
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i];
      if (c === '/' || c === '?' || c === '#') { if (nonHost < 0) nonHost = i; break; }
      if (c === '@') { at = i; nonHost = -1; } else if (nonHost < 0 && '\t\n\r "%\';<>\\^`{|}'.includes(c)) nonHost = i;
    }
    const start = at + 1;
    if (at >= 0) {
      const auth = rest.slice(0, at);
      try { result.auth = decodeURIComponent(auth); } catch (e) { result.auth = auth; }
    }
    let host = nonHost < 0 ? rest.slice(start) : rest.slice(start, nonHost);
    rest = nonHost < 0 ? '' : rest.slice(nonHost);
    const portMatch = /:[0-9]*$/.exec(host);
    if (portMatch) {
      if (portMatch[0] !== ':') result.port = portMatch[0].slice(1);
      host = host.slice(0, host.length - portMatch[0].length);
    }
    let hostname = host;
    const ipv6 = hostname.startsWith('[') && hostname.endsWith(']');
    if (ipv6) hostname = hostname.slice(1, -1);
    hostname = hostname.length > 255 ? '' : hostname.toLowerCase();
    result.hostname = hostname;
    result.host = (ipv6 ? '[' + hostname + ']' : hostname) + (result.port ? ':' + result.port : '');
  }
  rest = legacyEscape(rest);
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) { result.hash = rest.slice(hashAt); rest = rest.slice(0, hashAt); }
  const queryAt = rest.indexOf('?');
  if (queryAt >= 0) {
    result.search = rest.slice(queryAt);
    result.query = rest.slice(queryAt + 1);
    if (parseQueryString) result.query = queryParse(result.query);
    rest = rest.slice(0, queryAt);
  } else if (parseQueryString) {
    result.search = null;
    result.query = Object.create(null);
  }
  if (rest !== '') result.pathname = rest;
  if (SLASHED_PROTOCOLS[lowerProtocol] && result.hostname && !result.pathname) result.pathname = '/';
  if (result.pathname || result.search) result.path = (result.pathname || '') + (result.search || '');
  result.href = urlFormat(result);
  return result;
}
function urlFormat(object) {
  if (typeof object === 'string') object = urlParse(object);
  else if (object === null || typeof object !== 'object') throw new TypeError('The "urlObject" argument must be one of type object or string.');
  if (object instanceof URL) return object.href;
  let auth = object.auth ? encodeURIComponent(object.auth).replace(/%3A/i, ':') + '@' : '';
  let protocol = object.protocol || '', pathname = object.pathname || '', hash = object.hash || '', host = '';
  if (object.host) host = auth + object.host;
  else if (object.hostname) {
    const hostname = $String(object.hostname);
    host = auth + (hostname.includes(':') && !hostname.startsWith('[') ? '[' + hostname + ']' : hostname) + (object.port ? ':' + object.port : '');
  }
  const query = object.query !== null && typeof object.query === 'object' ? queryStringify(object.query) : '';
  let search = object.search || (query && '?' + query) || '';
  if (protocol && !protocol.endsWith(':')) protocol += ':';
  pathname = pathname.replace(/[?#]/g, (c) => encodeURIComponent(c));
  if (object.slashes || SLASHED_PROTOCOLS[protocol]) {
    if (object.slashes || host) {
      if (pathname && pathname[0] !== '/') pathname = '/' + pathname;
      host = '//' + host;
    } else if (protocol === 'file:') host = '//';
  }
  search = search.replace(/#/g, '%23');
  if (hash && hash[0] !== '#') hash = '#' + hash;
  if (search && search[0] !== '?') search = '?' + search;
  return protocol + host + pathname + search + hash;
}
function urlResolve(from, to) {
  const resolved = new URL($String(to), new URL($String(from), 'resolve://'));
  if (resolved.protocol === 'resolve:') return resolved.pathname + resolved.search + resolved.hash;
  return resolved.toString();
}

// ---- RetryError, host calls, fetch
class RetryError extends Error {
  constructor(message) { super(message); this.name = 'RetryError'; }
}
writable('RetryError', RetryError);

class Headers {
  constructor(init) {
    $define(this, '_map', { value: new Map(), writable: true });
    if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
    else if ($isArray(init)) for (const [k, v] of init) this.append(k, v);
    else if (isObject(init)) for (const k of $keys(init)) this.append(k, init[k]);
  }
  append(name, value) { name = $String(name).toLowerCase(); const old = this._map.get(name); this._map.set(name, old === undefined ? $String(value) : old + ', ' + value); }
  set(name, value) { this._map.set($String(name).toLowerCase(), $String(value)); }
  get(name) { const v = this._map.get($String(name).toLowerCase()); return v === undefined ? null : v; }
  has(name) { return this._map.has($String(name).toLowerCase()); }
  delete(name) { this._map.delete($String(name).toLowerCase()); }
  forEach(callback, thisArg) { for (const [k, v] of [...this._map].sort()) callback.call(thisArg, v, k, this); }
  entries() { return [...this._map].sort()[Symbol.iterator](); }
  keys() { return [...this._map.keys()].sort()[Symbol.iterator](); }
  values() { return [...this._map].sort().map((p) => p[1])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  raw() { const o = {}; for (const [k, v] of this._map) o[k] = v.split(', '); return o; }
}
// node-fetch 2's Body, of a Request and a Response: read once; `json()` of a body that is not JSON
// fails with FetchError `invalid-json`. The state is hidden, so that an object's own enumerable
// keys are node-fetch's (what JSON.stringify and a log of it show).
class Body {
  get bodyUsed() { return this._state.used; }
  _consume() {
    const state = this._state;
    if (state.used) throw new TypeError('body used already for: ' + state.url);
    state.used = true;
    return state.body === null ? new Buffer(0) : state.body;
  }
  async buffer() { return this._consume(); }
  async arrayBuffer() { const body = this._consume(); return body.buffer.slice(body.byteOffset, body.byteOffset + body.length); }
  async text() { return this._consume().toString('utf8'); }
  async json() {
    const text = await this.text();
    try { return $parse(text); } catch (e) { throw new FetchError('invalid json response body at ' + this.url + ' reason: ' + e.message, 'invalid-json'); }
  }
}
// node-fetch 2's Response: the fields are getters over hidden state; its own keys are `size` and
// `timeout`.
class Response extends Body {
  constructor(body, init) {
    super();
    init = init || {};
    $define(this, '_state', { value: {
      status: init.status === undefined ? 200 : init.status, statusText: init.statusText || '', headers: new Headers(init.headers),
      url: init.url || '', redirected: !!init.redirected, used: false,
      body: body === undefined || body === null ? new Buffer(0) : typeof body === 'string' ? Buffer.from(body) : toBuffer(toBytes(body)),
    } });
    this.size = 0;
    this.timeout = 0;
  }
  get status() { return this._state.status; }
  get statusText() { return this._state.statusText; }
  get headers() { return this._state.headers; }
  get url() { return this._state.url; }
  get redirected() { return this._state.redirected; }
  get ok() { return this.status >= 200 && this.status < 300; }
  get [Symbol.toStringTag]() { return 'Response'; }
  clone() {
    if (this._state.used) throw new Error('cannot clone body after it is used');
    return new Response(this._state.body, this);
  }
}
// A request body as node-fetch 2 sends it: URLSearchParams and strings set their content type unless
// one is given, bytes go as they are, anything else as its string. A Buffer, or null for none.
function requestBody(body, headers) {
  if (body === undefined || body === null) return null;
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    body = body.toString();
  } else if (typeof body === 'string') {
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
  } else if (!(body instanceof ArrayBuffer) && !ArrayBuffer.isView(body)) {
    body = $String(body);
  }
  return toBuffer(typeof body === 'string' ? native('utf8encode', body) : toBytes(body));
}
// node-fetch 2's Request (`fetch.Request`), and what `fetch` makes of its arguments: the method, headers
// and body of `init` or else of the Request given; an absolute URL in its normal form.
class Request extends Body {
  constructor(input, init) {
    super();
    init = init || {};
    // What `init` leaves out comes from the Request given, as node-fetch reads it (`{}` for a URL).
    const base = input instanceof Request ? input : {};
    let url = base.url;
    if (url === undefined) {
      url = input instanceof URL ? input.href : isObject(input) && input.href ? $String(input.href) : $String(input);
      if (/^[a-zA-Z][a-zA-Z\d+\-.]*:/.test(url)) { try { url = new URL(url).href; } catch (e) { /* node-fetch keeps it */ } }
    }
    const method = $String(init.method || base.method || 'GET').toUpperCase();
    const given = init.body !== undefined && init.body !== null;
    const inherited = base._state ? base._state.body : null;
    if ((given || inherited !== null) && (method === 'GET' || method === 'HEAD')) {
      throw new TypeError('Request with GET/HEAD method cannot have body');
    }
    const headers = new Headers(init.headers || base.headers);
    const body = given ? requestBody(init.body, headers) : inherited;
    $define(this, '_state', { value: { url, method, headers, redirect: init.redirect || base.redirect || 'follow', body, used: false } });
    this.follow = init.follow !== undefined ? init.follow : base.follow !== undefined ? base.follow : 20;
    this.compress = init.compress !== undefined ? init.compress : base.compress !== undefined ? base.compress : true;
    this.counter = init.counter || base.counter || 0;
    this.agent = init.agent || base.agent;
    this.size = init.size || base.size || 0;
    this.timeout = init.timeout || base.timeout || 0;
  }
  get url() { return this._state.url; }
  get method() { return this._state.method; }
  get headers() { return this._state.headers; }
  get redirect() { return this._state.redirect; }
  get [Symbol.toStringTag]() { return 'Request'; }
  clone() {
    if (this._state.used) throw new Error('cannot clone body after it is used');
    return new Request(this);
  }
}
class FetchError extends Error {
  constructor(message, type, code) {
    super(message); this.name = 'FetchError'; this.type = type;
    // node-fetch 2: a system error's code (ECONNREFUSED, ENOTFOUND…) as both `code` and `errno`.
    if (code !== undefined) { this.code = code; this.errno = code; }
  }
}

// ---- libraries for require/import (§6.3)
// The exportEvents buffer (reference §13.2): flushed before an add would pass `limit`, and by the
// runtime's one-second tick once its oldest item is `timeoutSeconds` old (`due`).
function makeExportBuffer(opts) {
  const limit = opts.limit, timeoutMs = opts.timeoutSeconds * 1000;
  const buffer = {
    points: 0, items: [], startedAt: 0,
    add(item, points = 1) {
      const flushed = this.points + points > limit && this.items.length > 0 ? this.flush() : undefined;
      if (this.items.length === 0) this.startedAt = Date.now();
      this.items.push(item); this.points += points;
      return flushed;
    },
    due() { return this.items.length > 0 && Date.now() - this.startedAt >= timeoutMs; },
    flush() {
      const items = this.items, points = this.points;
      this.items = []; this.points = 0;
      if (items.length === 0) return $Promise.resolve();
      return $Promise.resolve(opts.onFlush(items, points));
    },
  };
  return buffer;
}
// `@posthog/plugin-contrib`'s createBuffer as 2021 plugins knew it: an add that would pass `limit`
// points flushes the held items first, one that still passes it flushes again, and the first add
// starts a `timeoutSeconds` timer that flushes whatever is held then. The sandbox has no setTimeout:
// `wait(ms)` is a host timer of the config's. Flushes the buffer starts itself are awaited by no one,
// so their failures go to `report` (Node saw them as unhandled rejections).
function createBufferWith(opts, wait, report) {
  const options = { limit: 10, timeoutSeconds: 60, ...opts };
  const unattended = (promise) => { promise.catch(report); };
  const buffer = {
    _buffer: [], _points: 0, _timeout: null, _options: options,
    add: (object, points = 1) => {
      if (buffer._points && buffer._points + points > options.limit) unattended(buffer.flush());
      buffer._points += points;
      buffer._buffer.push(object);
      if (buffer._points > options.limit) {
        unattended(buffer.flush());
      } else if (!buffer._timeout) {
        const timeout = {};
        buffer._timeout = timeout;
        wait((+options.timeoutSeconds || 0) * 1000).then(() => { if (buffer._timeout === timeout) unattended(buffer.flush()); });
      }
    },
    flush: async () => {
      buffer._timeout = null;
      if (buffer._buffer.length > 0 || buffer._points !== 0) {
        const oldBuffer = buffer._buffer, oldPoints = buffer._points;
        buffer._buffer = []; buffer._points = 0;
        if (options.onFlush) await options.onFlush(oldBuffer, oldPoints);
      }
    },
  };
  return buffer;
}
function concatBytes(chunks) {
  let total = 0; for (const c of chunks) total += c.length;
  const all = new Uint8Array(total); let o = 0; for (const c of chunks) { all.set(c, o); o += c.length; }
  return all;
}
function hashObject(alg, key) {
  const chunks = [];
  let done = false;
  return {
    update(data, encoding) { if (done) throw new Error('Digest already called'); chunks.push(toBytes(data, encoding)); return this; },
    digest(encoding) {
      done = true;
      const all = concatBytes(chunks);
      const out = toBuffer(key === undefined ? native('hash', $String(alg).toLowerCase(), all) : native('hmac', $String(alg).toLowerCase(), key, all));
      return encoding === undefined || encoding === 'buffer' ? out : out.toString(encoding);
    },
  };
}
// `createSign` / `createVerify`: RSASSA-PKCS1-v1_5 with PEM keys (what RS256 JWTs and key-pair logins use).
const pemText = (key) => (typeof key === 'string' ? key : isObject(key) && key.key !== undefined ? $String(key.key) : toBuffer(toBytes(key)).toString('utf8'));
function signObject(alg) {
  const chunks = [];
  const digest = $String(alg).toLowerCase().replace(/^rsa-/, '').replace(/withrsaencryption$/, '');
  return {
    update(data, encoding) { chunks.push(toBytes(data, encoding)); return this; },
    sign(key, encoding) {
      const out = toBuffer(native('rsaSign', digest, pemText(key), concatBytes(chunks)));
      return encoding === undefined || encoding === 'buffer' ? out : out.toString(encoding);
    },
    verify(key, signature, encoding) {
      const bytes = typeof signature === 'string' ? toBytes(signature, encoding || 'utf8') : toBytes(signature);
      return native('rsaVerify', digest, pemText(key), concatBytes(chunks), bytes);
    },
  };
}
const crypto = {
  createHash: (alg) => hashObject(alg),
  createSign: (alg) => signObject(alg),
  createVerify: (alg) => signObject(alg),
  sign: (alg, data, key) => signObject(alg || 'sha256').update(data).sign(key),
  verify: (alg, data, key, signature) => signObject(alg || 'sha256').update(data).verify(key, signature),
  createHmac: (alg, key) => hashObject(alg, toBytes(key)),
  randomBytes: (n) => toBuffer(native('randomBytes', n >>> 0)),
  randomUUID: () => native('randomUUID'),
  getRandomValues: (array) => { array.set(native('randomBytes', array.byteLength)); return array; },
  timingSafeEqual: (a, b) => { if (a.length !== b.length) throw new RangeError('Input buffers must have the same byte length'); let d = 0; for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]; return d === 0; },
  getHashes: () => ['md5', 'sha1', 'sha256', 'sha384', 'sha512'],
};
// A Node callback API over a synchronous `run`: the callback gets its answer on a later turn, error first.
function answerLater(callback, run) {
  let result, failure = null;
  try { result = run(); } catch (error) { failure = error; }
  $Promise.resolve().then(() => (failure ? callback(failure) : callback(null, result)));
}
const zlib = {
  constants: $freeze({
    Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
    BROTLI_PARAM_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1, BROTLI_MODE_FONT: 2,
    BROTLI_MIN_QUALITY: 0, BROTLI_MAX_QUALITY: 11, BROTLI_DEFAULT_QUALITY: 11,
  }),
};
// Node's `zlib` level option; for brotli, `params[BROTLI_PARAM_QUALITY]` (default 11).
const zlibLevel = (op, opts) => {
  if (op.startsWith('brotli')) return opts && opts.params && typeof opts.params[1] === 'number' ? opts.params[1] : 11;
  return opts && typeof opts.level === 'number' ? opts.level : -1;
};
for (const op of ['gzip', 'gunzip', 'deflate', 'inflate', 'deflateRaw', 'inflateRaw', 'unzip', 'brotliCompress', 'brotliDecompress']) {
  const sync = (data, opts) => toBuffer(native('zlib', op, toBytes(data), zlibLevel(op, opts)));
  zlib[op + 'Sync'] = sync;
  // The callback form: Node answers on a later turn, with the error first.
  zlib[op] = (data, opts, callback) => {
    if (typeof opts === 'function') { callback = opts; opts = undefined; }
    answerLater(callback, () => sync(data, opts));
  };
}
// `stream.PassThrough` as Node's: what is written waits until something reads it (a 'data' listener
// or `pipe`), then flows on a later turn, followed by 'end' once the writer has ended. So
// `stream.end(text)` before `stream.pipe(destination)` still delivers the text, as the GCS export does.
class PassThrough {
  constructor() {
    this._listeners = {}; this._chunks = []; this._ended = false; this._flowing = false; this._endEmitted = false; this._scheduled = false;
  }
  on(event, listener) { (this._listeners[event] = this._listeners[event] || []).push(listener); if (event === 'data') this.resume(); return this; }
  addListener(event, listener) { return this.on(event, listener); }
  once(event, listener) { const f = (...a) => { this.off(event, f); listener(...a); }; return this.on(event, f); }
  off(event, listener) { this._listeners[event] = (this._listeners[event] || []).filter((l) => l !== listener); return this; }
  removeListener(event, listener) { return this.off(event, listener); }
  emit(event, ...args) { for (const l of (this._listeners[event] || []).slice()) l(...args); return true; }
  resume() { this._flowing = true; this._schedule(); return this; }
  pause() { this._flowing = false; return this; }
  _schedule() { if (!this._scheduled) { this._scheduled = true; $Promise.resolve().then(() => { this._scheduled = false; this._flow(); }); } }
  _flow() {
    while (this._flowing && this._chunks.length > 0) this.emit('data', this._chunks.shift());
    if (this._flowing && this._ended && !this._endEmitted) { this._endEmitted = true; this.emit('end'); this.emit('close'); }
  }
  write(chunk, encoding, callback) {
    if (this._ended) { const error = new Error('write after end'); error.code = 'ERR_STREAM_WRITE_AFTER_END'; this.emit('error', error); return false; }
    this._chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : toBuffer(toBytes(chunk)));
    if (this._flowing) this._schedule();
    if (typeof encoding === 'function') encoding(); else if (typeof callback === 'function') callback();
    return true;
  }
  end(chunk, encoding, callback) {
    if (typeof chunk === 'function') { callback = chunk; chunk = undefined; } else if (typeof encoding === 'function') { callback = encoding; encoding = undefined; }
    if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
    if (this._ended) return this;
    this._ended = true;
    $Promise.resolve().then(() => { this.emit('finish'); if (typeof callback === 'function') callback(); });
    if (this._flowing) this._schedule();
    return this;
  }
  pipe(destination) {
    this.on('end', () => { if (destination.end) destination.end(); });
    this.on('data', (c) => destination.write(c));
    return destination;
  }
  // What has been written and not yet read, or null.
  read() { if (this._chunks.length === 0) return null; const all = Buffer.concat(this._chunks); this._chunks = []; return all; }
}
// generic-pool 3 (reference §6.3, used with snowflake-sdk): acquire/release/destroy/use/drain/clear.
// The sandbox has no timers, so idle eviction and acquire timeouts are not supported.
function createPool(factory, opts) {
  opts = opts || {};
  const max = Math.max(1, parseInt(opts.max, 10) || 1), min = Math.min(parseInt(opts.min, 10) || 0, max);
  const idle = [], borrowed = new Set(), waiting = [], drained = [];
  let creating = 0, draining = false;
  const settleDrain = () => { if (draining && borrowed.size === 0) for (const resolve of drained.splice(0)) resolve(); };
  const pool = {
    get size() { return idle.length + borrowed.size + creating; },
    get available() { return idle.length; },
    get borrowed() { return borrowed.size; },
    get pending() { return waiting.length; },
    get spareResourceCapacity() { return max - (idle.length + borrowed.size + creating); },
    get max() { return max; },
    get min() { return min; },
    start() {},
    ready() { return $Promise.resolve(); },
    isBorrowedResource(resource) { return borrowed.has(resource); },
    async acquire() {
      if (draining) throw new Error('pool is draining and cannot accept work');
      if (idle.length > 0) { const resource = idle.pop(); borrowed.add(resource); return resource; }
      if (idle.length + borrowed.size + creating < max) {
        creating++;
        try { const resource = await factory.create(); borrowed.add(resource); return resource; } finally { creating--; }
      }
      return new $Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async release(resource) {
      if (!borrowed.has(resource)) throw new Error('Resource not currently part of this pool');
      const next = waiting.shift();
      if (next) { next.resolve(resource); return; } // stays borrowed, by the next caller
      borrowed.delete(resource); idle.push(resource); settleDrain();
    },
    async destroy(resource) {
      if (!borrowed.has(resource)) throw new Error('Resource not currently part of this pool');
      borrowed.delete(resource);
      try { if (factory.destroy) await factory.destroy(resource); } finally {
        const next = waiting.shift();
        if (next) pool.acquire().then(next.resolve, next.reject);
        settleDrain();
      }
    },
    async use(fn) { const resource = await pool.acquire(); try { return await fn(resource); } finally { await pool.release(resource); } },
    drain() { draining = true; return new $Promise((resolve) => { drained.push(resolve); settleDrain(); }); },
    async clear() { await $Promise.all(idle.splice(0).map((r) => (factory.destroy ? factory.destroy(r) : undefined))); },
  };
  return pool;
}
// ---- one plugin config: its console, fetch, posthog, require and `meta`, and the runtime's helpers.
// Constants every config's code reads (made once per context, not once per config).
const UNITS = { millisecond: 1, second: 1000, minute: 60000, hour: 3600000, day: 86400000, week: 604800000,
  month: 604800000 * 30 /* reference §8.6: kept "30 weeks" bug */, quarter: 604800000 * 13, year: 86400000 * 365 };
const METRIC_TYPES = ['sum', 'max', 'min'];
// The names every config's global scope starts with (see `configure`).
const BINDINGS = { __proto__: null, console: 1, fetch: 1, require: 1, posthog: 1, global: 1, GLOBAL: 1, root: 1, globalThis: 1, isVM: 1 };
const METHODS = ['setupPlugin', 'teardownPlugin', 'processEvent', 'processEventBatch', 'onEvent', 'onSnapshot', 'exportEvents'];
// Called once per config with that config's bridge (shadowing the shared one) and its settings.
// Whether code wrote to the real global object (enumerable keys only: builtins are not), and the
// seal of a shared context's global object (see `PluginContext`), every builtin materialized first.
return $freeze({
  configure,
  globalKeys: () => $keys(G).length,
  seal: () => { $ownNames(G); Object.preventExtensions(G); },
});
function configure(native, configValue, attachmentsValue) {
// The config's own global scope: what its plugin code sees as `global`/`globalThis` (reading through to
// the context's shared builtins) and the source of the bindings the module function receives.
const scope = Object.create(G);
// Host calls in flight: id → [resolve, reject]. The runtime settles them in batches (`complete`), so
// many results cost one entry into JavaScript.
const hostCalls = Object.create(null);
function host(op, args, bytes) {
  const id = native('host', op, args, bytes);
  return new $Promise((resolve, reject) => { hostCalls[id] = [resolve, reject]; });
}
// A timer of the worker's (createBuffer's flush timeout, the test timer): `settle` runs when it is due,
// settled by `complete` as a host call is.
function startTimer(ms, settle) { hostCalls[native('timer', ms)] = [settle, settle]; }
function complete(results) {
  try {
    for (let i = 0; i + 2 < results.length; i += 3) {
      const id = results[i], pending = hostCalls[id];
      if (pending === undefined) continue;
      delete hostCalls[id];
      if (results[i + 1]) pending[0](results[i + 2]); else pending[1](results[i + 2]);
    }
  } finally { native('drain'); }
}
// Written out rather than made in a loop: each config makes these, and a literal costs least.
const consoleObject = $freeze({
  debug: function () { native('log', 'DEBUG', formatArgs(arguments)); return $Promise.resolve(); },
  log: function () { native('log', 'LOG', formatArgs(arguments)); return $Promise.resolve(); },
  info: function () { native('log', 'INFO', formatArgs(arguments)); return $Promise.resolve(); },
  warn: function () { native('log', 'WARN', formatArgs(arguments)); return $Promise.resolve(); },
  error: function () { native('log', 'ERROR', formatArgs(arguments)); return $Promise.resolve(); },
});
async function fetch(url, options) {
  const state = new Request(url, options)._state;
  const request = { url: state.url, method: state.method, headers: [...state.headers.entries()], redirect: state.redirect };
  return hostFetch('fetch', request, state.body === null ? undefined : state.body, request.url);
}
// A request the host makes (`fetch`, or `posthog.api`'s, whose keys the host adds), as node-fetch 2
// answers it; `url` names the request in errors.
async function hostFetch(op, request, body, url) {
  let result;
  try { result = await host(op, [request], body); }
  catch (e) {
    // node-fetch 2's own messages for its own failures; anything else is a system error.
    if (e.message.startsWith('network timeout at: ')) throw new FetchError(e.message, 'request-timeout');
    if (e.message.startsWith('uri requested responds with a redirect')) throw new FetchError(e.message, 'no-redirect');
    if (e.message === 'Only absolute URLs are supported') throw new TypeError(e.message);
    // The host's own refusals of a `posthog.api` call (no keys, another host) are not network errors.
    if (op !== 'fetch' && e.message.startsWith('posthog.api')) throw e;
    const code = /^(?:connect|getaddrinfo) (E[A-Z_]+) /.exec(e.message);
    throw new FetchError('request to ' + url + ' failed, reason: ' + e.message, 'system', code ? code[1] : undefined);
  }
  return new Response(result.body, { status: result.status, statusText: result.statusText, headers: result.headers, url: result.url || url, redirected: !!result.redirected });
}
fetch.default = fetch; fetch.Headers = Headers; fetch.Request = Request; fetch.Response = Response; fetch.FetchError = FetchError; fetch.isRedirect = isRedirect;
$freeze(fetch);
// Libraries are made on the first `require`: most plugins import none, and each config has its own.
function makeLibraries() {
// `pg` (0.21.5): Client and Pool speaking to the database the plugin's own config names, through the
// host's Postgres client. Values are bound as text with types left to the server, as node-postgres does.
class PgClient {
  constructor(config) {
    config = typeof config === 'string' ? { connectionString: config } : (config || {});
    $define(this, '_config', { value: {
      connectionString: config.connectionString === undefined ? null : $String(config.connectionString),
      host: config.host === undefined ? null : $String(config.host), port: config.port === undefined ? null : Number(config.port),
      user: config.user === undefined ? null : $String(config.user), password: config.password === undefined ? null : $String(config.password),
      database: config.database === undefined ? null : $String(config.database),
      // node-postgres: `ssl: true`, or `{rejectUnauthorized: false}` to skip certificate checks.
      ssl: isObject(config.ssl) ? { rejectUnauthorized: config.ssl.rejectUnauthorized !== false } : !!config.ssl,
    } });
    $define(this, '_id', { value: null, writable: true });
  }
  async connect(callback) {
    try {
      if (this._id === null) this._id = await host('pg.connect', [this._config]);
      if (typeof callback === 'function') callback(null, this);
    } catch (error) { if (typeof callback === 'function') callback(error); else throw error; }
  }
  async query(text, values, callback) {
    if (typeof values === 'function') { callback = values; values = undefined; }
    if (isObject(text)) { values = text.values; text = text.text; }
    try {
      if (this._id === null) await this.connect();
      const params = $isArray(values) ? values.map((v) => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : isObject(v) ? $stringify(v) : $String(v))) : [];
      const result = await host('pg.query', [this._id, $String(text), params]);
      // node-postgres' Dates: date, timestamp and timestamptz columns (the host sends ISO text).
      for (const field of result.fields) {
        if (field.dataTypeID !== 1082 && field.dataTypeID !== 1114 && field.dataTypeID !== 1184) continue;
        for (const row of result.rows) { if (typeof row[field.name] === 'string') row[field.name] = new Date(row[field.name]); }
      }
      if (typeof callback === 'function') callback(null, result);
      return result;
    } catch (error) { if (typeof callback === 'function') { callback(error); return undefined; } throw error; }
  }
  async end() { if (this._id !== null) { const id = this._id; this._id = null; await host('pg.end', [id]); } }
  release() { return this._pool ? this._pool._release(this) : this.end(); }
}
class PgPool {
  constructor(config) { $define(this, '_config', { value: config }); $define(this, '_idle', { value: [] }); $define(this, '_all', { value: [] }); }
  async connect() {
    const client = this._idle.pop() || new PgClient(this._config);
    $define(client, '_pool', { value: this, configurable: true });
    if (!this._all.includes(client)) this._all.push(client);
    await client.connect();
    return client;
  }
  _release(client) { this._idle.push(client); }
  async query(text, values) { const client = await this.connect(); try { return await client.query(text, values); } finally { client.release(); } }
  async end() { const all = this._all.splice(0); this._idle.splice(0); await $Promise.all(all.map((c) => c.end())); }
}
// `aws-sdk` (0.20.3 provided the whole Node SDK): S3, Kinesis and Firehose, their requests signed with AWS
// Signature Version 4 and sent with `fetch`. Other clients throw when made, naming what is provided.
// JSON text parsed, or `fallback` when it is empty or not JSON (a service's error page, say).
const parseOr = (text, fallback) => { try { return text ? $parse(text) : fallback; } catch (e) { return fallback; } };
const awsGlobalConfig = {};
const awsHash = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const awsHmac = (key, text) => crypto.createHmac('sha256', key).update(text).digest();
// RFC 3986 encoding, as SigV4 wants it; S3 keys keep their slashes.
const awsEncode = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const awsEncodeKey = (key) => $String(key).split('/').map(awsEncode).join('/');
class AwsError extends Error {
  constructor(message, code, statusCode) {
    super(message); this.name = code; this.code = code; this.statusCode = statusCode;
    this.retryable = statusCode === undefined || statusCode >= 500 || statusCode === 429; this.time = new Date();
  }
}
// An AWS.Request: `promise()`, or `send(callback)`; a callback given to the operation sends at once.
function awsRequest(perform, callback) {
  let started = null;
  const start = () => (started = started || perform());
  const request = {
    promise: () => start(),
    send(cb) { start().then((data) => { if (typeof cb === 'function') cb(null, data); }, (error) => { if (typeof cb === 'function') cb(error); }); return request; },
    abort() { return request; },
    on() { return request; },
  };
  if (typeof callback === 'function') request.send(callback);
  return request;
}
// A client's settings: its options over `AWS.config`, credentials given flat or as `credentials`.
function awsSettings(client, options) {
  const config = Object.assign({}, awsGlobalConfig, isObject(options) ? options : {});
  const credentials = isObject(config.credentials) ? config.credentials : config;
  $define(client, '_aws', { value: {
    accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken,
    region: config.region || 'us-east-1', endpoint: config.endpoint, forcePathStyle: !!config.s3ForcePathStyle,
    sslEnabled: config.sslEnabled !== false, clockOffset: +config.systemClockOffset || 0,
  } });
  client.config = config;
}
// Signs a request with AWS Signature Version 4 and sends it. `target` = {url, host, path}; header
// names lowercase; every header sent is signed (the HTTP client adds only unsigned ones).
async function awsSignedFetch(aws, service, method, target, extraHeaders, bytes) {
  if (!aws.accessKeyId || !aws.secretAccessKey) throw new AwsError('Missing credentials in config', 'CredentialsError');
  const stamp = new Date(Date.now() + aws.clockOffset).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = stamp.slice(0, 8);
  const payloadHash = awsHash(bytes);
  const headers = { host: target.host, 'x-amz-date': stamp };
  if (service === 's3') headers['x-amz-content-sha256'] = payloadHash;
  if (aws.sessionToken) headers['x-amz-security-token'] = $String(aws.sessionToken);
  for (const name of Object.keys(extraHeaders)) headers[name.toLowerCase()] = $String(extraHeaders[name]).trim().replace(/\s+/g, ' ');
  const names = Object.keys(headers).sort();
  const canonical = [method, target.path, '', names.map((n) => n + ':' + headers[n] + '\n').join(''), names.join(';'), payloadHash].join('\n');
  const scope = day + '/' + aws.region + '/' + service + '/aws4_request';
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, awsHash(canonical)].join('\n');
  let signingKey = awsHmac('AWS4' + aws.secretAccessKey, day);
  for (const part of [aws.region, service, 'aws4_request']) signingKey = awsHmac(signingKey, part);
  const signature = crypto.createHmac('sha256', signingKey).update(toSign).digest('hex');
  headers.authorization = 'AWS4-HMAC-SHA256 Credential=' + aws.accessKeyId + '/' + scope + ', SignedHeaders=' + names.join(';') + ', Signature=' + signature;
  delete headers.host;  // the HTTP client sends the URL's host, which is what was signed
  const response = await fetch(target.url, { method, headers, body: method === 'PUT' || method === 'POST' ? bytes : undefined });
  return { response, content: await response.buffer() };
}
// The service's address: `endpoint` when given (a scheme-less one takes https), else AWS's own.
function awsEndpoint(aws, defaultHost) {
  let protocol = aws.sslEnabled ? 'https:' : 'http:';
  let host = defaultHost;
  if (aws.endpoint) {
    let text = $String(isObject(aws.endpoint) && aws.endpoint.href ? aws.endpoint.href : aws.endpoint);
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = protocol + '//' + text;
    const parsed = new URL(text);
    protocol = parsed.protocol; host = parsed.host;
  }
  return { protocol, host };
}
class S3 {
  constructor(options) { awsSettings(this, options); }
  // Virtual-hosted style (`bucket.host`) for DNS-safe buckets, as the SDK does; path style when asked
  // for, for dotted buckets over TLS, and for endpoints that are IP addresses or localhost.
  _url(bucket, key) {
    const aws = this._aws;
    const { protocol, host } = awsEndpoint(aws, aws.region === 'us-east-1' ? 's3.amazonaws.com' : 's3.' + aws.region + '.amazonaws.com');
    const hostname = host.replace(/:\d+$/, '');
    const local = hostname === 'localhost' || /^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.startsWith('[');
    const dnsSafe = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.includes('..') && !(protocol === 'https:' && bucket.includes('.'));
    const path = key === undefined ? '' : awsEncodeKey(key);
    if (!aws.forcePathStyle && !local && dnsSafe) return { url: protocol + '//' + bucket + '.' + host + '/' + path, host: bucket + '.' + host, path: '/' + path };
    const fullPath = '/' + awsEncode(bucket) + (key === undefined ? '' : '/' + path);
    return { url: protocol + '//' + host + fullPath, host, path: fullPath };
  }
  async _send(method, params, key, extraHeaders, body) {
    if (!isObject(params) || !params.Bucket) throw new AwsError('Missing required key \'Bucket\' in params', 'MissingRequiredParameter');
    if (key && (params.Key === undefined || params.Key === null || params.Key === '')) throw new AwsError('Missing required key \'Key\' in params', 'MissingRequiredParameter');
    const target = this._url($String(params.Bucket), key ? $String(params.Key) : undefined);
    // A stream body (a PassThrough the plugin has ended) is sent as what it holds.
    if (body instanceof PassThrough) body = body.read() || new Uint8Array(0);
    const bytes = body === undefined || body === null ? new Uint8Array(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : toBytes(body);
    const { response, content } = await awsSignedFetch(this._aws, 's3', method, target, extraHeaders, bytes);
    if (response.status >= 300) {
      const text = content.toString('utf8');
      const tag = (name) => { const m = new RegExp('<' + name + '>([\\s\\S]*?)</' + name + '>').exec(text); return m ? m[1] : undefined; };
      throw new AwsError(tag('Message') || response.statusText || 'S3 answered ' + response.status, tag('Code') || (response.status === 404 ? 'NotFound' : 'UnknownError'), response.status);
    }
    return { response, content };
  }
  static _headers(params) {
    const headers = {};
    const map = { ContentType: 'content-type', ContentEncoding: 'content-encoding', ContentDisposition: 'content-disposition',
      ContentLanguage: 'content-language', CacheControl: 'cache-control', ACL: 'x-amz-acl', StorageClass: 'x-amz-storage-class',
      ServerSideEncryption: 'x-amz-server-side-encryption', SSEKMSKeyId: 'x-amz-server-side-encryption-aws-kms-key-id',
      Tagging: 'x-amz-tagging', Expires: 'expires' };
    for (const name of Object.keys(map)) if (params[name] !== undefined && params[name] !== null) headers[map[name]] = params[name] instanceof Date ? params[name].toUTCString() : params[name];
    if (isObject(params.Metadata)) for (const name of Object.keys(params.Metadata)) headers['x-amz-meta-' + name.toLowerCase()] = params.Metadata[name];
    return headers;
  }
  putObject(params, callback) {
    return awsRequest(async () => {
      const { response } = await this._send('PUT', params, true, S3._headers(params || {}), params.Body);
      const data = { ETag: response.headers.get('etag') || undefined };
      if (response.headers.get('x-amz-version-id')) data.VersionId = response.headers.get('x-amz-version-id');
      return data;
    }, callback);
  }
  // ManagedUpload: one PUT (the SDK splits bodies over 5 MB into parts; S3 takes up to 5 GB in one PUT).
  upload(params, options, callback) {
    if (typeof options === 'function') { callback = options; options = undefined; }
    return awsRequest(async () => {
      const data = await this.putObject(params).promise();
      const target = this._url($String(params.Bucket), $String(params.Key));
      return Object.assign(data, { Location: target.url, key: $String(params.Key), Key: $String(params.Key), Bucket: $String(params.Bucket) });
    }, callback);
  }
  getObject(params, callback) {
    return awsRequest(async () => {
      const { response, content } = await this._send('GET', params, true, {}, undefined);
      const modified = response.headers.get('last-modified');
      return { Body: content, ContentType: response.headers.get('content-type') || undefined, ContentLength: content.length,
        ETag: response.headers.get('etag') || undefined, LastModified: modified ? new Date(modified) : undefined };
    }, callback);
  }
  headObject(params, callback) {
    return awsRequest(async () => {
      const { response } = await this._send('HEAD', params, true, {}, undefined);
      return { ContentLength: +response.headers.get('content-length') || 0, ETag: response.headers.get('etag') || undefined };
    }, callback);
  }
  deleteObject(params, callback) {
    return awsRequest(async () => { await this._send('DELETE', params, true, {}, undefined); return {}; }, callback);
  }
  headBucket(params, callback) {
    return awsRequest(async () => { await this._send('HEAD', params, false, {}, undefined); return {}; }, callback);
  }
}
// Kinesis and Firehose: AWS's JSON protocol (one POST per operation, named by `X-Amz-Target`). Blobs
// travel as base64 and come back as Buffers, timestamps as epoch seconds and come back as Dates, as
// in the SDK. `service` signs and names the host; `target` prefixes the operation.
function awsJsonClient(name, service, target, operations) {
  const Client = class {
    constructor(options) { awsSettings(this, options); }
    _call(operation, params, callback) {
      return awsRequest(async () => {
        const aws = this._aws;
        const { protocol, host } = awsEndpoint(aws, service + '.' + aws.region + '.amazonaws.com');
        const body = Buffer.from($stringify(awsToWire(isObject(params) ? params : {})), 'utf8');
        const { response, content } = await awsSignedFetch(aws, service, 'POST', { url: protocol + '//' + host + '/', host, path: '/' },
          { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target + '.' + operation }, body);
        const data = parseOr(content.toString('utf8'), {});
        if (response.status >= 300) {
          const type = $String(data.__type || data.code || 'UnknownError');
          throw new AwsError(data.message || data.Message || response.statusText || name + ' answered ' + response.status, type.slice(type.lastIndexOf('#') + 1), response.status);
        }
        return awsFromWire(data);
      }, callback);
    }
  };
  $define(Client, 'name', { value: name });
  for (const operation of operations) {
    Client.prototype[operation[0].toLowerCase() + operation.slice(1)] = function (params, callback) {
      if (typeof params === 'function') { callback = params; params = {}; }
      return this._call(operation, params, callback);
    };
  }
  return Client;
}
const Kinesis = awsJsonClient('Kinesis', 'kinesis', 'Kinesis_20131202',
  ['DescribeStream', 'DescribeStreamSummary', 'ListStreams', 'ListShards', 'GetShardIterator', 'GetRecords', 'PutRecord', 'PutRecords']);
const Firehose = awsJsonClient('Firehose', 'firehose', 'Firehose_20150804',
  ['PutRecord', 'PutRecordBatch', 'DescribeDeliveryStream', 'ListDeliveryStreams']);
const awsBlobFields = ['Data'];
const awsTimeFields = ['ApproximateArrivalTimestamp', 'StreamCreationTimestamp', 'Timestamp'];
function awsToWire(value, key) {
  if (awsBlobFields.includes(key) && value !== null && value !== undefined) return typeof value === 'string' ? Buffer.from(value, 'utf8').toString('base64') : toBuffer(toBytes(value)).toString('base64');
  if (value instanceof Date) return value.getTime() / 1000;
  if ($isArray(value)) return value.map((item) => awsToWire(item));
  if (isObject(value)) { const out = {}; for (const k of Object.keys(value)) out[k] = awsToWire(value[k], k); return out; }
  return value;
}
function awsFromWire(value, key) {
  if (awsBlobFields.includes(key) && typeof value === 'string') return Buffer.from(value, 'base64');
  if (awsTimeFields.includes(key) && typeof value === 'number') return new Date(value * 1000);
  if ($isArray(value)) return value.map((item) => awsFromWire(item));
  if (isObject(value)) { const out = {}; for (const k of Object.keys(value)) out[k] = awsFromWire(value[k], k); return out; }
  return value;
}
function awsUnavailable(name) {
  return function () {
    throw new Error('aws-sdk ' + name + ' is not available in this plugin server: only S3 (putObject, upload, getObject, headObject, deleteObject, headBucket), Kinesis and Firehose are. Use fetch against the service\'s HTTP API instead.');
  };
}
const awsSdk = { S3, Kinesis, Firehose, config: { update(values) { if (isObject(values)) Object.assign(awsGlobalConfig, values); } },
  Credentials: function Credentials(accessKeyId, secretAccessKey, sessionToken) {
    if (isObject(accessKeyId)) return Object.assign(this, accessKeyId);
    this.accessKeyId = accessKeyId; this.secretAccessKey = secretAccessKey; this.sessionToken = sessionToken;
  } };
for (const name of ['SQS', 'SNS', 'SES', 'DynamoDB', 'Lambda', 'CloudWatch', 'CloudWatchLogs', 'Athena', 'Glue', 'Redshift', 'RedshiftData', 'STS', 'EventBridge']) {
  awsSdk[name] = awsUnavailable(name);
}
// Google Cloud (`@google-cloud/bigquery`, `storage`, `pubsub`) over the services' REST APIs with
// `fetch`, authorized as the service account of the key given in `credentials` (a JWT signed with
// its RS256 key, exchanged for an access token at its `token_uri`, reused until it ends).
function googleAuthState(options, scope) {
  options = isObject(options) ? options : {};
  return { credentials: isObject(options.credentials) ? options.credentials : null, scope, token: null, expires: 0 };
}
const base64url = (bytes) => base64Encode(toBytes(bytes), true);
async function googleAccessToken(state) {
  if (state.token && state.expires > Date.now() + 60000) return state.token;
  const key = state.credentials;
  if (!key || !key.client_email || !key.private_key) {
    throw new Error('Could not load the default credentials: pass the service account key as `credentials` (the JSON key file, parsed).');
  }
  const now = Math.floor(Date.now() / 1000);
  const audience = $String(key.token_uri || 'https://oauth2.googleapis.com/token');
  const header = { alg: 'RS256', typ: 'JWT' };
  if (key.private_key_id) header.kid = $String(key.private_key_id);
  const unsigned = base64url(Buffer.from($stringify(header))) + '.' +
    base64url(Buffer.from($stringify({ iss: $String(key.client_email), scope: state.scope, aud: audience, iat: now, exp: now + 3600 })));
  const jwt = unsigned + '.' + base64url(crypto.createSign('RSA-SHA256').update(unsigned).sign($String(key.private_key)));
  const response = await fetch(audience, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=' + encodeURIComponent('urn:ietf:params:oauth:grant-type:jwt-bearer') + '&assertion=' + jwt });
  const text = await response.text();
  const data = parseOr(text, {});
  if (!response.ok || !data.access_token) {
    const error = new Error(data.error_description || data.error || 'getting an access token failed with ' + response.status + ': ' + text.slice(0, 200));
    error.code = response.status;
    throw error;
  }
  state.token = $String(data.access_token);
  state.expires = Date.now() + (+data.expires_in || 3600) * 1000;
  return state.token;
}
class GoogleApiError extends Error {
  constructor(status, body) {
    const detail = isObject(body) && isObject(body.error) ? body.error : {};
    super(detail.message || 'Request failed with status ' + status);
    this.name = 'ApiError'; this.code = detail.code || status; this.errors = $isArray(detail.errors) ? detail.errors : []; this.response = body;
  }
}
// One request to a Google API with the service account's token: JSON in and out, or `body` as bytes
// of `options.contentType`, and with `options.raw` the answer's bytes out. A failure is a
// GoogleApiError with the API's message.
async function googleRequest(state, method, url, body, options) {
  options = options || {};
  const headers = { authorization: 'Bearer ' + await googleAccessToken(state) };
  let payload;
  if (options.contentType !== undefined) { headers['content-type'] = options.contentType; payload = body; }
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = $stringify(body); }
  const response = await fetch(url, { method, headers, body: payload });
  const content = await response.buffer();
  if (response.ok && options.raw) return content;
  const text = content.toString('utf8');
  const data = parseOr(text, text ? { error: { message: text.slice(0, 500) } } : {});
  if (!response.ok) throw new GoogleApiError(response.status, data);
  return data;
}
// `[exists]` as the libraries answer it: whether `get` finds the resource (404: it does not).
async function googleExists(get) {
  try { await get(); return [true]; } catch (error) { if (error.code === 404) return [false]; throw error; }
}
class BigQueryTimestamp {
  constructor(value) {
    const date = value instanceof Date ? value : new Date(typeof value === 'number' ? value : $String(value));
    this.value = isNaN(date.getTime()) ? $String(value) : date.toISOString();
  }
  toJSON() { return this.value; }
}
class BigQuery {
  constructor(options) {
    options = isObject(options) ? options : {};
    this.projectId = options.projectId || (isObject(options.credentials) ? options.credentials.project_id : undefined);
    const endpoint = options.apiEndpoint ? $String(options.apiEndpoint).replace(/\/+$/, '') : 'https://bigquery.googleapis.com';
    $define(this, '_auth', { value: googleAuthState(options, 'https://www.googleapis.com/auth/bigquery') });
    $define(this, '_base', { value: (/^[a-z]+:\/\//i.test(endpoint) ? endpoint : 'https://' + endpoint) + '/bigquery/v2/projects/' + encodeURIComponent($String(this.projectId)) });
  }
  static timestamp(value) { return new BigQueryTimestamp(value); }
  timestamp(value) { return new BigQueryTimestamp(value); }
  dataset(id) { return new BigQueryDataset(this, $String(id)); }
  async createDataset(id, options) { return this.dataset(id).create(options); }
  _request(method, path, body) { return googleRequest(this._auth, method, this._base + path, body); }
}
class BigQueryDataset {
  constructor(bigQuery, id) { this.bigQuery = bigQuery; this.id = id; }
  get _path() { return '/datasets/' + encodeURIComponent(this.id); }
  table(id) { return new BigQueryTable(this, $String(id)); }
  async get() { const metadata = await this.bigQuery._request('GET', this._path); this.metadata = metadata; return [this, metadata]; }
  async getMetadata() { const metadata = await this.bigQuery._request('GET', this._path); this.metadata = metadata; return [metadata, metadata]; }
  exists() { return googleExists(() => this.get()); }
  async create(options) {
    const body = Object.assign({}, isObject(options) ? options : {}, { datasetReference: { projectId: this.bigQuery.projectId, datasetId: this.id } });
    const metadata = await this.bigQuery._request('POST', '/datasets', body);
    this.metadata = metadata;
    return [this, metadata];
  }
  async createTable(id, options) {
    const body = BigQueryTable._resource(Object.assign({}, isObject(options) ? options : {}));
    body.tableReference = { projectId: this.bigQuery.projectId, datasetId: this.id, tableId: $String(id) };
    const metadata = await this.bigQuery._request('POST', this._path + '/tables', body);
    const table = this.table(id);
    table.metadata = metadata;
    return [table, metadata];
  }
}
class BigQueryTable {
  constructor(dataset, id) { this.dataset = dataset; this.bigQuery = dataset.bigQuery; this.id = id; }
  get _path() { return this.dataset._path + '/tables/' + encodeURIComponent(this.id); }
  // The library's schema shorthands: an array of fields, or "name:TYPE,name2:TYPE2".
  static _resource(metadata) {
    const schema = metadata.schema;
    if ($isArray(schema)) metadata.schema = { fields: schema };
    else if (typeof schema === 'string') metadata.schema = { fields: schema.split(/\s*,\s*/).map((field) => { const [name, type] = field.split(':'); return { name: name.trim(), type: (type || 'STRING').toUpperCase() }; }) };
    return metadata;
  }
  async get() { const metadata = await this.bigQuery._request('GET', this._path); this.metadata = metadata; return [this, metadata]; }
  async getMetadata() { const metadata = await this.bigQuery._request('GET', this._path); this.metadata = metadata; return [metadata, metadata]; }
  async setMetadata(metadata) {
    const answer = await this.bigQuery._request('PATCH', this._path, BigQueryTable._resource(Object.assign({}, metadata)));
    this.metadata = answer;
    return [answer];
  }
  exists() { return googleExists(() => this.get()); }
  async delete() { await this.bigQuery._request('DELETE', this._path); return [{}]; }
  // tabledata.insertAll; rows that BigQuery refuses make a PartialFailureError listing them.
  async insert(rows, options) {
    options = isObject(options) ? options : {};
    rows = $isArray(rows) ? rows : [rows];
    const body = { rows: options.raw ? rows : rows.map((row) => (options.createInsertId === false ? { json: row } : { insertId: crypto.randomUUID(), json: row })) };
    if (options.skipInvalidRows !== undefined) body.skipInvalidRows = !!options.skipInvalidRows;
    if (options.ignoreUnknownValues !== undefined) body.ignoreUnknownValues = !!options.ignoreUnknownValues;
    if (options.templateSuffix !== undefined) body.templateSuffix = $String(options.templateSuffix);
    const answer = await this.bigQuery._request('POST', this._path + '/insertAll', body);
    if ($isArray(answer.insertErrors) && answer.insertErrors.length > 0) {
      const error = new Error('A failure occurred during this request.');
      error.name = 'PartialFailureError';
      error.errors = answer.insertErrors.map((entry) => ({ errors: entry.errors, row: body.rows[entry.index] && (options.raw ? body.rows[entry.index] : body.rows[entry.index].json) }));
      error.response = answer;
      throw error;
    }
    return [answer];
  }
}
const googleEndpoint = (options, fallback) => {
  const endpoint = isObject(options) && options.apiEndpoint ? $String(options.apiEndpoint).replace(/\/+$/, '') : fallback;
  return /^[a-z]+:\/\//i.test(endpoint) ? endpoint : 'https://' + endpoint;
};
const googleProject = (options) => (isObject(options) ? options.projectId || (isObject(options.credentials) ? options.credentials.project_id : undefined) : undefined);
// `@google-cloud/storage`: objects of a bucket over Cloud Storage's JSON API (one upload per object).
class Storage {
  constructor(options) {
    this.projectId = googleProject(options);
    $define(this, '_auth', { value: googleAuthState(options, 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/devstorage.full_control') });
    $define(this, '_base', { value: googleEndpoint(options, 'https://storage.googleapis.com') });
  }
  bucket(name) { return new StorageBucket(this, $String(name)); }
}
class StorageBucket {
  constructor(storage, name) { this.storage = storage; this.name = name; }
  file(name) { return new StorageFile(this, $String(name)); }
  exists() { return googleExists(() => this.getMetadata()); }
  async getMetadata() { const metadata = await googleRequest(this.storage._auth, 'GET', this.storage._base + '/storage/v1/b/' + encodeURIComponent(this.name)); return [metadata, metadata]; }
  upload() { return $Promise.reject(new Error('bucket.upload reads a local file, which plugins cannot: use bucket.file(name).save(data)')); }
}
class StorageFile {
  constructor(bucket, name) { this.bucket = bucket; this.storage = bucket.storage; this.name = name; }
  get _objectURL() { return this.storage._base + '/storage/v1/b/' + encodeURIComponent(this.bucket.name) + '/o/' + encodeURIComponent(this.name); }
  async _upload(data, options) {
    options = isObject(options) ? options : {};
    const metadata = isObject(options.metadata) ? options.metadata : {};
    let bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBytes(data);
    let url = this.storage._base + '/upload/storage/v1/b/' + encodeURIComponent(this.bucket.name) + '/o?uploadType=media&name=' + encodeURIComponent(this.name);
    if (options.gzip === true) { bytes = zlib.gzipSync(bytes); url += '&contentEncoding=gzip'; }
    else if (metadata.contentEncoding) url += '&contentEncoding=' + encodeURIComponent($String(metadata.contentEncoding));
    if (options.predefinedAcl) url += '&predefinedAcl=' + encodeURIComponent($String(options.predefinedAcl));
    const answer = await googleRequest(this.storage._auth, 'POST', url, bytes,
      { contentType: $String(options.contentType || metadata.contentType || 'application/octet-stream') });
    this.metadata = answer;
    return answer;
  }
  save(data, options, callback) {
    if (typeof options === 'function') { callback = options; options = undefined; }
    const done = this._upload(data, options).then(() => undefined);
    if (typeof callback === 'function') { done.then(() => callback(null), (error) => callback(error)); return undefined; }
    return done;
  }
  // A writable stream: what is written is uploaded at `end`, then 'finish' (or 'error') is emitted.
  createWriteStream(options) {
    const stream = new PassThrough();
    const file = this;
    stream.end = function (chunk, encoding, callback) {
      if (typeof chunk === 'function') { callback = chunk; chunk = undefined; } else if (typeof encoding === 'function') { callback = encoding; encoding = undefined; }
      if (chunk !== undefined && chunk !== null) stream.write(chunk, encoding);
      if (stream._ended) return stream;
      stream._ended = true;
      file._upload(stream.read() || new Buffer(0), options).then(
        () => { stream.emit('finish'); stream.emit('close'); if (typeof callback === 'function') callback(); },
        (error) => stream.emit('error', error));
      return stream;
    };
    return stream;
  }
  async download() { return [await googleRequest(this.storage._auth, 'GET', this._objectURL + '?alt=media', undefined, { raw: true })]; }
  exists() { return googleExists(() => this.getMetadata()); }
  async getMetadata() { const metadata = await googleRequest(this.storage._auth, 'GET', this._objectURL); this.metadata = metadata; return [metadata, metadata]; }
  async delete() { await googleRequest(this.storage._auth, 'DELETE', this._objectURL); return [{}]; }
}
// `@google-cloud/pubsub`: topics over Pub/Sub's REST API. Messages published in the same turn go in
// one request per topic (at most 1,000 each), as the library batches them.
class PubSub {
  constructor(options) {
    this.projectId = googleProject(options);
    $define(this, '_auth', { value: googleAuthState(options, 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/pubsub') });
    $define(this, '_base', { value: googleEndpoint(options, 'https://pubsub.googleapis.com') + '/v1/' });
  }
  topic(name) { return new PubSubTopic(this, $String(name)); }
  async createTopic(name) { const topic = this.topic(name); const metadata = await googleRequest(this._auth, 'PUT', this._base + topic.name, {}); topic.metadata = metadata; return [topic, metadata]; }
}
class PubSubTopic {
  constructor(pubsub, name) {
    this.pubsub = pubsub;
    this.name = name.startsWith('projects/') ? name : 'projects/' + pubsub.projectId + '/topics/' + name;
    $define(this, '_pending', { value: [], writable: true });
  }
  get _url() { return this.pubsub._base + this.name; }
  exists() { return googleExists(() => this.getMetadata()); }
  async get(options) {
    try { const [metadata] = await this.getMetadata(); return [this, metadata]; }
    catch (error) { if (error.code === 404 && isObject(options) && options.autoCreate) return this.pubsub.createTopic(this.name); throw error; }
  }
  async getMetadata() { const metadata = await googleRequest(this.pubsub._auth, 'GET', this._url); this.metadata = metadata; return [metadata, metadata]; }
  async create() { return this.pubsub.createTopic(this.name); }
  publish(data, attributes, callback) {
    if (typeof attributes === 'function') { callback = attributes; attributes = undefined; }
    return this.publishMessage({ data, attributes }, callback);
  }
  publishJSON(value, attributes, callback) { return this.publish(Buffer.from($stringify(value)), attributes, callback); }
  publishMessage(message, callback) {
    message = isObject(message) ? message : {};
    if (message.data === undefined && message.json !== undefined) message = Object.assign({}, message, { data: Buffer.from($stringify(message.json)) });
    if (!(message.data instanceof Uint8Array) && typeof message.data !== 'string') {
      return $Promise.reject(new TypeError('Data must be in the form of a Buffer or Uint8Array.'));
    }
    const wire = { data: toBuffer(toBytes(message.data)).toString('base64') };
    if (isObject(message.attributes)) wire.attributes = message.attributes;
    if (message.orderingKey) wire.orderingKey = $String(message.orderingKey);
    const promise = new $Promise((resolve, reject) => {
      this._pending.push({ wire, resolve, reject });
      if (this._pending.length === 1) $Promise.resolve().then(() => this._flush());
    });
    if (typeof callback === 'function') { promise.then((id) => callback(null, id), (error) => callback(error)); return undefined; }
    return promise;
  }
  async _flush() {
    const pending = this._pending;
    this._pending = [];
    for (let start = 0; start < pending.length; start += 1000) {
      const part = pending.slice(start, start + 1000);
      try {
        const answer = await googleRequest(this.pubsub._auth, 'POST', this._url + ':publish', { messages: part.map((p) => p.wire) });
        part.forEach((p, i) => p.resolve(answer.messageIds ? answer.messageIds[i] : undefined));
      } catch (error) { for (const p of part) p.reject(error); }
    }
  }
}
// `jsonwebtoken` (1.5.1): sign, verify and decode HS256/384/512 and RS256/384/512 tokens.
class JsonWebTokenError extends Error { constructor(message, error) { super(message); this.name = 'JsonWebTokenError'; if (error) this.inner = error; } }
class TokenExpiredError extends JsonWebTokenError { constructor(message, expiredAt) { super(message); this.name = 'TokenExpiredError'; this.expiredAt = expiredAt; } }
class NotBeforeError extends JsonWebTokenError { constructor(message, date) { super(message); this.name = 'NotBeforeError'; this.date = date; } }
const jwtUnits = { ms: 0.001, msec: 0.001, msecs: 0.001, millisecond: 0.001, milliseconds: 0.001, s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60, h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600, d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800, y: 31557600, yr: 31557600, yrs: 31557600, year: 31557600, years: 31557600 };
// `expiresIn` / `notBefore`: seconds, or a `ms`-style text ("2 days", "10h", "7d"); a bare number in text means milliseconds.
function jwtSpan(value, iat, name) {
  if (typeof value === 'number') return iat + value;
  const m = /^(-?(?:\d+)?\.?\d+) *([a-z]+)?$/i.exec($String(value));
  if (!m) throw new Error('"' + name + '" should be a number of seconds or string representing a timespan');
  const unit = m[2] ? jwtUnits[m[2].toLowerCase()] : 0.001;
  if (unit === undefined) throw new Error('"' + name + '" should be a number of seconds or string representing a timespan');
  return iat + Math.floor(parseFloat(m[1]) * unit);
}
const jwtDigest = (algorithm) => ({ '256': 'sha256', '384': 'sha384', '512': 'sha512' })[algorithm.slice(2)];
function jwtSignature(algorithm, input, key) {
  const digest = jwtDigest(algorithm);
  if (/^HS(256|384|512)$/.test(algorithm)) return base64url(crypto.createHmac(digest, key).update(input).digest());
  if (/^RS(256|384|512)$/.test(algorithm)) return base64url(crypto.createSign(digest).update(input).sign(pemText(key)));
  if (algorithm === 'none') return '';
  throw new Error('"algorithm" must be a valid string enum value');
}
function jwtSign(payload, key, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  options = isObject(options) ? options : {};
  const run = () => {
    const algorithm = options.algorithm || 'HS256';
    if (algorithm !== 'none' && (key === undefined || key === null || key === '')) throw new Error('secretOrPrivateKey must have a value');
    const header = Object.assign({ alg: algorithm, typ: 'JWT' }, isObject(options.header) ? options.header : {});
    if (options.keyid) header.kid = $String(options.keyid);
    let body = payload;
    if (isObject(payload)) {
      body = Object.assign({}, payload);
      const iat = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
      if (!options.noTimestamp) body.iat = iat;
      if (options.expiresIn !== undefined) { if (payload.exp !== undefined) throw new Error('Bad "options.expiresIn" option the payload already has an "exp" property.'); body.exp = jwtSpan(options.expiresIn, iat, 'expiresIn'); }
      if (options.notBefore !== undefined) body.nbf = jwtSpan(options.notBefore, iat, 'notBefore');
      for (const [option, claim] of [['audience', 'aud'], ['issuer', 'iss'], ['subject', 'sub'], ['jwtid', 'jti']]) if (options[option] !== undefined) body[claim] = options[option];
    } else if (options.expiresIn !== undefined || options.notBefore !== undefined) {
      throw new Error('invalid expiresIn or notBefore option for string payload');
    }
    const input = base64url(Buffer.from($stringify(header))) + '.' + base64url(Buffer.from(typeof body === 'string' ? body : $stringify(body)));
    return input + '.' + jwtSignature(algorithm, input, key);
  };
  if (typeof callback === 'function') { answerLater(callback, run); return undefined; }
  return run();
}
function jwtDecode(token, options) {
  options = isObject(options) ? options : {};
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let header, payload;
  try { header = $parse(Buffer.from(parts[0], 'base64').toString('utf8')); } catch (e) { return null; }
  const text = Buffer.from(parts[1], 'base64').toString('utf8');
  try { payload = $parse(text); } catch (e) { payload = text; }
  if (!isObject(payload) && options.json) return null;
  return options.complete ? { header, payload, signature: parts[2] } : payload;
}
function jwtVerify(token, key, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  options = isObject(options) ? options : {};
  const run = () => {
    if (!token) throw new JsonWebTokenError('jwt must be provided');
    if (typeof token !== 'string') throw new JsonWebTokenError('jwt must be a string');
    const parts = token.split('.');
    if (parts.length !== 3) throw new JsonWebTokenError('jwt malformed');
    const decoded = jwtDecode(token, { complete: true });
    if (!decoded) throw new JsonWebTokenError('invalid token');
    const algorithm = $String(decoded.header.alg);
    if (!parts[2] && algorithm !== 'none') throw new JsonWebTokenError('jwt signature is required');
    if (parts[2] && (key === undefined || key === null || key === '')) throw new JsonWebTokenError('secret or public key must be provided');
    const text = pemText(key);
    const allowed = $isArray(options.algorithms) ? options.algorithms
      : text.includes('BEGIN PUBLIC KEY') || text.includes('BEGIN RSA PUBLIC KEY') ? ['RS256', 'RS384', 'RS512'] : ['HS256', 'HS384', 'HS512'];
    if (!allowed.includes(algorithm)) throw new JsonWebTokenError('invalid algorithm');
    const input = parts[0] + '.' + parts[1];
    let valid;
    if (/^RS(256|384|512)$/.test(algorithm)) {
      const signature = Buffer.from(parts[2], 'base64url');
      valid = native('rsaVerify', jwtDigest(algorithm), text, Buffer.from(input), signature);
    } else {
      const expected = jwtSignature(algorithm, input, key);
      valid = expected.length === parts[2].length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(parts[2]));
    }
    if (!valid) throw new JsonWebTokenError('invalid signature');
    const payload = decoded.payload;
    const now = typeof options.clockTimestamp === 'number' ? options.clockTimestamp : Math.floor(Date.now() / 1000);
    const tolerance = +options.clockTolerance || 0;
    if (isObject(payload)) {
      if (payload.nbf !== undefined && !options.ignoreNotBefore) {
        if (typeof payload.nbf !== 'number') throw new JsonWebTokenError('invalid nbf value');
        if (payload.nbf > now + tolerance) throw new NotBeforeError('jwt not active', new Date(payload.nbf * 1000));
      }
      if (payload.exp !== undefined && !options.ignoreExpiration) {
        if (typeof payload.exp !== 'number') throw new JsonWebTokenError('invalid exp value');
        if (now >= payload.exp + tolerance) throw new TokenExpiredError('jwt expired', new Date(payload.exp * 1000));
      }
      if (options.audience !== undefined) {
        const wanted = $isArray(options.audience) ? options.audience : [options.audience];
        const given = $isArray(payload.aud) ? payload.aud : [payload.aud];
        if (!given.some((a) => wanted.some((w) => (w instanceof RegExp ? w.test(a) : w === a)))) throw new JsonWebTokenError('jwt audience invalid. expected: ' + wanted.join(' or '));
      }
      if (options.issuer !== undefined) {
        const wanted = $isArray(options.issuer) ? options.issuer : [options.issuer];
        if (!wanted.includes(payload.iss)) throw new JsonWebTokenError('jwt issuer invalid. expected: ' + wanted.join(','));
      }
      if (options.subject !== undefined && payload.sub !== options.subject) throw new JsonWebTokenError('jwt subject invalid. expected: ' + options.subject);
      if (options.jwtid !== undefined && payload.jti !== options.jwtid) throw new JsonWebTokenError('jwt jwtid invalid. expected: ' + options.jwtid);
    }
    return options.complete ? { header: decoded.header, payload, signature: decoded.signature } : payload;
  };
  if (typeof callback === 'function') { answerLater(callback, run); return undefined; }
  return run();
}
const jsonwebtoken = { sign: jwtSign, verify: jwtVerify, decode: jwtDecode, JsonWebTokenError, TokenExpiredError, NotBeforeError };
return {
  'node-fetch': fetch,
  'generic-pool': $freeze({ createPool }),
  'pg': $freeze({ Client: PgClient, Pool: PgPool, default: { Client: PgClient, Pool: PgPool } }),
  'crypto': $freeze(crypto),
  'url': $freeze({ URL, URLSearchParams, Url, parse: urlParse, format: urlFormat, resolve: urlResolve }),
  'zlib': $freeze(zlib),
  'stream': $freeze({ PassThrough }),
  '@posthog/plugin-contrib': $freeze({
    createBuffer: (opts) => createBufferWith(
      opts, (ms) => new $Promise((resolve) => startTimer(ms, resolve)), (error) => consoleObject.error('createBuffer: onFlush failed:', error)),
  }),
  '@posthog/plugin-scaffold': $freeze({ RetryError }),
  'aws-sdk': $freeze(awsSdk),
  'aws-sdk/clients/s3': S3,
  'aws-sdk/clients/kinesis': Kinesis,
  'aws-sdk/clients/firehose': Firehose,
  '@google-cloud/bigquery': $freeze({ BigQuery, BigQueryTimestamp, Dataset: BigQueryDataset, Table: BigQueryTable }),
  '@google-cloud/storage': $freeze({ Storage, Bucket: StorageBucket, File: StorageFile }),
  '@google-cloud/pubsub': $freeze({ PubSub, Topic: PubSubTopic }),
  'jsonwebtoken': $freeze(jsonwebtoken),
};
}
let libraries = null;
function require(name) {
  if (libraries === null) libraries = makeLibraries();
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(libraries, name)) return libraries[name];
  if (typeof name === 'string' && (name.startsWith('aws-sdk/') || name === 'snowflake-sdk' || name.startsWith('@google-cloud/'))) {
    throw new Error("Cannot import '" + name + "'! " + name + ' is not available in this plugin server: cloud SDKs (snowflake-sdk, @google-cloud/* beyond BigQuery, Storage and Pub/Sub, aws-sdk beyond S3, Kinesis and Firehose) need Node.js, which this server does not embed. Use fetch against the service\'s HTTP API instead.');
  }
  throw new Error("Cannot import '" + name + "'! This package is not provided by PostHog in plugins.");
}

// ---- posthog
// `posthog.api` (1.2.0, reference §13.3): the host makes the request, adding the keys (the call's, or
// the team's) and PostHog's address, so no key passes through plugin code.
function apiRequest(method) {
  return async function (path, options) {
    options = isObject(options) ? options : {};
    const given = (v) => v !== undefined && v !== null && v !== '';
    if (given(options.projectApiKey) !== given(options.personalApiKey)) {
      throw new Error('You must specify a personalApiKey if you specify a projectApiKey and vice-versa!');
    }
    let query = '';
    // Reference §13.3 bug kept: delete ignores `data`. The host adds the token last.
    if (method === 'GET' && isObject(options.data)) {
      const params = new URLSearchParams(options.data); params.delete('token'); query = params.toString();
    }
    const body = method === 'POST' || method === 'PUT' ? $stringify(options.data || {}) : null;
    const request = { method, path: $String(path), query, host: given(options.host) ? $String(options.host) : null,
      projectApiKey: given(options.projectApiKey) ? $String(options.projectApiKey) : null,
      personalApiKey: given(options.personalApiKey) ? $String(options.personalApiKey) : null };
    return hostFetch('api.request', request, body === null ? undefined : native('utf8encode', body), request.path);
  };
}
// The original's `__jestSetTimeout` (its NODE_ENV=test global, Node's setTimeout): the worker's timer,
// given to plugin code only when the runtime is set up for tests and benchmarks (§6.1: no timers).
// Its callback is called straight from `complete`, as Node calls a timer's: no promise in between.
const jestSetTimeout = testTimer ? function __jestSetTimeout(callback, ms) {
  const fire = () => {
    try { $apply(callback, undefined, []); } catch (e) { consoleObject.error('Uncaught error in a __jestSetTimeout callback:', e); }
  };
  startTimer(ms, fire);
} : undefined;
const posthog = $freeze({
  capture(event, properties = {}) { return host('capture', [$String(event), isObject(properties) ? properties : {}]); },
  api: $freeze({ get: apiRequest('GET'), post: apiRequest('POST'), put: apiRequest('PUT'), delete: apiRequest('DELETE') }),
});
// The config's bindings, in one call: host objects read-only, the rest reassignable (§6.1).
Object.defineProperties(scope, {
  console: { value: consoleObject, writable: false, enumerable: false, configurable: false },
  fetch: { value: fetch, writable: false, enumerable: false, configurable: false },
  require: { value: require, writable: true, enumerable: false, configurable: true },
  posthog: { value: posthog, writable: false, enumerable: false, configurable: false },
  global: { value: scope, writable: true, enumerable: false, configurable: true },
  GLOBAL: { value: scope, writable: true, enumerable: false, configurable: true },
  root: { value: scope, writable: true, enumerable: false, configurable: true },
  globalThis: { value: scope, writable: true, enumerable: false, configurable: true },
  isVM: { value: true, writable: true, enumerable: false, configurable: true },
});

// ---- meta (§8.2)
const cacheKey = (key) => $String(key);
const serialize = (opts) => !isObject(opts) || opts.jsonSerialize !== false;
const cache = {
  async set(key, value, ttlSeconds, options) {
    await host('cache.set', [cacheKey(key), serialize(options) ? $stringify(value) ?? 'undefined' : $String(value), ttlSeconds ? Number(ttlSeconds) : null]);
  },
  async get(key, defaultValue, options) {
    const raw = await host('cache.get', [cacheKey(key)]);
    if (raw === null || raw === undefined) return null;
    if (!serialize(options)) return raw;
    try { return $parse(raw); } catch (e) { return null; }
  },
  async incr(key) { return host('cache.incr', [cacheKey(key)]); },
  async expire(key, ttlSeconds) { return host('cache.expire', [cacheKey(key), Number(ttlSeconds)]); },
  async lpush(key, elementOrArray) {
    if (!$isArray(elementOrArray)) {
      if (typeof elementOrArray !== 'string') throw new Error('cache.lpush expects a string value or an array of strings');
      elementOrArray = [elementOrArray];
    } else if (elementOrArray.some((e) => typeof e !== 'string')) throw new Error('cache.lpush expects a string value or an array of strings');
    if (elementOrArray.length > 1000) throw new Error('Too many elements in array for cache.lpush. Maximum: 1000');
    return host('cache.lpush', [cacheKey(key), elementOrArray]);
  },
  async lrange(key, start, end) {
    if (typeof start !== 'number' || typeof end !== 'number') throw new Error('cache.lrange expects a number for the start and end indexes');
    return host('cache.lrange', [cacheKey(key), start, end]);
  },
  async llen(key) { return host('cache.llen', [cacheKey(key)]); },
  async lrem(key, count, elementKey) {
    if (typeof count !== 'number') throw new Error('cache.lrem expects a number for the "count" argument');
    return host('cache.lrem', [cacheKey(key), count, $String(elementKey)]);
  },
  async lpop(key, count) {
    if (typeof count !== 'number') throw new Error('cache.lpop expects a number for the "count" argument');
    return host('cache.lpop', [cacheKey(key), count]);
  },
};
const storage = {
  async get(key, defaultValue) {
    const raw = await host('storage.get', [$String(key)]);
    return raw === null || raw === undefined ? defaultValue : $parse(raw);
  },
  async set(key, value) {
    if (value === undefined) await host('storage.del', [$String(key)]);
    else await host('storage.set', [$String(key), $stringify(value)]);
  },
  async del(key) { await host('storage.del', [$String(key)]); },
};
// 1.4.2 `meta.utils.cursor` (reference §13.3): numbers in storage, incremented atomically by the host.
const cursor = {
  async init(key, initialValue = 0) {
    if (typeof initialValue !== 'number' || Number.isNaN(initialValue)) throw new Error("The cursor's initial value must be a number!");
    await host('storage.init', [$String(key), $stringify(initialValue)]);
  },
  async increment(key, incrementBy = 1) {
    if (typeof incrementBy !== 'number' || Number.isNaN(incrementBy)) throw new Error('The incrementBy value must be a number!');
    return host('storage.increment', [$String(key), incrementBy]);
  },
};
function jobBuilder(type) {
  return function (payload) {
    const enqueue = (timestamp) => host('jobs.enqueue', [{ type, payload: payload === undefined ? null : payload, timestamp }]);
    return {
      runNow: () => enqueue(Date.now()),
      runIn: (duration, unit) => {
        const u = $String(unit);
        const single = u.endsWith('s') ? u.slice(0, -1) : u;
        if (!Object.prototype.hasOwnProperty.call(UNITS, single)) return $Promise.reject(new Error('Unknown time unit: ' + single + 's'));
        return enqueue(Date.now() + duration * UNITS[single]);
      },
      runAt: (date) => enqueue(new Date(date).getTime()),
    };
  };
}
const jobsProxy = new Proxy({}, {
  get: (target, name) => (typeof name === 'string' ? jobBuilder(name) : undefined),
  set: () => false, defineProperty: () => false, deleteProperty: () => false,
});
// `meta.metrics` (1.1.0, reference §13.3): declared by the plugin's `metrics` export, aggregated per
// sandbox; the runtime takes and merges the values of every worker and sends them as `$$plugin_metrics`.
let metricTypes = {}, metricValues = {};
function updateMetric(name, type, value) {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new Error('Only numbers are allowed for operations on metrics');
  const old = metricValues[name];
  metricValues[name] = old === undefined ? value : type === 'sum' ? old + value : type === 'max' ? Math.max(old, value) : Math.min(old, value);
}
const metricsProxy = new Proxy({}, {
  get(target, name) {
    if (typeof name !== 'string') return undefined;
    const type = Object.prototype.hasOwnProperty.call(metricTypes, name) ? metricTypes[name] : undefined;
    if (type === undefined) throw new Error('Invalid metric name');
    if (type === 'sum') return { increment: (value) => updateMetric(name, type, value) };
    if (type === 'max') return { max: (value) => updateMetric(name, type, value) };
    return { min: (value) => updateMetric(name, type, value) };
  },
  set: () => false, defineProperty: () => false, deleteProperty: () => false,
});
function declareMetrics(declared) {
  if (!isObject(declared)) return;
  const invalid = [];
  for (const name of $keys(declared)) {
    const type = $String(declared[name]).toLowerCase();
    if (!METRIC_TYPES.includes(type)) invalid.push(declared[name]);
    else metricTypes[name] = type;
  }
  if (invalid.length > 0) {
    throw new Error("Only 'sum', 'max', and 'min' are supported as metric types. Invalid types received: " + invalid.join(', '));
  }
}
function takeMetrics() { const values = metricValues; metricValues = {}; return { types: metricTypes, values }; }
const attachments = {};
if (attachmentsValue !== null) {
  for (const key of $keys(attachmentsValue)) {
    const a = attachmentsValue[key];
    attachments[key] = { content_type: a.content_type, file_name: a.file_name, contents: toBuffer(a.contents) };
  }
}
const meta = {
  attachments: deepFreeze(attachments),
  cache: $freeze(cache),
  config: deepFreeze(configValue),
  geoip: $freeze({ async locate(ip) { return host('geoip.locate', [$String(ip)]); } }),
  global: {},
  jobs: jobsProxy,
  metrics: metricsProxy,
  storage: $freeze(storage),
  utils: $freeze({ cursor: $freeze(cursor) }),
};

// ---- export discovery (§7: 0.21.8's holders, then 0.20.3's global object) and calls
let methods = {}, tasks = {}, jobs = {};
// Runs the plugin's module function (made once per context by `PluginModule`) for this config: its
// top-level code gets this config's bindings and keeps its own module state in the closure.
function load(factory) {
  try {
    const loaded = $apply(factory, undefined, [scope.console, scope.fetch, scope.posthog, scope.require, scope, { exports: {} }, {}, jestSetTimeout]);
    return discover(loaded);
  } finally { native('drain'); }
}
function discover(loaded) {
  const holders = [];
  const exp = loaded.exports, mod = loaded.module;
  const modExports = isObject(mod) ? mod.exports : undefined;
  if (isObject(exp)) { holders.push(exp); if (isObject(exp.default)) holders.push(exp.default); }
  if (isObject(modExports)) {
    holders.push(modExports);
    // An ES module compiled to CommonJS keeps `export default` in module.exports.default.
    if (modExports.__esModule && isObject(modExports.default)) holders.push(modExports.default);
  }
  {
    // Last, as 0.20.3 always looked (0.21.8 only when nothing was exported): top-level declarations,
    // and what the code put on its `global`/`this`. A plugin exporting a helper while its
    // `processEvent` stays a top-level function ran on 0.20.3, and runs here.
    // Of the config's global scope, only what the plugin put there can be an export: not its bindings.
    const fallback = {};
    for (const key of $ownNames(scope)) { if (!(key in BINDINGS)) fallback[key] = scope[key]; }
    for (const key of $keys(loaded.locals)) { if (loaded.locals[key] !== undefined) fallback[key] = loaded.locals[key]; }
    holders.push(fallback);
  }
  const found = {};
  for (const name of METHODS) {
    for (const h of holders) { const v = h[name]; if (v) { if (typeof v === 'function') found[name] = v; break; } }
  }
  methods = found;
  for (const h of holders.slice().reverse()) {
    for (const key of $ownNames(h)) {
      if (key.startsWith('runEvery')) { const v = h[key]; if (typeof v === 'function') tasks[key] = v; }
    }
    const j = h.jobs;
    if (isObject(j)) for (const key of $keys(j)) { if (typeof j[key] === 'function') jobs[key] = j[key]; }
  }
  for (const h of holders) { if (isObject(h.metrics)) { declareMetrics(h.metrics); break; } }
  const present = METHODS.filter((m) => m in found);
  // Reference §9.3 adapters.
  if (found.processEventBatch && !found.processEvent) {
    const batch = found.processEventBatch;
    found.processEvent = async (event, meta) => { const result = await batch([event], meta); return result ? result[0] : null; };
  } else if (found.processEvent && !found.processEventBatch) {
    const single = found.processEvent;
    // Awaits only when some result is a promise: each microtask is an entry into the VM of its own,
    // and a synchronous processEvent should cost none.
    const kept = (results) => { const out = []; for (let i = 0; i < results.length; i++) if (results[i]) out[out.length] = results[i]; return out; };
    found.processEventBatch = (events, meta) => {
      const results = [];
      let waits = false;
      for (let i = 0; i < events.length; i++) {
        const result = single(events[i], meta);
        if (!waits && isObject(result)) { try { waits = typeof result.then === 'function'; } catch (e) { waits = true; } }
        results[i] = result;
      }
      return waits ? $apply($then, $Promise.all(results), [kept]) : kept(results);
    };
  }
  if (found.exportEvents) installExportEvents(found);
  // One JSON text: the runtime reads it with one parse instead of four property conversions.
  return $stringify({ methods: present, tasks: $keys(tasks), jobs: $keys(jobs), metrics: metricTypes });
}
function clamp(value, min, max, fallback) {
  const n = parseInt(value, 10);
  return Number.isNaN(n) ? fallback : Math.min(max, Math.max(min, n));
}
// Reference §13.2, plus crash safety (an addition): each buffered event is persisted by the host
// under an entry id; a flush seals the entries still persisted into a batch with a key, and only the
// sealed events are exported. A batch whose key completed is never exported again (retry jobs and
// batches recovered from a crashed instance carry the key).
function installExportEvents(found) {
  const config = configValue;
  const exportEvents = found.exportEvents, onEvent = found.onEvent, teardown = found.teardownPlugin;
  const ignore = new Set($String(config.exportEventsToIgnore || '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const name of ['events_seen', 'events_delivered_successfully', 'undelivered_events', 'retry_errors', 'other_errors']) {
    if (!(name in metricTypes)) metricTypes[name] = 'sum';
  }
  const attempt = async (batch, n, batchKey) => {
    if (batchKey && (await host('export.isDone', [batchKey]))) {
      consoleObject.log('Skipped exporting batch ' + batchKey + ': it was exported already');
      return;
    }
    try {
      await host('exportEvents', [batch]);
      await exportEvents(batch, meta);
    } catch (error) {
      if (!(error instanceof RetryError)) {
        updateMetric('other_errors', 'sum', 1); updateMetric('undelivered_events', 'sum', batch.length);
        if (batchKey) await host('export.complete', [batchKey, false]);
        throw error;
      }
      updateMetric('retry_errors', 'sum', 1);
      if (n >= 15) {
        updateMetric('undelivered_events', 'sum', batch.length);
        consoleObject.error('Dropped batch after retrying 15 times');
      } else {
        await meta.jobs.exportEventsWithRetry({ batch, batchId: Math.floor(Math.random() * 1000000), retriesPerformedSoFar: n + 1, batchKey })
          .runIn(Math.pow(2, n + 1) * 3, 'seconds');
      }
      // Handed to the persistent job queue (or given up): no longer the buffer's to recover.
      if (batchKey) await host('export.complete', [batchKey, false]);
      return;
    }
    updateMetric('events_delivered_successfully', 'sum', batch.length);
    if (batchKey) await host('export.complete', [batchKey, true]);
  };
  const buffer = makeExportBuffer({
    limit: clamp(config.exportEventsBufferBytes, 1, 100 * 1024 * 1024, 1024 * 1024),
    timeoutSeconds: clamp(config.exportEventsBufferSeconds, 1, 600, 10),
    onFlush: async (items) => {
      const batchKey = native('randomUUID');
      const sealed = new Set(await host('export.seal', [items.map((item) => item.id), batchKey]));
      // An entry another instance recovered meanwhile is that instance's to export.
      const batch = items.filter((item) => sealed.has(item.id)).map((item) => item.event);
      if (batch.length === 0) return;
      updateMetric('events_seen', 'sum', batch.length);
      await attempt(batch, 0, batchKey);
    },
  });
  found.onEvent = async (event, meta) => {
    if (!ignore.has(event.event)) {
      const text = $stringify(event), id = native('randomUUID');
      await host('export.buffer', [id, text]);
      await buffer.add({ id, event }, text.length);
    }
    if (onEvent) await onEvent(event, meta);
  };
  found.teardownPlugin = async (meta) => { await buffer.flush(); if (teardown) await teardown(meta); };
  found.__flushExportIfDue = () => (buffer.due() ? buffer.flush() : undefined);
  found.__flushExport = () => buffer.flush();
  found.__exportRecovered = (batch, batchKey) => { updateMetric('events_seen', 'sum', batch.length); return attempt(batch, 0, batchKey); };
  jobs.exportEventsWithRetry = (payload) => attempt(payload.batch, payload.retriesPerformedSoFar, payload.batchKey);
  installHistoricalExport(found, exportEvents);
}
// 1.7.0 historical export (reference §13.2): `Export historical events` starts it; the internal job
// `exportEventsFromTheBeginning` pages through the team's stored events, 100 per run, in 10-minute
// windows, calling exportEvents, with its progress in storage.
function installHistoricalExport(found, exportEvents) {
  const setup = found.setupPlugin;
  const WINDOW = 10 * 60 * 1000;
  found.setupPlugin = async (meta) => {
    const bounds = await host('events.bounds', []);
    if (bounds.min !== null) {
      await storage.set('min_timestamp', bounds.min);
      await storage.set('max_timestamp', bounds.max);
    }
    if (setup) await setup(meta);
  };
  const start = async () => {
    if (await storage.get('is_export_running', false)) { consoleObject.log('Historical export is already running'); return; }
    const min = await storage.get('min_timestamp', null);
    if (min === null) { consoleObject.log('No events to export'); return; }
    await storage.set('timestamp_cursor', min);
    await storage.set('is_export_running', true);
    consoleObject.log('Starting historical export from ' + new Date(min).toISOString());
    await meta.jobs.exportEventsFromTheBeginning({ offset: 0 }).runNow();
  };
  jobs['Export historical events'] = start;
  jobs.exportEventsFromTheBeginning = async (payload) => {
    const cursor = await storage.get('timestamp_cursor', null), max = await storage.get('max_timestamp', null);
    if (cursor === null || max === null || !(await storage.get('is_export_running', false))) return;
    if (cursor > max) {
      await storage.set('is_export_running', false);
      consoleObject.log('Historical export finished');
      return;
    }
    const offset = (payload && payload.offset) || 0;
    const events = await host('events.page', [cursor, cursor + WINDOW, offset, 100]);
    if (events.length > 0) {
      try { await exportEvents(events, meta); updateMetric('events_delivered_successfully', 'sum', events.length); }
      catch (error) {
        // Retried by running this page again later; the cursor stays.
        consoleObject.error('Historical export failed for ' + new Date(cursor).toISOString() + ': ' + error.message + '. Retrying in 30 s');
        await meta.jobs.exportEventsFromTheBeginning({ offset }).runIn(30, 'seconds');
        return;
      }
    }
    if (events.length === 100) { await meta.jobs.exportEventsFromTheBeginning({ offset: offset + 100 }).runNow(); return; }
    await storage.set('timestamp_cursor', cursor + WINDOW);
    await meta.jobs.exportEventsFromTheBeginning({ offset: 0 }).runNow();
  };
}
function call(kind, name, args) {
  const table = kind === 'method' ? methods : kind === 'task' ? tasks : jobs;
  const fn = table[name];
  if (typeof fn !== 'function') throw new Error('Missing ' + name);
  if (kind === 'job' && !args[0]) return fn(meta); // reference §8.1 quirk: falsy payload → f(meta)
  args[args.length] = meta; // not args.push: the plugin may have replaced Array.prototype.push
  return $apply(fn, undefined, args);
}
// A call's result, or `pending` when it is a thenable: its outcome then reaches the runtime through
// native('settle', id, …), possibly before this returns (microtasks drain when the entry ends).
const pending = {};  // never reaches plugin code
// Entries end by running their microtasks inside themselves, where the watchdog's time limit covers
// them (see MicrotaskDrain.c): load, invoke and complete.
function invoke(kind, name, args, id) {
  try { return invokeExport(kind, name, args, id); } finally { native('drain'); }
}
function invokeExport(kind, name, args, id) {
  const argument = args.length > 0 ? args[0] : undefined;
  const check = kind === 'method' && name === 'processEvent' ? checkEvent : (v) => v;
  const value = call(kind, name, args);
  if (!isObject(value)) return check(value);
  let then;
  try { then = value.then; } catch (e) { return check(value); }
  if (typeof then !== 'function') return check(value);
  const settle = (v) => {
    try { check(v); } catch (e) { return native('settle', id, false, e); }
    return native('settle', id, true, v, v === argument);
  };
  $apply($then, $Promise.resolve(value), [settle, (e) => native('settle', id, false, e)]);
  return pending;
}
// processEvent gives back an event object, or a falsy value to drop the event. Anything else (a
// string, a number, an array, a function) would reach ingestion as no event at all: it counts as the
// plugin failing, and the chain goes on with the event as it was.
function checkEvent(value) {
  if (!value || (typeof value === 'object' && !$isArray(value))) return value;
  const what = $isArray(value) ? 'an array' : typeof value === 'object' || typeof value === 'undefined' ? 'an object' : 'a ' + typeof value;
  const error = new TypeError('processEvent returned ' + what + ' instead of the event: return the event object, or a falsy value to drop it');
  delete error.stack; // the prelude's frame would only mislead
  throw error;
}
function wrapBytes(u8) { return toBuffer(u8); }
function makeResponse(r) { return { status: r.status, statusText: r.statusText, headers: r.headers, url: r.url, body: toBuffer(r.body) }; }
// The runtime's own handle (never reaches plugin code).
return { load, invoke, pending, complete, wrapBytes, makeResponse, takeMetrics, meta };
}
})
"""#
}
