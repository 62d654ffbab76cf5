// saasconform's Node.js preload: routes Microsoft's hosts through the proxy.
//
// Loaded with NODE_OPTIONS="--require /path/to/this.cjs". Node 20 and 22
// ignore HTTPS_PROXY: neither the https module (used by axios, jwks-rsa,
// jose 5's remote JWKS, older @azure/msal-node) nor the built-in fetch
// (undici; used by @azure/msal-node 3+, jose 6) reads it. This file makes
// both send requests for Microsoft's hosts through the proxy named by
// HTTPS_PROXY (or https_proxy) and leaves every other request alone.
//
//   - https: https.Agent.prototype.createConnection is wrapped, so every
//     https agent (the global one, agent:false, an app's own keep-alive
//     agent, subclasses) opens a CONNECT tunnel through the proxy for those
//     hosts, then TLS to the original host name (SNI and certificate check
//     on that name), with the caller's TLS options (ca, rejectUnauthorized,
//     ...). Node's default CA store plus NODE_EXTRA_CA_CERTS apply as usual.
//   - fetch: globalThis.fetch is wrapped; a request for those hosts is
//     carried by https.request (so by the tunnel above) and answered with a
//     Response; any other request goes to the original fetch untouched.
//
// Hosts: login.microsoftonline.com, login.windows.net, login.microsoft.com,
// sts.windows.net, marketplaceapi.microsoft.com, or the comma-separated list
// in SAASCONFORM_PROXY_HOSTS when set. NO_PROXY (or no_proxy) is honoured
// for them. Without HTTPS_PROXY the preload does nothing.
//
// Node >= 24 with NODE_USE_ENV_PROXY=1 sends https and fetch through
// HTTPS_PROXY by itself, and this preload is unnecessary; it then stands
// aside.
//
// It never throws at load time and logs nothing unless
// SAASCONFORM_PRELOAD_DEBUG=1 (then to stderr). Plain CommonJS, no
// dependencies.
'use strict';

