// The hx gateway's request handler, run by nginx's njs module (no Python in the request path).
//
// For each API request it authenticates the caller (API key hash, or a client certificate),
// checks the role's permission for the endpoint and the tenant's permission for the model,
// picks the variant of a route alias, decides whether the response may be cached, and hands
// the request to the model's named location in nginx.conf, where limit_req, limit_conn,
// proxy_cache and proxy_pass do the rest. What it decides with is hx_config (hx_config.json,
// rendered by hxgen from hx.yaml), which nginx preloads once per configuration load
// (js_preload_object); the key hashes come from an nginx map (api-keys.map).
//
// With usage accounting (hx-usage), an inference request of a tenant with a daily token quota
// also reads the tenant's quota state file, which hx-usage writes (see withinQuota), every
// stream is asked for its usage chunk so that it is counted, and /v1/usage, /v1/feedback and
// /admin/usage go to hx-usage once the caller is known.
//
// With the control plane (hx-control), the key map also holds the keys hx-control manages, whose
// expiry may be a time (a rotated key's overlap), a route draws its variant from the live weights
// hx-control writes (hx_weights, preloaded like hx_config), and /admin/api, /admin/graphql and
// /admin/ui go to hx-control with the caller's tenant, role and key id (callerRole, callerKeyId);
// on /admin/ui only, the key may come from the page's cookie.
//
// njs evaluates this module afresh for every request, so module-level state is per request,
// and anything built here is paid for on every request: keep it small.
//
// Names that come from a client (a model, a path, a certificate's common name) are looked up with
// own(): an object's inherited properties (constructor, __proto__, toString) are never data.
import crypto from 'crypto';
import fs from 'fs';

const config = hx_config;  // the global that js_preload_object defines
// The live route weights hx-control writes; not defined without the control plane.
const weights = typeof hx_weights === 'undefined' ? null : hx_weights;
const hasOwn = Object.prototype.hasOwnProperty;

function own(object, name) {
    return hasOwn.call(object, name) ? object[name] : undefined;
}

// Arrays in a preloaded object have no prototype methods of their own (njs 0.7): borrow them.
function contains(list, item) {
    return Array.prototype.indexOf.call(list, item) !== -1;
}

function variantsOf(route) {
    return Array.prototype.map.call(route.split, function (v) { return v[0]; });
}

// RFC 7235: the scheme is case-insensitive; one or more spaces before the credentials.
const BEARER = /^Bearer +(\S+)$/i;

const USAGE_TAIL_BYTES = 4096;
const USAGE_OBJECT = /^"usage"\s*:\s*\{/;

function sha256(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

function fail(r, status, type, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {message: message, type: type, code: code}}) + '\n');
    return null;
}

// The quota state of a tenant that has a daily token quota: {limit, used, resetsAt} (resetsAt in
// Unix seconds, or null when unknown). hx-usage writes <quota_dir>/<tenant>.json after it has
// counted the access log (hxgen.contracts.usage). Anything wrong with the file counts as nothing
// used: a stopped hx-usage stops enforcement, never traffic.
function quotaOf(tenant, limit) {
    const state = {limit: limit, used: 0, resetsAt: null};
    let file;
    try {
        file = JSON.parse(fs.readFileSync(config.quota_dir + '/' + tenant + '.json', 'utf8'));
    } catch (e) {
        return state;
    }
    if (file === null || typeof file.used_tokens !== 'number' || typeof file.resets_at !== 'number' ||
            !isFinite(file.used_tokens) || !isFinite(file.resets_at)) {
        return state;
    }
    if (Date.now() >= file.resets_at * 1000) {
        return state;  // a new day, which hx-usage has not counted yet
    }
    state.used = Math.max(0, file.used_tokens);
    state.resetsAt = file.resets_at;
    return state;
}

// Sets the quota headers (nginx's add_header sends them on every answer, the engine's errors
// too); answers 429 and returns false when the quota is used up.
function withinQuota(r, caller) {
    const limit = config.tenants[caller.name].daily_tokens;
    if (limit === null || limit === undefined) {
        return true;
    }
    const quota = quotaOf(caller.name, limit);
    const reset = quota.resetsAt === null ? null : Math.max(1, Math.ceil(quota.resetsAt - Date.now() / 1000));
    r.variables.hx_quota_limit = String(limit);
    r.variables.hx_quota_remaining = String(Math.max(0, limit - quota.used));
    r.variables.hx_quota_reset = reset === null ? '' : String(reset);
    if (quota.used < limit) {
        return true;
    }
    r.variables.hx_quota = 'exceeded';
    r.variables.hx_quota_retry_after = String(reset);
    fail(r, 429, 'rate_limit_error', 'quota_exceeded', 'tenant ' + caller.name + ' has used its daily quota of ' +
        limit + ' tokens; it resets at ' + new Date(quota.resetsAt * 1000).toISOString() + ' (in ' + reset + ' s)');
    return false;
}

