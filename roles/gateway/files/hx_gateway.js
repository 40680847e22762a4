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
// njs evaluates this module afresh for every request, so module-level state is per request,
// and anything built here is paid for on every request: keep it small.
import crypto from 'crypto';

const config = hx_config;  // the global that js_preload_object defines

// Arrays in a preloaded object have no prototype methods of their own (njs 0.7): borrow them.
function contains(list, item) {
    return Array.prototype.indexOf.call(list, item) !== -1;
}

function variantsOf(route) {
    return Array.prototype.map.call(route.split, function (v) { return v[0]; });
}

const USAGE_TAIL_BYTES = 4096;

function sha256(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

function fail(r, status, type, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {message: message, type: type, code: code}}) + '\n');
    return null;
}

function reply(r, document) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify(document) + '\n');
}

// js_set $hx_key_sha256: the map in nginx.conf turns it into "tenant expires id".
function keySha256(r) {
    const header = r.headersIn.Authorization;
    if (header === undefined || header.slice(0, 7) !== 'Bearer ') {
        return '';
    }
    return sha256(header.slice(7));
}

function commonName(dn) {
    const match = /(?:^|,)CN=([^,]+)/.exec(dn || '');
    return match ? match[1] : null;
}

// Returns {name, role, tier, models} of the caller, or null after answering 401.
function authenticate(r) {
    const header = r.headersIn.Authorization;
    if (header === undefined) {
        if (r.variables.ssl_client_verify === 'SUCCESS') {
            const cn = commonName(r.variables.ssl_client_s_dn);
            const name = config.client_certificates[cn];
            if (name !== undefined) {
                return tenant(r, name, 'certificate');
            }
            return fail(r, 401, 'authentication_error', 'unknown_client_certificate',
                'no tenant accepts the client certificate ' + JSON.stringify(cn));
        }
        return fail(r, 401, 'authentication_error', 'missing_api_key',
            'missing API key: send the header "Authorization: Bearer <key>"');
    }
    if (!/^Bearer \S+$/.test(header)) {
        return fail(r, 401, 'authentication_error', 'invalid_api_key',
            'malformed Authorization header: expected "Bearer <key>"');
    }
    const entry = r.variables.hx_key_entry;
    if (!entry) {
        return fail(r, 401, 'authentication_error', 'invalid_api_key', 'invalid API key');
    }
    const fields = entry.split(' ');  // tenant, expiry date or '-', key id
    if (fields[1] !== '-' && Date.now() >= Date.parse(fields[1] + 'T00:00:00Z')) {
        return fail(r, 401, 'authentication_error', 'expired_api_key',
            'API key ' + fields[2] + ' expired on ' + fields[1] + '; ask for a new one');
    }
    return tenant(r, fields[0], 'key ' + fields[2]);
}

function tenant(r, name, credential) {
    const t = config.tenants[name];
    if (t === undefined) {
        return fail(r, 401, 'authentication_error', 'invalid_api_key',
            'the ' + credential + ' belongs to no configured tenant');
    }
    r.variables.hx_tenant = name;
    r.variables.hx_role = t.role;
    r.variables.hx_tier = t.tier;
    return {name: name, role: t.role, models: t.models};
}

function permitted(caller, permission) {
    return contains(config.permissions[caller.role], permission);
}

function mayUse(caller, name) {
    return caller.models === '*' || contains(caller.models, name);
}

function visibleModels(caller) {
    const names = Object.keys(config.models).concat(Object.keys(config.routes));
    return names.filter(function (name) { return mayUse(caller, name); }).sort();
}