(function saasconformPreload() {
  const env = process.env;
  const debugOn = env.SAASCONFORM_PRELOAD_DEBUG === '1' || env.SAASCONFORM_PRELOAD_DEBUG === 'true';
  function debug(...args) {
    if (!debugOn) return;
    try {
      process.stderr.write('[saasconform-preload] ' + args.map(String).join(' ') + '\n');
    } catch (_) { /* never throw */ }
  }

  try {
    install();
  } catch (err) {
    debug('not installed:', err && err.stack || err);
  }

  function install() {
    if (globalThis.__saasconformPreloadInstalled) return;
    const proxyRaw = env.HTTPS_PROXY || env.https_proxy || '';
    if (!proxyRaw) {
      debug('HTTPS_PROXY is not set: doing nothing');
      return;
    }
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    if (nodeMajor >= 24 && env.NODE_USE_ENV_PROXY === '1') {
      debug('Node', process.versions.node, 'with NODE_USE_ENV_PROXY=1 proxies by itself: doing nothing');
      return;
    }
    let proxy;
    try {
      proxy = new URL(proxyRaw.includes('://') ? proxyRaw : 'http://' + proxyRaw);
    } catch (err) {
      debug('HTTPS_PROXY', JSON.stringify(proxyRaw), 'is not a URL: doing nothing');
      return;
    }
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      debug('HTTPS_PROXY scheme', proxy.protocol, 'is not supported: doing nothing');
      return;
    }

    const http = require('http');
    const https = require('https');
    const tls = require('tls');
    const net = require('net');

    const defaultHosts = ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com',
      'sts.windows.net', 'marketplaceapi.microsoft.com'];
    const hosts = new Set((env.SAASCONFORM_PROXY_HOSTS
      ? env.SAASCONFORM_PROXY_HOSTS.split(',') : defaultHosts)
      .map((h) => h.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean));
    const noProxy = (env.NO_PROXY || env.no_proxy || '').split(/[\s,]+/)
      .map((h) => h.trim().toLowerCase()).filter(Boolean);

    function bareHost(h) {
      h = String(h || '').toLowerCase();
      if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
      return h.replace(/\.$/, '');
    }
    function excluded(host, port) {
      for (let entry of noProxy) {
        if (entry === '*') return true;
        let entryPort = '';
        const m = /^(.*):(\d+)$/.exec(entry);
        if (m && !entry.startsWith('[')) { entry = m[1]; entryPort = m[2]; }
        if (entryPort && String(port) !== entryPort) continue;
        entry = entry.replace(/^\*?\./, '.');
        if (host === entry.replace(/^\./, '') || (entry.startsWith('.') && host.endsWith(entry))) return true;
      }
      return false;
    }
    function proxied(host, port) {
      host = bareHost(host);
      return hosts.has(host) && !excluded(host, port);
    }

    const proxyPort = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
    const proxyHost = bareHost(proxy.hostname);
    const proxyAuth = proxy.username
      ? 'Basic ' + Buffer.from(decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password)).toString('base64')
      : '';

    // tunnel opens a CONNECT tunnel to host:port and starts TLS inside it;
    // callback(err, tlsSocket).
    function tunnel(options, callback) {
      const host = bareHost(options.host || options.hostname || 'localhost');
      const port = Number(options.port) || 443;
      const target = (host.includes(':') ? '[' + host + ']' : host) + ':' + port;
      const headers = { host: target };
      if (proxyAuth) headers['proxy-authorization'] = proxyAuth;
      let done = false;
      function finish(err, sock) {
        if (done) return;
        done = true;
        callback(err, sock);
      }
      const mod = proxy.protocol === 'https:' ? https : http;
      debug('CONNECT', target, 'via', proxy.host);
      const req = mod.request({
        host: proxyHost, port: proxyPort, method: 'CONNECT', path: target, headers,
        agent: false, setHost: false,
      });
      if (options.timeout) {
        req.setTimeout(options.timeout, () => {
          req.destroy(new Error('saasconform preload: CONNECT ' + target + ' via ' + proxy.host + ' timed out'));
        });
      }
      req.once('connect', (res, socket, head) => {
        req.setTimeout(0);
        if (res.statusCode !== 200) {
          socket.destroy();
          const err = new Error('saasconform preload: proxy ' + proxy.host + ' refused CONNECT ' + target +
            ': ' + res.statusCode + ' ' + (res.statusMessage || ''));
          err.code = 'ECONNREFUSED';
          finish(err);
          return;
        }
        if (head && head.length) socket.unshift(head);
        const tlsOptions = Object.assign({}, options);
        // Connection details of the original request do not apply to the
        // tunnel: TLS runs over the proxy's socket.
        delete tlsOptions.path;
        delete tlsOptions.socketPath;
        delete tlsOptions.agent;
        delete tlsOptions.createConnection;
        delete tlsOptions.lookup;
        delete tlsOptions.timeout;
        tlsOptions.socket = socket;
        tlsOptions.host = host;
        tlsOptions.port = port;
        if (!tlsOptions.servername && !net.isIP(host)) tlsOptions.servername = host;
        let tlsSocket;
        try {
          tlsSocket = tls.connect(tlsOptions);
        } catch (err) {
          socket.destroy();
          finish(err);
          return;
        }
        finish(null, tlsSocket);
      });
      req.once('error', (err) => {
        // saasconform's proxy refuses a host it does not play by closing the
        // connection: say so rather than a bare "socket hang up".
        const wrapped = new Error('saasconform preload: CONNECT ' + target + ' via ' + proxy.host + ' failed (' +
          (err && err.message || err) + '); the proxy closes the connection for a host it does not play');
        wrapped.code = err && err.code || 'ECONNRESET';
        wrapped.cause = err;
        finish(wrapped);
      });
      req.once('response', (res) => {
        // A proxy that answers CONNECT with a non-2xx status ends up here
        // in some Node versions instead of 'connect'.
        res.resume();
        const err = new Error('saasconform preload: proxy ' + proxy.host + ' refused CONNECT ' + target +
          ': ' + res.statusCode + ' ' + (res.statusMessage || ''));
        err.code = 'ECONNREFUSED';
        finish(err);
      });
      req.end();
    }

    // --- https: every agent tunnels Microsoft's hosts -----------------------
    const originalCreateConnection = https.Agent.prototype.createConnection;
    https.Agent.prototype.createConnection = function saasconformCreateConnection(options, callback) {
      let host;
      try {
        host = options && (options.host || options.hostname);
      } catch (_) { host = undefined; }
      if (!options || !proxied(host, options.port || 443) || options.socket) {
        return originalCreateConnection.apply(this, arguments);
      }
      debug('https', host, 'through the proxy');
      if (typeof callback !== 'function') {
        // No callback to give an asynchronous socket to (a caller using
        // createConnection directly): fall back to Node's own.
        return originalCreateConnection.apply(this, arguments);
      }
      tunnel(options, callback);
      return undefined;
    };

    // --- fetch: Microsoft's hosts go through https (and so the tunnel) ------
    const originalFetch = globalThis.fetch;
    if (typeof originalFetch === 'function' && typeof globalThis.Request === 'function' &&
        typeof globalThis.Response === 'function') {
      const zlib = require('zlib');
      const redirectStatuses = new Set([301, 302, 303, 307, 308]);
      const nullBodyStatuses = new Set([101, 204, 205, 304]);

      function targetURL(input) {
        try {
          if (typeof input === 'string') return new URL(input);
          if (input instanceof URL) return input;
          if (input && typeof input.url === 'string') return new URL(input.url);
        } catch (_) { /* let fetch report it */ }
        return null;
      }

      function abortError(signal) {
        if (signal && signal.reason !== undefined) return signal.reason;
        const err = new Error('This operation was aborted');
        err.name = 'AbortError';
        err.code = 20;
        return err;
      }

      // send performs one HTTP exchange over https.request; resolves to
      // {status, statusText, rawHeaders, body (Buffer)}.
      function send(url, method, headers, body, signal) {
        return new Promise((resolve, reject) => {
          if (signal && signal.aborted) { reject(abortError(signal)); return; }
          const req = https.request(url, { method, headers });
          let onAbort;
          if (signal) {
            onAbort = () => req.destroy(abortError(signal));
            signal.addEventListener('abort', onAbort, { once: true });
          }
          const cleanup = () => { if (signal && onAbort) signal.removeEventListener('abort', onAbort); };
          req.once('error', (err) => { cleanup(); reject(err); });
          req.once('response', (res) => {
            let stream = res;
            const encoding = String(res.headers['content-encoding'] || '').trim().toLowerCase();
            if (method !== 'HEAD' && !nullBodyStatuses.has(res.statusCode)) {
              if (encoding === 'gzip' || encoding === 'x-gzip') stream = res.pipe(zlib.createGunzip());
              else if (encoding === 'deflate') stream = res.pipe(zlib.createInflate());
              else if (encoding === 'br') stream = res.pipe(zlib.createBrotliDecompress());
            }
            const chunks = [];
            stream.on('data', (c) => chunks.push(c));
            stream.once('error', (err) => { cleanup(); reject(err); });
            res.once('error', (err) => { cleanup(); reject(err); });
            stream.once('end', () => {
              cleanup();
              resolve({ status: res.statusCode, statusText: res.statusMessage || '',
                rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), decoded: stream !== res });
            });
          });
          if (body && body.length) req.end(body); else req.end();
        });
      }

      async function proxiedFetch(request, init) {
        const signal = request.signal;
        let method = request.method.toUpperCase();
        const headers = {};
        for (const [k, v] of request.headers) headers[k] = v;
        let body = null;
        if (method !== 'GET' && method !== 'HEAD') {
          const ab = await request.arrayBuffer();
          body = Buffer.from(ab);
          // fetch sends content-length even for an empty body on POST/PUT/PATCH.
          if (!('content-length' in headers) && !('transfer-encoding' in headers)) {
            headers['content-length'] = String(body.length);
          }
        }
        if (!('accept' in headers)) headers.accept = '*/*';
        if (!('accept-encoding' in headers)) headers['accept-encoding'] = 'gzip, deflate, br';
        if (!('user-agent' in headers)) headers['user-agent'] = 'node';
        const redirectMode = (init && init.redirect) || request.redirect || 'follow';
        let url = new URL(request.url);
        for (let hops = 0; ; hops++) {
          if (!proxied(url.hostname, url.port || (url.protocol === 'https:' ? 443 : 80)) || url.protocol !== 'https:') {
            // A redirect away from Microsoft's hosts: the original fetch.
            return originalFetch(url.href, { method, headers, body: body && body.length ? body : undefined,
              signal, redirect: redirectMode });
          }
          debug('fetch', method, url.origin + url.pathname, 'through the proxy');
          const r = await send(url, method, headers, body, signal);
          const location = headerValue(r.rawHeaders, 'location');
          if (redirectStatuses.has(r.status) && location && redirectMode !== 'manual') {
            if (redirectMode === 'error') throw new TypeError('fetch failed: redirect mode is "error"');
            if (hops >= 20) throw new TypeError('fetch failed: redirect count exceeded');
            if (r.status === 303 && method !== 'GET' && method !== 'HEAD' ||
                (r.status === 301 || r.status === 302) && method === 'POST') {
              method = 'GET';
              body = null;
              for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) delete headers[h];
            }
            const next = new URL(location, url);
            if (next.origin !== url.origin) delete headers.authorization;
            url = next;
            continue;
          }
          const respHeaders = new Headers();
          for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
            const name = r.rawHeaders[i];
            const lower = name.toLowerCase();
            if (r.decoded && (lower === 'content-length')) continue;
            try { respHeaders.append(name, r.rawHeaders[i + 1]); } catch (_) { /* invalid header value */ }
          }
          const nullBody = nullBodyStatuses.has(r.status) || method === 'HEAD';
          let response;
          if (r.status < 200 || r.status > 599) {
            throw new TypeError('fetch failed: status ' + r.status);
          }
          response = new Response(nullBody ? null : r.body, { status: r.status, statusText: r.statusText, headers: respHeaders });
          try {
            Object.defineProperty(response, 'url', { value: url.href, enumerable: true });
            if (hops > 0) Object.defineProperty(response, 'redirected', { value: true, enumerable: true });
          } catch (_) { /* cosmetic */ }
          return response;
        }
      }

      function headerValue(raw, name) {
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (raw[i].toLowerCase() === name) return raw[i + 1];
        }
        return undefined;
      }

      const wrappedFetch = function fetch(input, init) {
        let url;
        try {
          url = targetURL(input);
        } catch (_) { url = null; }
        if (!url || url.protocol !== 'https:' || !proxied(url.hostname, url.port || 443)) {
          return originalFetch.apply(this, arguments);
        }
        let request;
        try {
          request = new Request(input, init);
        } catch (err) {
          return Promise.reject(err);
        }
        return proxiedFetch(request, init).catch((err) => {
          if (err && (err.name === 'AbortError' || err instanceof TypeError)) throw err;
          // fetch reports network failures as TypeError('fetch failed', {cause}).
          throw new TypeError('fetch failed', { cause: err });
        });
      };
      try {
        Object.defineProperty(globalThis, 'fetch', { value: wrappedFetch, writable: true, configurable: true, enumerable: true });
      } catch (_) {
        globalThis.fetch = wrappedFetch;
      }
    }

    Object.defineProperty(globalThis, '__saasconformPreloadInstalled', { value: true });
    debug('installed: proxy', proxy.host, 'for', Array.from(hosts).join(','));
  }
})();