function reply(r, document) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify(document) + '\n');
}

// js_set $hx_key_sha256: the map in nginx.conf turns it into "tenant expires id".
function keySha256(r) {
    const header = r.headersIn.Authorization;
    if (header === undefined) {
        const cookie = uiCookie(r);
        return cookie === undefined ? '' : sha256(cookie);
    }
    const match = BEARER.exec(header);
    return match ? sha256(match[1]) : '';
}

// The operator page's key, from its cookie: accepted below the page's prefix only, so that no
// other endpoint can be reached with a cookie (a cross-site request would carry it).
function uiCookie(r) {
    const control = config.control;
    if (control === null || control === undefined) {
        return undefined;
    }
    const prefix = control.ui_prefix;
    if (r.uri !== prefix && r.uri.slice(0, prefix.length + 1) !== prefix + '/') {
        return undefined;
    }
    const value = r.variables['cookie_' + control.ui_cookie];
    return value ? value : undefined;
}

// When a key stops working, in milliseconds: its map entry's expiry is '-' (never), a date (the
// key stops at 00:00 UTC that day) or a UTC time YYYY-MM-DDTHH:MM:SSZ (a rotated key's overlap).
// Anything else never worked: NaN, which counts as expired.
const EXPIRY_DATE = /^\d{4}-\d{2}-\d{2}$/;
const EXPIRY_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function expiresAt(text) {
    if (EXPIRY_DATE.test(text)) {
        return Date.parse(text + 'T00:00:00Z');
    }
    return EXPIRY_TIME.test(text) ? Date.parse(text) : NaN;
}

function expired(text) {
    if (text === '-') {
        return false;
    }
    const at = expiresAt(text);
    return isNaN(at) || Date.now() >= at;
}

function commonName(dn) {
    const match = /(?:^|,)CN=([^,]+)/.exec(dn || '');
    return match ? match[1] : null;
}

// The caller's tenant name, or {code, message} of the 401 it gets. Runs before the request's
// body is read (js_set $hx_caller, in nginx's rate-limit phase) and again in hx.api.
function identify(r) {
    const header = r.headersIn.Authorization;
    if (header === undefined && uiCookie(r) === undefined) {
        if (r.variables.ssl_client_verify === 'SUCCESS') {
            const cn = commonName(r.variables.ssl_client_s_dn);
            const name = cn === null ? undefined : own(config.client_certificates, cn);
            if (name !== undefined) {
                return known(name, 'certificate', config.control ? config.control.certificate_key_id : '');
            }
            return {code: 'unknown_client_certificate', message: 'no tenant accepts the client certificate ' + JSON.stringify(cn)};
        }
        return {code: 'missing_api_key', message: 'missing API key: send the header "Authorization: Bearer <key>"'};
    }
    if (header !== undefined && !BEARER.test(header)) {
        return {code: 'invalid_api_key', message: 'malformed Authorization header: expected "Bearer <key>"'};
    }
    const entry = r.variables.hx_key_entry;
    if (!entry) {
        return {code: 'invalid_api_key', message: 'invalid API key'};
    }
    const fields = entry.split(' ');  // tenant, expiry ('-', a date or a UTC time), key id
    if (expired(fields[1])) {
        return {code: 'expired_api_key', message: 'API key ' + fields[2] + ' expired on ' + fields[1] + '; ask for a new one'};
    }
    return known(fields[0], 'key ' + fields[2], fields[2]);
}

// The tenant's name; keyId is kept for hx-control's header (a word for a client certificate).
function known(name, credential, keyId) {
    if (own(config.tenants, name) === undefined) {
        return {code: 'invalid_api_key', message: 'the ' + credential + ' belongs to no configured tenant'};
    }
    identifiedKey = keyId || '';
    return name;
}

// Identified once per request: $hx_caller and $hx_caller_tier both ask.
let identified;
let identifiedKey = '';

function identifyOnce(r) {
    if (identified === undefined) {
        identified = identify(r);
    }
    return identified;
}