function describe(name) {
    const route = config.routes[name];
    const names = route ? variantsOf(route) : [name];
    const lengths = names.map(function (n) { return config.models[n].max_model_len; });
    const model = {id: name, object: 'model', created: 0, owned_by: 'hx', max_model_len: Math.min.apply(null, lengths)};
    if (route) {
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
    const draw = route.sticky === 'tenant' ? bucket(caller.name + '\n' + alias) : Math.floor(Math.random() * 100);
    for (let i = 0; i < route.split.length; i++) {
        if (draw < route.split[i][1]) {
            return route.split[i][0];
        }
    }
    return route.split[route.split.length - 1][0];
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
    const route = config.routes[requested];
    if (route === undefined && config.models[requested] === undefined) {
        return fail(r, 404, 'invalid_request_error', 'model_not_found',
            'the model ' + JSON.stringify(requested) + ' does not exist; this key may use: ' +
            visibleModels(caller).join(', '));
    }
    if (!mayUse(caller, requested)) {
        return fail(r, 403, 'permission_error', 'model_not_allowed',
            'tenant ' + caller.name + ' may not use the model ' + JSON.stringify(requested));
    }
    const variant = route ? pickVariant(route, requested, caller) : requested;
    const model = config.models[variant];
    if (model.task !== endpoint.task) {
        return fail(r, 400, 'invalid_request_error', 'wrong_endpoint', 'the model ' + JSON.stringify(requested) +
            (model.task === 'embed' ? ' serves embeddings: call /v1/embeddings' : ' generates text: call /v1/chat/completions or /v1/completions'));
    }
    if (route) {
        body.model = variant;  // the engine knows its served name, not the alias
    }
    const forward = route ? JSON.stringify(body) : r.requestText;
    const cached = cacheable(r, endpoint, body);
    r.variables.hx_model = requested;
    r.variables.hx_route = route ? requested : '';
    r.variables.hx_variant = variant;
    r.variables.hx_body = forward;
    r.variables.hx_cache_key = cached ? caller.name + ' ' + endpoint.path + ' ' + sha256(forward) : '';
    r.variables.hx_cache_bypass = cached ? '' : '1';
    r.internalRedirect('@' + model.location + (body.stream === true ? '_stream' : ''));
}

function findEndpoint(method, path) {
    let key = method + ' ' + path;
    if (/^models\/[^/]+$/.test(path)) {
        key = method + ' models/{model}';
    } else if (/^\/admin\/models\/[^/]+\/metrics$/.test(path)) {
        key = method + ' /admin/models/{model}/metrics';
    }
    const endpoint = config.endpoints[key];
    if (endpoint !== undefined) {
        return {path: path, permission: endpoint.permission, task: endpoint.task};
    }
    const other = method === 'GET' ? 'POST' : 'GET';
    return config.endpoints[key.replace(method, other)] !== undefined ? 'method' : null;
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

// location /<version>/: the OpenAI-compatible API.
function api(r) {
    const match = /^\/([^/]+)\/(.*?)\/?$/.exec(r.uri);
    const version = config.versions[match[1]];
    if (version === undefined) {
        return fail(r, 404, 'invalid_request_error', 'unknown_api_version', 'unknown API version ' +
            JSON.stringify(match[1]) + '; this gateway serves ' + Object.keys(config.versions).join(', '));
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
    if (endpoint.path === 'models') {
        return reply(r, {object: 'list', data: visibleModels(caller).map(describe)});
    }
    if (endpoint.path.slice(0, 7) === 'models/') {
        const name = decodeURIComponent(endpoint.path.slice(7));
        if (config.models[name] === undefined && config.routes[name] === undefined) {
            return fail(r, 404, 'invalid_request_error', 'model_not_found', 'the model ' + JSON.stringify(name) + ' does not exist');
        }
        if (!mayUse(caller, name)) {
            return fail(r, 403, 'permission_error', 'model_not_allowed', 'tenant ' + caller.name + ' may not use the model ' + JSON.stringify(name));
        }
        return reply(r, describe(name));
    }
    infer(r, caller, endpoint);
}

// location /admin/: engine health and metrics, for admins and operators.
async function admin(r) {
    const caller = authenticate(r);
    if (caller === null) {
        return;
    }
    const endpoint = authorizeEndpoint(r, caller, r.uri);
    if (endpoint === null) {
        return;
    }
    if (endpoint.path === '/admin/status') {
        // Not reply(r, await ...): njs 0.7 mis-compiles await inside call arguments.
        const document = await status(r);
        return reply(r, document);
    }
    const name = decodeURIComponent(endpoint.path.split('/')[3]);
    const model = config.models[name];
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

// js_body_filter of the model locations: the token counts of the response's "usage" (the last
// chunk of a stream, when the client asked for it) go to the access log. The body passes on
// unchanged and unbuffered; only its tail is kept.
let tail = '';

function countTokens(r, data, flags) {
    r.sendBuffer(data, flags);
    tail = (tail + data.slice(-USAGE_TAIL_BYTES).toString()).slice(-USAGE_TAIL_BYTES);
    if (!flags.last) {
        return;
    }
    const at = tail.lastIndexOf('"usage":{');
    if (at === -1) {
        return;
    }
    const usage = tail.slice(at);
    const prompt = /"prompt_tokens":(\d+)/.exec(usage);
    const completion = /"completion_tokens":(\d+)/.exec(usage);
    if (prompt) {
        r.variables.hx_prompt_tokens = prompt[1];
        r.variables.hx_completion_tokens = completion ? completion[1] : '0';
    }
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

export default {api, admin, keySha256, countTokens, cacheStatus, cacheSkip, upstreamSeconds};