// js_set $hx_caller: the tenant, or '' for a request without valid credentials, which nginx then
// limits by client address and answers without reading its body (location /_hx/unauthenticated).
function caller(r) {
    const who = identifyOnce(r);
    return typeof who === 'string' ? who : '';
}

// js_set $hx_caller_tier: the caller's rate-limit tier, counted before the body is read.
function callerTier(r) {
    const who = identifyOnce(r);
    return typeof who === 'string' ? config.tenants[who].tier : '';
}

// js_set $hx_caller_role and $hx_caller_key_id: what hx-control is told of a verified caller
// (X-HX-Role, X-HX-Key-Id), replacing whatever the client sent.
function callerRole(r) {
    const who = identifyOnce(r);
    return typeof who === 'string' ? config.tenants[who].role : '';
}

function callerKeyId(r) {
    return typeof identifyOnce(r) === 'string' ? identifiedKey : '';
}

// location /_hx/unauthenticated: the 401 of a request without valid credentials, whatever its path.
function unauthenticated(r) {
    const who = identifyOnce(r);
    const error = typeof who === 'string' ? {code: 'invalid_api_key', message: 'invalid credentials'} : who;
    fail(r, 401, 'authentication_error', error.code, error.message);
}

// Returns {name, role, models} of the caller, or null after answering 401.
function authenticate(r) {
    const who = identifyOnce(r);
    if (typeof who !== 'string') {
        return fail(r, 401, 'authentication_error', who.code, who.message);
    }
    const t = config.tenants[who];
    r.variables.hx_tenant = who;
    r.variables.hx_role = t.role;
    r.variables.hx_tier = t.tier;
    return {name: who, role: t.role, models: t.models};
}

function permitted(caller, permission) {
    return contains(own(config.permissions, caller.role) || [], permission);
}

function mayUse(caller, name) {
    return caller.models === '*' || contains(caller.models, name);
}

function visibleModels(caller) {
    const names = Object.keys(config.models).concat(Object.keys(config.routes));
    return names.filter(function (name) { return mayUse(caller, name); }).sort();
}

// A route's variants are named to a caller only if it may use every one of them.
function mayUseVariants(caller, route) {
    return variantsOf(route).every(function (v) { return mayUse(caller, v); });
}

function describe(caller, name) {
    const route = own(config.routes, name);
    const names = route ? variantsOf(route) : [name];
    const lengths = names.map(function (n) { return own(config.models, n).max_model_len; });
    const model = {id: name, object: 'model', created: 0, owned_by: 'hx', max_model_len: Math.min.apply(null, lengths)};
    if (route && mayUseVariants(caller, route)) {
        model.variants = names;
    }
    return model;
}

// FNV-1a: a stable bucket per tenant and alias, so a tenant stays on one variant.
function bucket(text) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % 100;
}

function pickVariant(route, alias, caller) {
    const split = liveSplit(route, alias) || route.split;
    const draw = route.sticky === 'tenant' ? bucket(caller.name + '\n' + alias) : Math.floor(Math.random() * 100);
    for (let i = 0; i < split.length; i++) {
        if (draw < split[i][1]) {
            return split[i][0];
        }
    }
    return split[split.length - 1][0];
}

// The route's split as hx-control last set it ([[variant, cumulative percent], ...]), or null for
// the spec's: without the control plane, for a route it does not list, or for a split naming a
// variant this configuration cannot send to (a file older than the spec).
function liveSplit(route, alias) {
    const split = weights === null ? undefined : own(weights, alias);
    if (!Array.isArray(split) || split.length === 0) {
        return null;
    }
    for (let i = 0; i < split.length; i++) {
        const v = split[i];
        if (!Array.isArray(v) || typeof v[1] !== 'number' || own(route.upstreams, v[0]) === undefined) {
            return null;
        }
    }
    return split;
}

function parseBody(r) {
    const text = r.requestText;
    if (!text) {
        return fail(r, 400, 'invalid_request_error', 'invalid_json', 'the request body must be a JSON object');
    }
    let body;
    try {
        body = JSON.parse(text);
    } catch (e) {
        return fail(r, 400, 'invalid_request_error', 'invalid_json', 'the request body is not valid JSON: ' + e.message);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return fail(r, 400, 'invalid_request_error', 'invalid_json', 'the request body must be a JSON object');
    }
    return body;
}

function cacheable(r, endpoint, body) {
    if (!config.cache || body.stream === true) {
        return false;
    }
    const control = r.headersIn['Cache-Control'] || '';
    if (/no-cache|no-store/.test(control)) {
        return false;
    }
    // Embeddings are deterministic; generations only without sampling.
    return endpoint.task === 'embed' || body.temperature === 0;
}

function infer(r, caller, endpoint) {
    const body = parseBody(r);
    if (body === null) {
        return;
    }
    const requested = body.model;
    if (typeof requested !== 'string' || requested === '') {
        return fail(r, 400, 'invalid_request_error', 'missing_model',
            'the request needs a "model"; this key may use: ' + visibleModels(caller).join(', '));
    }
    const route = own(config.routes, requested);
    if (route === undefined && own(config.models, requested) === undefined) {
        return fail(r, 404, 'invalid_request_error', 'model_not_found',
            'the model ' + JSON.stringify(requested) + ' does not exist; this key may use: ' +
            visibleModels(caller).join(', '));
    }
    if (!mayUse(caller, requested)) {
        return fail(r, 403, 'permission_error', 'model_not_allowed',
            'tenant ' + caller.name + ' may not use the model ' + JSON.stringify(requested));
    }
    const variant = route ? pickVariant(route, requested, caller) : requested;
    const model = own(config.models, variant);
    if (model.grpc_location) {
        return fail(r, 400, 'invalid_request_error', 'wrong_protocol', 'the model ' + JSON.stringify(requested) +
            ' is served over gRPC: call the gateway\'s gRPC port with the metadata "' + config.grpc.model_header + '"');
    }
    if (model.task !== endpoint.task) {
        return fail(r, 400, 'invalid_request_error', 'wrong_endpoint', 'the model ' + JSON.stringify(requested) +
            (model.task === 'embed' ? ' serves embeddings: call /v1/embeddings' : ' generates text: call /v1/chat/completions or /v1/completions'));
    }
    r.variables.hx_model = requested;
    if (!withinQuota(r, caller)) {
        return;
    }
    if (route) {
        // Without a model an engine answers with the one it serves, so nginx may retry the same
        // body on another variant of the route if this one fails before answering.
        delete body.model;
    }
    const counted = countStream(endpoint, body);
    const forward = route || counted ? JSON.stringify(body) : r.requestText;
    const cached = cacheable(r, endpoint, body);
    r.variables.hx_route = route ? requested : '';
    r.variables.hx_variant = variant;
    // The variant the weights chose, which the log keeps when another answers: a canary's gate
    // counts the requests it failed even when the route's retry hid them from the client.
    r.variables.hx_picked = route ? variant : '';
    // A tenant learns which variant answered only if it may use every variant of the route.
    r.variables.hx_variant_shown = !route || mayUseVariants(caller, route) ? variant : '';
    r.variables.hx_variant_version = r.variables.hx_variant_shown ? model.version : '';
    r.variables.hx_upstream = route ? own(route.upstreams, variant) : model.location;
    r.variables.hx_body = forward;
    r.variables.hx_cache_key = cached ? caller.name + ' ' + endpoint.path + ' ' + requested + ' ' + variant + ' ' + sha256(forward) : '';
    r.variables.hx_cache_bypass = cached ? '' : '1';
    r.internalRedirect('@' + model.location + (body.stream === true ? '_stream' : ''));
}

// Usage accounting counts a stream's tokens from the usage chunk at its end, which an engine
// sends only when asked: every stream is asked, as vLLM's --enable-force-include-usage would.
// Returns whether the body changed.
function countStream(endpoint, body) {
    if (config.quota_dir === null || body.stream !== true || endpoint.task !== 'generate') {
        return false;
    }
    const options = body.stream_options;
    if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
        if (options.include_usage === true) {
            return false;
        }
        options.include_usage = true;
    } else {
        body.stream_options = {include_usage: true};
    }
    return true;
}

// GET /v1/usage, POST /v1/feedback, GET /admin/usage: hx-usage answers, told who asks
// (X-HX-Tenant, from $hx_tenant, replaces whatever the client sent).
function toUsageService(r, path) {
    r.variables.hx_usage_path = path;
    r.internalRedirect('@hx_usage');
}

function findEndpoint(method, path) {
    let key = method + ' ' + path;
    if (/^models\/[^/]+$/.test(path)) {
        key = method + ' models/{model}';
    } else if (/^\/admin\/models\/[^/]+\/metrics$/.test(path)) {
        key = method + ' /admin/models/{model}/metrics';
    }
    const endpoint = own(config.endpoints, key);
    if (endpoint !== undefined) {
        return {path: path, permission: endpoint.permission, task: endpoint.task, service: endpoint.service};
    }
    const other = method === 'GET' ? 'POST' : 'GET';
    return own(config.endpoints, other + key.slice(method.length)) !== undefined ? 'method' : null;
}

function authorizeEndpoint(r, caller, path) {
    const endpoint = findEndpoint(r.method, path);
    if (endpoint === null) {
        return fail(r, 404, 'invalid_request_error', 'unknown_path', 'unknown path ' + JSON.stringify(r.uri));
    }
    if (endpoint === 'method') {
        return fail(r, 405, 'invalid_request_error', 'method_not_allowed', r.method + ' is not allowed on ' + r.uri);
    }
    if (!permitted(caller, endpoint.permission)) {
        return fail(r, 403, 'permission_error', 'endpoint_not_allowed',
            'the role ' + caller.role + ' may not call ' + r.method + ' ' + r.uri);
    }
    return endpoint;
}

// r.uri is percent-decoded by nginx and may hold any byte but NUL, line breaks too. Bytes that
// are not UTF-8 name nothing here, and njs's regular expressions throw on them: refuse first.
function decodablePath(r) {
    try {
        return new TextDecoder('utf-8', {fatal: true}).decode(r.rawVariables.uri) !== null;
    } catch (e) {
        fail(r, 400, 'invalid_request_error', 'bad_request', 'the path is not UTF-8 once percent-decoded');
        return false;
    }
}

// location /<version>/: the OpenAI-compatible API.
function api(r) {
    if (!decodablePath(r)) {
        return;
    }
    const match = /^\/([^/]+)\/([\s\S]*?)\/?$/.exec(r.uri);
    const version = match ? own(config.versions, match[1]) : undefined;
    if (version === undefined) {
        return fail(r, 404, 'invalid_request_error', 'unknown_api_version', 'unknown API version ' +
            JSON.stringify(match ? match[1] : r.uri) + '; this gateway serves ' + Object.keys(config.versions).join(', '));
    }
    r.variables.hx_deprecation = version.deprecation || '';
    r.variables.hx_sunset = version.sunset || '';
    if (version.sunset_epoch !== null && Date.now() >= version.sunset_epoch * 1000) {
        return fail(r, 410, 'invalid_request_error', 'api_version_sunset',
            'API version ' + match[1] + ' was retired on ' + version.sunset + '; use a current version');
    }
    const caller = authenticate(r);
    if (caller === null) {
        return;
    }
    const endpoint = authorizeEndpoint(r, caller, match[2]);
    if (endpoint === null) {
        return;
    }
    if (endpoint.service === 'usage') {
        return toUsageService(r, '/v1/' + endpoint.path);
    }
    if (endpoint.path === 'models') {
        return reply(r, {object: 'list', data: visibleModels(caller).map(function (n) { return describe(caller, n); })});
    }
    if (endpoint.path.slice(0, 7) === 'models/') {
        const name = endpoint.path.slice(7);  // decoded once, by nginx: a second decoding could throw
        if (own(config.models, name) === undefined && own(config.routes, name) === undefined) {
            return fail(r, 404, 'invalid_request_error', 'model_not_found', 'the model ' + JSON.stringify(name) + ' does not exist');
        }
        if (!mayUse(caller, name)) {
            return fail(r, 403, 'permission_error', 'model_not_allowed', 'tenant ' + caller.name + ' may not use the model ' + JSON.stringify(name));
        }
        return reply(r, describe(caller, name));
    }
    infer(r, caller, endpoint);
}

// location /admin/: engine health and metrics, for admins and operators.
async function admin(r) {
    if (!decodablePath(r)) {
        return;
    }
    const caller = authenticate(r);
    if (caller === null) {
        return;
    }
    const endpoint = authorizeEndpoint(r, caller, r.uri);
    if (endpoint === null) {
        return;
    }
    if (endpoint.service === 'usage') {
        return toUsageService(r, endpoint.path);
    }
    if (endpoint.path === '/admin/status') {
        // Not reply(r, await ...): njs 0.7 mis-compiles await inside call arguments.
        const document = await status(r);
        return reply(r, document);
    }
    const name = endpoint.path.split('/')[3];
    const model = own(config.models, name);
    if (model === undefined) {
        return fail(r, 404, 'invalid_request_error', 'model_not_found', 'the model ' + JSON.stringify(name) + ' does not exist');
    }
    r.internalRedirect('/_hx/metrics/' + model.location);
}

// GET /admin/status: every engine's /health, asked at once, and nginx's connection counts.
async function status(r) {
    const names = Object.keys(config.models).sort();
    const checks = await Promise.all(names.map(function (n) {
        return r.subrequest('/_hx/health/' + config.models[n].location);
    }));
    const models = {};
    let healthy = 0;
    names.forEach(function (n, i) {
        const up = checks[i].status === 200;
        healthy += up ? 1 : 0;
        models[n] = {name: config.models[n].name, healthy: up, status: checks[i].status};
    });
    const stub = await r.subrequest('/_hx/stub_status');
    const numbers = (stub.responseText || '').match(/\d+/g) || [];
    return {
        status: healthy === names.length ? 'ok' : (healthy ? 'degraded' : 'down'),
        models: models,
        connections: {active: Number(numbers[0]), accepted: Number(numbers[1]), requests: Number(numbers[3])},
    };
}

// js_body_filter of the model locations. The body passes on unbuffered, with two fields rewritten
// so that a tenant is not told what it was not given: the engine's system_fingerprint (its name and
// version) becomes null, and a route's response names the alias instead of the variant that
// answered. The token counts of the response's "usage" (the last chunk of a stream, when the
// client asked for it) go to the access log; only the body's tail is kept for that.
const FINGERPRINT = '"system_fingerprint":"';
const MODEL = '"model":"';
const QUOTE = 0x22;
let tail = '';
let held = null;  // the end of the previous buffer, when it may begin a field cut in two

function countTokens(r, data, flags) {
    const route = r.variables.hx_route;
    const buffer = held === null ? data : Buffer.concat([held, data]);
    const parts = rewriteFields(r, buffer, route ? own(config.routes, route) : undefined, flags.last);
    const out = parts[0];
    held = parts[1];
    r.sendBuffer(out, flags);
    if (out.length === 0) {
        return;
    }
    tail = (tail + out.slice(-USAGE_TAIL_BYTES).toString()).slice(-USAGE_TAIL_BYTES);
    // Counted as soon as the usage has passed, not at the last buffer: a streaming client may
    // hang up on [DONE] before nginx reads the engine's end of response, and then no last buffer
    // comes. A later, fuller usage object (one cut across two buffers) overwrites an earlier read.
    // JSON may put spaces around the colon (an engine that pretty-prints, Python's json.dumps).
    const at = tail.lastIndexOf('"usage"');
    if (at === -1 || !USAGE_OBJECT.test(tail.slice(at, at + 32))) {
        return;
    }
    const usage = tail.slice(at);
    const prompt = /"prompt_tokens"\s*:\s*(\d+)/.exec(usage);
    const completion = /"completion_tokens"\s*:\s*(\d+)/.exec(usage);
    if (prompt) {
        r.variables.hx_prompt_tokens = prompt[1];
        r.variables.hx_completion_tokens = completion ? completion[1] : '0';
    }
}

// [bytes to send, bytes held back or null]. Works on bytes: a buffer may end inside a UTF-8
// character, and the fields are plain ASCII. A field's value is replaced by one no longer than
// itself, padded with spaces after its closing quote, so that Content-Length stays right.
function rewriteFields(r, buffer, route, last) {
    const pieces = [];
    let from = 0;
    for (;;) {
        let at = buffer.indexOf(FINGERPRINT, from);
        let key = FINGERPRINT;
        if (route !== undefined) {
            const m = buffer.indexOf(MODEL, from);
            if (m !== -1 && (at === -1 || m < at)) {
                at = m;
                key = MODEL;
            }
        }
        if (at === -1) {
            break;
        }
        const start = at + key.length;
        const end = buffer.indexOf(QUOTE, start);
        if (end === -1) {
            if (last) {
                break;
            }
            pieces.push(buffer.slice(from, at));
            return [joined(pieces), buffer.slice(at)];
        }
        const value = buffer.slice(start, end).toString();
        const replacement = key === MODEL ? aliasFor(r, route, value) : fingerprintFor(value);
        if (replacement === null) {
            pieces.push(buffer.slice(from, end + 1));
        } else {
            pieces.push(buffer.slice(from, at), Buffer.from(key.slice(0, -1) + replacement));
        }
        from = end + 1;
    }
    const cut = last ? -1 : partialField(buffer, from, route !== undefined);
    if (cut === -1) {
        pieces.push(buffer.slice(from));
        return [joined(pieces), null];
    }
    pieces.push(buffer.slice(from, cut));
    return [joined(pieces), buffer.slice(cut)];
}

function joined(pieces) {
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
}

function padded(text, length) {
    return text.length >= length ? text : text + ' '.repeat(length - text.length);
}

// The engine's "name-version-hash", which the tenant was not given: null (or "" in two bytes).
function fingerprintFor(value) {
    if (value.indexOf('\\') !== -1) {
        return null;
    }
    const length = value.length + 2;
    return padded(length >= 4 ? 'null' : '""', length);
}

// A variant's name in a route's response: the alias, which the tenant asked for. The access log
// learns which variant answered (it may be another than the one picked, after a retry).
function aliasFor(r, route, value) {
    if (!contains(variantsOf(route), value)) {
        return null;
    }
    r.variables.hx_variant = value;
    const alias = JSON.stringify(r.variables.hx_route);
    return route.resizes ? alias : padded(alias, value.length + 2);
}

// js_header_filter, rendered only when a route's alias is longer than a variant's name: its
// rewritten body is longer than the engine's Content-Length.
function dropLength(r) {
    const route = r.variables.hx_route;
    if (route && own(config.routes, route).resizes) {
        delete r.headersOut['Content-Length'];
    }
}

// Where the buffer's end may begin a field that the next buffer completes, or -1.
function partialField(buffer, from, routed) {
    const longest = (routed ? Math.max(FINGERPRINT.length, MODEL.length) : FINGERPRINT.length) - 1;
    for (let i = Math.max(from, buffer.length - longest); i < buffer.length; i++) {
        if (buffer[i] === QUOTE) {
            const text = buffer.slice(i).toString();
            if (FINGERPRINT.startsWith(text) || (routed && MODEL.startsWith(text))) {
                return i;
            }
        }
    }
    return -1;
}

// js_set $hx_cache_status: what the X-HX-Cache header and the access log report.
function cacheStatus(r) {
    if (!r.variables.hx_variant) {
        return '';
    }
    if (r.variables.hx_cache_bypass) {
        return 'BYPASS';
    }
    return r.variables.upstream_cache_status || 'MISS';
}

// js_set $hx_cache_skip: no cache entry for bypassed requests or responses above the entry limit.
function cacheSkip(r) {
    if (r.variables.hx_cache_bypass) {
        return '1';
    }
    return Number(r.variables.upstream_http_content_length || 0) > config.cache_max_entry_bytes ? '1' : '';
}

// js_set $hx_upstream_seconds: a number (summed over retries) or null, for the JSON log.
function upstreamSeconds(r) {
    const text = r.variables.upstream_response_time;
    if (!text || text === '-') {
        return 'null';
    }
    const total = text.split(/[,:]\s*/).reduce(function (sum, part) { return sum + (Number(part) || 0); }, 0);
    return total.toFixed(3);
}

// The gRPC listener (gateway.grpc). A call names its model in the metadata config.grpc.model_header
// (nginx cannot read the protobuf body) and sends its key as "authorization: Bearer <key>" metadata,
// which nginx sees as the Authorization header: the same identify(), roles and tenants' models as
// the HTTP API. Refusals are gRPC statuses in the response headers (a trailers-only answer); the
// HTTP status, which the access log records, says the same in HTTP's words.
const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_NOT_FOUND = 5;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_RESOURCE_EXHAUSTED = 8;

function grpcFail(r, httpStatus, grpcStatus, message) {
    r.headersOut['Content-Type'] = 'application/grpc';
    r.headersOut['grpc-status'] = String(grpcStatus);
    // The gRPC wire format percent-encodes the message.
    r.headersOut['grpc-message'] = encodeURIComponent(message);
    r.variables.hx_grpc_refused = String(httpStatus);
    r.return(204);
}

function grpcModels(caller) {
    return Object.keys(config.models).filter(function (n) {
        return config.models[n].grpc_location && mayUse(caller, n);
    }).sort();
}

// location / of the gRPC listener (limit_req has counted the call).
function grpc(r) {
    const who = identifyOnce(r);
    if (typeof who !== 'string') {
        return grpcFail(r, 401, GRPC_UNAUTHENTICATED, who.message);
    }
    const t = config.tenants[who];
    r.variables.hx_tenant = who;
    r.variables.hx_role = t.role;
    r.variables.hx_tier = t.tier;
    const caller = {name: who, role: t.role, models: t.models};
    if (!permitted(caller, config.grpc.permission)) {
        return grpcFail(r, 403, GRPC_PERMISSION_DENIED, 'the role ' + t.role + ' may not call models');
    }
    const header = config.grpc.model_header;
    const requested = r.headersIn[header];
    if (!requested) {
        return grpcFail(r, 400, GRPC_INVALID_ARGUMENT, 'name the model in the metadata "' + header +
            '"; this key may use: ' + grpcModels(caller).join(', '));
    }
    const model = own(config.models, requested);
    if (model === undefined || !model.grpc_location) {
        return grpcFail(r, 404, GRPC_NOT_FOUND, 'no model ' + JSON.stringify(requested) +
            ' is served over gRPC; this key may use: ' + grpcModels(caller).join(', '));
    }
    if (!mayUse(caller, requested)) {
        return grpcFail(r, 403, GRPC_PERMISSION_DENIED, 'tenant ' + who + ' may not use the model ' + JSON.stringify(requested));
    }
    r.variables.hx_model = requested;
    r.variables.hx_variant = requested;
    if (!grpcWithinQuota(r, who)) {
        return;
    }
    r.internalRedirect('@' + model.grpc_location);
}

function grpcWithinQuota(r, name) {
    const limit = config.tenants[name].daily_tokens;
    if (limit === null || limit === undefined) {
        return true;
    }
    const quota = quotaOf(name, limit);
    if (quota.used < limit) {
        return true;
    }
    r.variables.hx_quota = 'exceeded';
    grpcFail(r, 429, GRPC_RESOURCE_EXHAUSTED, 'tenant ' + name + ' has used its daily quota of ' + limit + ' tokens');
    return false;
}

// js_body_filter of the gRPC model locations: the body passes unchanged; the token counts of the
// VllmEngine's GenerateResponse messages go to the access log ($hx_prompt_tokens and
// $hx_completion_tokens), as countTokens does for the HTTP API. A message is a gRPC frame (a
// flag byte, a 4-byte length, the protobuf); frames may be cut across buffers, so the unread
// rest is kept. Streamed chunks carry counts so far, the final GenerateComplete the totals.
let grpcPending = null;

function grpcCountTokens(r, data, flags) {
    r.sendBuffer(data, flags);
    let buffer = grpcPending === null ? data : Buffer.concat([grpcPending, data]);
    while (buffer.length >= 5) {
        const length = buffer.readUInt32BE(1);
        if (buffer.length < 5 + length) {
            break;
        }
        if (buffer[0] === 0) {  // compressed messages are not read
            grpcCount(r, buffer.slice(5, 5 + length));
        }
        buffer = buffer.slice(5 + length);
    }
    grpcPending = buffer.length ? buffer : null;
}

// GenerateResponse: chunk = 1 (prompt_tokens 2, completion_tokens 3), complete = 2 (prompt_tokens
// 3, completion_tokens 4), in vllm_engine.proto of smg-grpc-proto.
function grpcCount(r, message) {
    const outer = protoFields(message);
    const chunk = outer[1] !== undefined;
    const inner = chunk ? outer[1] : outer[2];
    if (!(inner instanceof Buffer)) {
        return;
    }
    const fields = protoFields(inner);
    const prompt = fields[chunk ? 2 : 3] || 0;
    const completion = fields[chunk ? 3 : 4] || 0;
    r.variables.hx_prompt_tokens = String(prompt);
    r.variables.hx_completion_tokens = String(completion);
}

// The last value of each field number of a protobuf message: varints as numbers, length-delimited
// fields as buffers; other wire types are skipped. Malformed input ends the reading.
function protoFields(buffer) {
    const fields = {};
    let at = 0;
    function varint() {
        let value = 0;
        let scale = 1;
        while (at < buffer.length) {
            const b = buffer[at++];
            value += (b & 0x7f) * scale;
            if (b < 0x80) {
                return value;
            }
            scale *= 128;
        }
        return null;
    }
    while (at < buffer.length) {
        const key = varint();
        if (key === null) {
            break;
        }
        const field = Math.floor(key / 8);
        const type = key % 8;
        if (type === 0) {
            fields[field] = varint();
        } else if (type === 2) {
            const length = varint();
            if (length === null || at + length > buffer.length) {
                break;
            }
            fields[field] = buffer.slice(at, at + length);
            at += length;
        } else if (type === 1 || type === 5) {
            at += type === 1 ? 8 : 4;
        } else {
            break;
        }
    }
    return fields;
}

// js_content on the loopback status server: the route weights this generation of workers loaded,
// which a rollout step is verified against before it is reported (hxgen.control.rollout).
function liveWeights(r) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify(weights === null ? {} : weights) + '\n');
}

export default {
    api, admin, unauthenticated, keySha256, caller, callerTier, callerRole, callerKeyId, countTokens, dropLength, cacheStatus,
    cacheSkip, upstreamSeconds, grpc, grpcCountTokens, liveWeights,
};
