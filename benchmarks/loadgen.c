/*
 * loadgen: a constant-rate (open-loop) HTTP/1.1 load generator with microsecond timing.
 *
 *   cc -O2 -o loadgen loadgen.c -lssl -lcrypto
 *   ./loadgen -u 127.0.0.1:8080 -r 1000 -d 10 -w 1
 *   ./loadgen -u 127.0.0.1:8443 -r 1000 -s -C ca.crt      # HTTPS, the certificate verified
 *
 * Request i is due at t0 + i/rate whatever happened to earlier requests (open loop). Its latency
 * is measured from that *scheduled* time to the last byte of the response, so time a request
 * spends waiting for a free connection, or because the generator woke up late, is counted
 * (coordinated-omission correction). The latency from the actual first write is reported too, as
 * "service_latency_us".
 *
 * Latency percentiles cover the 2xx responses to requests due after the warm-up; everything
 * else is counted by kind: non-2xx status, connect (refused, or dropped before any response
 * byte), timeout (no full response within -t of the scheduled time), malformed (unparsable or
 * truncated response). "generator.dispatch_lag_us" is how late requests were handed to a
 * connection, i.e. the generator's own timing error, which is part of "latency_us".
 *
 * Single-threaded: one epoll loop drives a pool of keep-alive connections, one request in flight
 * per connection (no pipelining). With -s the connections speak TLS (OpenSSL, non-blocking, on
 * the same loop): the handshake happens when a connection opens, and a failed one counts as a
 * connect error; new connections resume the last session, as browsers do. Plain connections
 * never touch OpenSSL. Between sends it sleeps in epoll_pwait2() (nanosecond timeout),
 * or with a timerfd on kernels or C libraries without it, so it costs little CPU.
 *
 * Prints one JSON object on stdout; diagnostics go to stderr; exit status 2 on bad usage or
 * setup failure. Only IPv4 loopback targets are accepted: this is a benchmark tool, not a
 * traffic generator for other hosts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* glibc wraps epoll_pwait2 from 2.35 on; elsewhere fall back to a timerfd. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_EPOLL_PWAIT2 1
#endif

#define NS_PER_S 1000000000LL
#define RBUF_SIZE 16384 /* longest status/header/chunk-size line we accept */
#define MAX_EVENTS 256
#define TIMER_TAG UINT64_MAX /* epoll tag of the timerfd; connections are tagged by slot */
#define MAX_STATUS 600
#define MAX_REQUESTS 100000000LL /* keeps the per-request arrays under ~2.4 GB */

enum err_kind { E_STATUS, E_CONNECT, E_TIMEOUT, E_MALFORMED, E_KINDS };

enum conn_state {
    C_FREE,       /* no socket */
    C_CONNECTING, /* connect() in progress, request assigned */
    C_HANDSHAKE,  /* TLS handshake in progress, request assigned */
    C_IDLE,       /* connected, no request */
    C_BUSY,       /* connected, request being written or response being read */
};

enum parse_state {
    P_STATUS,
    P_HEADER,
    P_BODY_LEN,   /* Content-Length body */
    P_BODY_EOF,   /* body delimited by the server closing the connection */
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_END,  /* CRLF after chunk data */
    P_TRAILER,
    P_DONE,
};

enum parse_result { R_MALFORMED = -1, R_MORE = 0, R_DONE = 1 };

struct config {
    struct sockaddr_in addr;
    const char *hostport;
    double rate, duration, warmup;
    int max_conns;
    const char *method, *path, *body_file;
    const char **headers;
    int nheaders;
    int64_t timeout_ns;
    bool force_timerfd, realtime;
    bool tls;
    const char *ca_file; /* verify the server against it (name: localhost); NULL: no verification */
};

struct conn {
    int fd;
    enum conn_state state;
    bool want_out;     /* EPOLLOUT currently in the interest set */
    SSL *ssl;          /* NULL on plain connections */
    bool write_wants_read; /* SSL_write asked to wait for readability */
    unsigned served;   /* responses completed; > 0 means a reused keep-alive connection */
    int64_t req;       /* request in flight, -1 if none */
    bool is_retry;     /* this request already failed once on a stale connection */
    int64_t deadline;  /* scheduled time + timeout */
    int64_t sent_at;   /* first write of the request */
    size_t woff;       /* request bytes written so far */
    bool got_bytes;    /* any response byte received for this request */
    /* response parser */
    enum parse_state ps;
    int status, minor;
    bool has_len, chunked, te_other, conn_close, conn_keepalive;
    uint64_t remaining;
    char *buf;
    size_t len, pos;
};

struct stats {
    int64_t sent, completed, errors[E_KINDS], retries, conns_opened;
    int64_t handshakes, resumed; /* completed TLS handshakes, and how many resumed a session */
    int64_t status_counts[MAX_STATUS];
    int64_t *lat, *svc, nlat; /* ns, 2xx responses of measured requests */
    int64_t *lag, nlag;       /* ns, dispatch time minus scheduled time */
    int64_t last_done;        /* completion time of the last measured response */
};

struct gen {
    struct config cfg;
    char *req;
    size_t req_len;
    bool is_head, idempotent;
    int ep, tfd;
    bool use_pwait2, realtime;
    struct conn *conns;
    SSL_CTX *tls;
    SSL_SESSION *session; /* the newest session the server gave us, offered by new connections */
    bool tls_error_said;
    int *idle, nidle;     /* LIFO: the hottest connections get reused */
    int *free_slots, nfree;
    int hi_slot;          /* slots >= hi_slot have never been used */
    int64_t *retry;       /* ring of requests to resend on a fresh connection */
    int rhead, rcount;
    int64_t t0, t_end, warm_n, total_n, next_req, nbusy;
    double interval_ns;
    struct stats st;
};

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory");
    return p;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------------ */
/* Command line                                                                               */

static void usage(FILE *f) {
    fputs("usage: loadgen -u HOST:PORT -r RATE [-d SECONDS] [-w WARMUP_SECONDS] [-c MAX_CONNECTIONS]\n"
          "               [-m METHOD] [-p PATH] [-H 'Name: value']... [-b BODYFILE] [-t TIMEOUT_MS] [-R] [-T]\n"
          "               [-s [-C CAFILE]]\n"
          "  -u  target, IPv4 loopback only (127.0.0.0/8 or localhost)\n"
          "  -r  requests per second, sent on a fixed schedule (open loop)\n"
          "  -d  measured duration in seconds (default 10)\n"
          "  -w  warm-up seconds before it: requests sent but not recorded (default 1)\n"
          "  -c  keep-alive connection pool size (default 64)\n"
          "  -m  method (default GET); -p path (default /); -H extra header, repeatable\n"
          "  -b  file whose contents are sent as the request body (sets Content-Length)\n"
          "  -t  per-request timeout in ms, counted from the scheduled send time (default 5000)\n"
          "  -R  run as SCHED_FIFO (needs root/CAP_SYS_NICE): on a busy machine, ordinary\n"
          "      scheduling can wake the generator milliseconds late; that shows up as latency\n"
          "  -T  time sends with a timerfd even if epoll_pwait2 is available (tests the fallback)\n"
          "  -s  HTTPS (TLS 1.2 or 1.3, SNI localhost); the certificate is not verified unless -C\n"
          "  -C  verify the server's certificate against this CA file, for the name localhost\n",
          f);
}

static double parse_num(const char *s, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v != v) die("invalid %s: '%s'", what, s);
    return v;
}

static void parse_target(struct config *cfg, const char *arg) {
    const char *colon = strrchr(arg, ':');
    char host[64];
    size_t hlen = colon ? (size_t)(colon - arg) : 0;
    if (!colon || hlen == 0 || hlen >= sizeof host) die("-u wants HOST:PORT, got '%s'", arg);
    memcpy(host, arg, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");

    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) die("-u: '%s' is not an IPv4 address", host);
    if ((ntohl(a.s_addr) >> 24) != 127) die("-u: only loopback targets (127.0.0.0/8) are allowed");
    double port = parse_num(colon + 1, "port");
    if (port < 1 || port > 65535 || port != (int)port) die("-u: bad port '%s'", colon + 1);

    cfg->addr.sin_family = AF_INET;
    cfg->addr.sin_addr = a;
    cfg->addr.sin_port = htons((uint16_t)port);
    cfg->hostport = arg;
}

/* Rejects anything that would let an argument inject extra header lines into the request. */
static void check_no_crlf(const char *s, const char *what) {
    if (strpbrk(s, "\r\n")) die("%s must not contain CR or LF", what);
}

static bool has_header(const struct config *cfg, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < cfg->nheaders; i++)
        if (strncasecmp(cfg->headers[i], name, n) == 0 && cfg->headers[i][n] == ':') return true;
    return false;
}

static void parse_args(struct config *cfg, int argc, char **argv) {
    *cfg = (struct config){
        .duration = 10, .warmup = 1, .max_conns = 64, .method = "GET", .path = "/",
        .timeout_ns = 5000 * 1000000LL,
    };
    cfg->headers = xcalloc((size_t)argc, sizeof *cfg->headers);
    bool have_target = false;
    double conns = 64;
    int opt;
    while ((opt = getopt(argc, argv, "u:r:d:w:c:m:p:H:b:t:RTsC:h")) != -1) {
        switch (opt) {
        case 'u': parse_target(cfg, optarg); have_target = true; break;
        case 'r': cfg->rate = parse_num(optarg, "rate"); break;
        case 'd': cfg->duration = parse_num(optarg, "duration"); break;
        case 'w': cfg->warmup = parse_num(optarg, "warm-up"); break;
        case 'c': conns = parse_num(optarg, "connections"); break;
        case 'm': cfg->method = optarg; break;
        case 'p': cfg->path = optarg; break;
        case 'H':
            if (!strchr(optarg, ':')) die("-H wants 'Name: value', got '%s'", optarg);
            cfg->headers[cfg->nheaders++] = optarg;
            break;
        case 'b': cfg->body_file = optarg; break;
        case 't': cfg->timeout_ns = (int64_t)(parse_num(optarg, "timeout") * 1e6); break;
        case 'R': cfg->realtime = true; break;
        case 'T': cfg->force_timerfd = true; break;
        case 's': cfg->tls = true; break;
        case 'C': cfg->ca_file = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) die("unexpected argument '%s'", argv[optind]);
    /* The body's framing is ours to state; a second one would make the request ambiguous. */
    if (has_header(cfg, "content-length") || has_header(cfg, "transfer-encoding"))
        die("-H must not set Content-Length or Transfer-Encoding (use -b for a body)");
    if (!have_target) die("-u HOST:PORT is required");
    if (cfg->ca_file && !cfg->tls) die("-C needs -s");
    if (!(cfg->rate > 0)) die("-r RATE must be > 0");
    if (!(cfg->duration > 0) || cfg->warmup < 0) die("-d must be > 0 and -w >= 0");
    if (!(conns >= 1 && conns <= 100000)) die("-c must be in 1..100000");
    cfg->max_conns = (int)conns;
    if (cfg->timeout_ns < 1000000) die("-t must be >= 1 ms");
    if (strpbrk(cfg->method, " \t\r\n") || !*cfg->method) die("bad method '%s'", cfg->method);
    if (cfg->path[0] != '/' || strpbrk(cfg->path, " \t\r\n")) die("path must start with '/' and have no spaces");
    for (int i = 0; i < cfg->nheaders; i++) check_no_crlf(cfg->headers[i], "-H");
}

/* ------------------------------------------------------------------------------------------ */
/* Setup                                                                                      */

static char *read_file(const char *name, size_t *len) {
    FILE *f = fopen(name, "rb");
    if (!f) die("cannot open %s: %s", name, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = xcalloc(cap, 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && !(buf = realloc(buf, cap *= 2))) die("out of memory");
    }
    if (ferror(f)) die("cannot read %s", name);
    fclose(f);
    *len = n;
    return buf;
}

/* Every request is the same bytes, so they are built once and written from one buffer. */
static void build_request(struct gen *g) {
    const struct config *cfg = &g->cfg;
    size_t body_len = 0;
    char *body = cfg->body_file ? read_file(cfg->body_file, &body_len) : NULL;
    FILE *f = open_memstream(&g->req, &g->req_len);
    if (!f) die("open_memstream: %s", strerror(errno));
    fprintf(f, "%s %s HTTP/1.1\r\n", cfg->method, cfg->path);
    if (!has_header(cfg, "host")) fprintf(f, "Host: %s\r\n", cfg->hostport);
    for (int i = 0; i < cfg->nheaders; i++) fprintf(f, "%s\r\n", cfg->headers[i]);
    if (body) fprintf(f, "Content-Length: %zu\r\n", body_len);
    fputs("\r\n", f);
    if (body) fwrite(body, 1, body_len, f);
    if (fclose(f) != 0) die("building the request failed");
    free(body);
    g->is_head = strcmp(cfg->method, "HEAD") == 0;
    static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof idempotent / sizeof *idempotent; i++)
        if (strcmp(cfg->method, idempotent[i]) == 0) g->idempotent = true;
}

/* Each connection needs a descriptor; raise the soft limit rather than fail half-way. */
static void raise_fd_limit(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need) return;
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)need)
        die("-c %d needs %d descriptors, the limit is %ld", need - 16, need, (long)rl.rlim_cur);
}

static void use_timerfd(struct gen *g) {
    g->use_pwait2 = false;
    g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g->tfd < 0) die("timerfd_create: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->tfd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

/* New sessions are kept so that a connection opened later resumes one instead of a full handshake. */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
    struct gen *g = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (g->session) SSL_SESSION_free(g->session);
    g->session = session;
    return 1; /* we keep the reference */
}

static void setup_tls(struct gen *g) {
    const struct config *cfg = &g->cfg;
    g->tls = SSL_CTX_new(TLS_client_method());
    if (!g->tls) die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(g->tls, TLS1_2_VERSION);
    /* A server closing a keep-alive connection without close_notify is an EOF, not an error. */
    SSL_CTX_set_options(g->tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_app_data(g->tls, g);
    SSL_CTX_set_session_cache_mode(g->tls, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(g->tls, on_new_session);
    if (cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(g->tls, cfg->ca_file, NULL) != 1) die("cannot load CA file %s", cfg->ca_file);
        SSL_CTX_set_verify(g->tls, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(g->tls, SSL_VERIFY_NONE, NULL);
    }
}

static void setup(struct gen *g) {
    const struct config *cfg = &g->cfg;
    signal(SIGPIPE, SIG_IGN); /* a peer reset must be an error count, not our death */
    /* The kernel may fire a sleeping task's timers up to "timer slack" (50 us by default) late to
       batch wake-ups; every microsecond of that would show up as latency. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    raise_fd_limit(cfg->max_conns + 16);
    if (cfg->realtime) {
        /* Lowest real-time priority is enough to preempt every normal task; the loop sleeps
           between events, so it cannot starve the machine. */
        struct sched_param sp = {.sched_priority = 1};
        g->realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
        if (!g->realtime) fprintf(stderr, "loadgen: warning: SCHED_FIFO refused (%s)\n", strerror(errno));
    }

    g->warm_n = (int64_t)(cfg->warmup * cfg->rate + 0.5);
    int64_t meas_n = (int64_t)(cfg->duration * cfg->rate + 0.5);
    if (meas_n < 1) die("-d x -r gives no request to measure");
    if (meas_n > MAX_REQUESTS || g->warm_n > MAX_REQUESTS) die("-d x -r or -w x -r is too large");
    g->total_n = g->warm_n + meas_n;
    g->interval_ns = 1e9 / cfg->rate;

    g->st.lat = xcalloc((size_t)meas_n, sizeof(int64_t));
    g->st.svc = xcalloc((size_t)meas_n, sizeof(int64_t));
    g->st.lag = xcalloc((size_t)meas_n, sizeof(int64_t));
    g->conns = xcalloc((size_t)cfg->max_conns, sizeof *g->conns);
    g->idle = xcalloc((size_t)cfg->max_conns, sizeof(int));
    g->free_slots = xcalloc((size_t)cfg->max_conns, sizeof(int));
    g->retry = xcalloc((size_t)cfg->max_conns, sizeof(int64_t));
    /* Push slots in reverse so slot 0 is used first and hi_slot stays small. */
    for (int i = cfg->max_conns - 1; i >= 0; i--) {
        g->conns[i] = (struct conn){.fd = -1, .req = -1};
        g->free_slots[g->nfree++] = i;
    }

    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (g->ep < 0) die("epoll_create1: %s", strerror(errno));
    g->tfd = -1;
#ifdef HAVE_EPOLL_PWAIT2
    g->use_pwait2 = !cfg->force_timerfd;
#endif
    if (!g->use_pwait2) use_timerfd(g);
    if (cfg->tls) setup_tls(g);
}

/* ------------------------------------------------------------------------------------------ */
/* Bookkeeping                                                                                */

static int64_t sched_ns(const struct gen *g, int64_t i) {
    /* Computed from i each time instead of accumulated, so rounding never drifts the rate. */
    return g->t0 + (int64_t)((double)i * g->interval_ns);
}

static bool measured(const struct gen *g, int64_t req) { return req >= g->warm_n; }

static void count_error(struct gen *g, int64_t req, enum err_kind kind) {
    if (measured(g, req)) g->st.errors[kind]++;
}

static void end_request(struct gen *g, struct conn *c) {
    c->req = -1;
    g->nbusy--;
}

static void remove_idle(struct gen *g, int slot) {
    for (int i = 0; i < g->nidle; i++) {
        if (g->idle[i] == slot) {
            memmove(&g->idle[i], &g->idle[i + 1], (size_t)(g->nidle - i - 1) * sizeof(int));
            g->nidle--;
            return;
        }
    }
}

static void conn_close(struct gen *g, struct conn *c) {
    int slot = (int)(c - g->conns);
    if (c->state == C_IDLE) remove_idle(g, slot);
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: the benchmark is over or the connection is broken */
        c->ssl = NULL;
        ERR_clear_error();
    }
    close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    c->state = C_FREE;
    c->len = c->pos = 0;
    g->free_slots[g->nfree++] = slot;
}

static void set_out(struct gen *g, struct conn *c, bool on) {
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u64 = (uint64_t)(c - g->conns)};
    if (epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    c->want_out = on;
}

/* Fails the request in flight on c and drops the connection. */
static void conn_fail(struct gen *g, struct conn *c, enum err_kind kind) {
    count_error(g, c->req, kind);
    end_request(g, c);
    conn_close(g, c);
}

/* The connection died under a request. A keep-alive connection may have been closed by the
   server just as we reused it; like browsers, resend once on a fresh connection in that case,
   if the method is idempotent (the server may have acted on the first copy). */
static void conn_broken(struct gen *g, struct conn *c) {
    if (g->idempotent && c->served > 0 && !c->got_bytes && !c->is_retry) {
        int tail = (g->rhead + g->rcount++) % g->cfg.max_conns;
        g->retry[tail] = c->req;
        g->st.retries++;
        end_request(g, c);
        conn_close(g, c);
        return;
    }
    conn_fail(g, c, c->got_bytes ? E_MALFORMED : E_CONNECT);
}

/* ------------------------------------------------------------------------------------------ */
/* Response parser: incremental, works on whatever recv() returned                            */

/* Case-insensitive search for tok in a comma-separated header value. */
static bool has_token(const char *v, size_t n, const char *tok, bool last_only) {
    size_t tlen = strlen(tok);
    bool found = false;
    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t item = comma ? (size_t)(comma - v) : n;
        const char *s = v, *e = v + item;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        bool match = (size_t)(e - s) == tlen && strncasecmp(s, tok, tlen) == 0;
        if (match && !last_only) return true;
        found = match; /* with last_only, only the final token counts */
        if (!comma) break;
        n -= item + 1;
        v = comma + 1;
    }
    return found;
}

static int parse_status_line(struct conn *c, const char *l, size_t n) {
    /* "HTTP/1.x SSS[ reason]" */
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return -1;
    if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9') return -1;
    if (n > 12 && l[12] != ' ') return -1;
    c->minor = l[7] - '0';
    c->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    c->has_len = c->chunked = c->te_other = c->conn_close = c->conn_keepalive = false;
    c->ps = P_HEADER;
    return 0;
}

static int parse_content_length(struct conn *c, const char *v, size_t n) {
    uint64_t len = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || len > (UINT64_MAX - 9) / 10) return -1;
        len = len * 10 + (uint64_t)(v[i] - '0');
    }
    if (c->has_len && c->remaining != len) return -1; /* conflicting lengths: smuggling territory */
    c->has_len = true;
    c->remaining = len;
    return 0;
}

static int parse_header(struct conn *c, const char *l, size_t n) {
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l) return -1;
    size_t nlen = (size_t)(colon - l);
    if (memchr(l, ' ', nlen) || memchr(l, '\t', nlen)) return -1; /* RFC 9112: no space before ':' */
    const char *v = colon + 1, *e = l + n;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t vlen = (size_t)(e - v);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(l, name, nlen) == 0)
    if (IS("content-length")) return parse_content_length(c, v, vlen);
    if (IS("transfer-encoding")) {
        /* Only a final "chunked" delimits the body; any other coding means "until close". */
        if (has_token(v, vlen, "chunked", true)) c->chunked = true;
        else c->te_other = true;
    } else if (IS("connection")) {
        if (has_token(v, vlen, "close", false)) c->conn_close = true;
        if (has_token(v, vlen, "keep-alive", false)) c->conn_keepalive = true;
    }
#undef IS
    return 0;
}

static int end_of_headers(struct gen *g, struct conn *c) {
    if (c->minor == 0 && !c->conn_keepalive) c->conn_close = true; /* HTTP/1.0 default */
    if (c->status < 200) {
        if (c->status == 101) return -1; /* we never ask to switch protocols */
        c->ps = P_STATUS;                /* interim response (100 Continue...): the real one follows */
        return 0;
    }
    if (g->is_head || c->status == 204 || c->status == 304) {
        c->ps = P_DONE;
    } else if (c->chunked) {
        c->ps = P_CHUNK_SIZE; /* chunked wins over Content-Length (RFC 9112 6.3) */
    } else if (c->te_other || !c->has_len) {
        c->ps = P_BODY_EOF;
        c->conn_close = true;
    } else {
        c->ps = c->remaining ? P_BODY_LEN : P_DONE;
    }
    return 0;
}

static int parse_chunk_size(struct conn *c, const char *l, size_t n) {
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char ch = l[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) break;
        if (size > (UINT64_MAX >> 4)) return -1;
        size = size * 16 + (uint64_t)d;
    }
    if (i == 0 || (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t')) return -1; /* ext may follow */
    c->remaining = size;
    c->ps = size ? P_CHUNK_DATA : P_TRAILER;
    return 0;
}

static int handle_line(struct gen *g, struct conn *c, const char *l, size_t n) {
    switch (c->ps) {
    case P_STATUS:
        return n == 0 ? 0 : parse_status_line(c, l, n); /* tolerate stray CRLF before it */
    case P_HEADER:
        return n == 0 ? end_of_headers(g, c) : parse_header(c, l, n);
    case P_CHUNK_SIZE:
        return parse_chunk_size(c, l, n);
    case P_CHUNK_END:
        if (n != 0) return -1;
        c->ps = P_CHUNK_SIZE;
        return 0;
    case P_TRAILER:
        if (n == 0) c->ps = P_DONE;
        return 0;
    default:
        return -1;
    }
}

/* Next CRLF- (or bare LF-) terminated line: 1 found, 0 need more bytes, -1 line too long. */
static int next_line(struct conn *c, const char **line, size_t *n) {
    char *start = c->buf + c->pos;
    char *nl = memchr(start, '\n', c->len - c->pos);
    if (!nl) {
        /* Keep the partial line, at the start of the buffer so the next recv() can extend it. */
        memmove(c->buf, start, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
        return c->len == RBUF_SIZE ? -1 : 0;
    }
    *line = start;
    *n = (size_t)(nl - start);
    if (*n > 0 && start[*n - 1] == '\r') (*n)--;
    c->pos = (size_t)(nl + 1 - c->buf);
    return 1;
}

static enum parse_result parse(struct gen *g, struct conn *c) {
    for (;;) {
        size_t avail = c->len - c->pos;
        if (c->ps == P_DONE) return R_DONE;
        if (c->ps == P_BODY_LEN || c->ps == P_CHUNK_DATA || c->ps == P_BODY_EOF) {
            /* Body bytes are only counted, never copied. */
            size_t take = c->ps == P_BODY_EOF || avail < c->remaining ? avail : (size_t)c->remaining;
            c->pos += take;
            if (c->ps != P_BODY_EOF) c->remaining -= take;
            if (c->pos == c->len) c->pos = c->len = 0;
            if (c->ps == P_BODY_EOF || c->remaining > 0) return R_MORE;
            c->ps = c->ps == P_BODY_LEN ? P_DONE : P_CHUNK_END;
            continue;
        }
        const char *line;
        size_t n;
        int r = next_line(c, &line, &n);
        if (r <= 0) return r < 0 ? R_MALFORMED : R_MORE;
        if (handle_line(g, c, line, n) < 0) return R_MALFORMED;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Connections and requests                                                                   */

static int conn_open(struct gen *g, struct conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    /* Without it Nagle's algorithm can hold a request's last segment back for an ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(fd, (const struct sockaddr *)&g->cfg.addr, sizeof g->cfg.addr);
    if (r < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(c - g->conns)};
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    if (!c->buf) c->buf = xcalloc(RBUF_SIZE, 1);
    c->fd = fd;
    c->want_out = true;
    c->served = 0;
    c->len = c->pos = 0;
    c->write_wants_read = false;
    /* A TLS connection starts its handshake from on_connect_ready, even if connect() finished. */
    c->state = r == 0 && !g->tls ? C_IDLE : C_CONNECTING;
    g->st.conns_opened++;
    int slot = (int)(c - g->conns);
    if (slot >= g->hi_slot) g->hi_slot = slot + 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* TLS: the same state machine, with OpenSSL's WANT_READ/WANT_WRITE deciding what to wait for  */

static void try_write(struct gen *g, struct conn *c);

/* The first failure is explained on stderr (a bad CA file or name would fail every handshake). */
static void tls_error(struct gen *g, const char *what, SSL *ssl) {
    if (!g->tls_error_said) {
        unsigned long e = ERR_peek_error();
        char buf[256] = "connection closed";
        if (e) ERR_error_string_n(e, buf, sizeof buf);
        long v = SSL_get_verify_result(ssl);
        fprintf(stderr, "loadgen: %s failed: %s%s%s (further failures are only counted)\n", what, buf,
                v != X509_V_OK ? "; certificate: " : "", v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        g->tls_error_said = true;
    }
    ERR_clear_error();
}

static void handshake(struct gen *g, struct conn *c) {
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        g->st.handshakes++;
        if (SSL_session_reused(c->ssl)) g->st.resumed++;
        c->state = C_BUSY;
        try_write(g, c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) set_out(g, c, false);
    else if (e == SSL_ERROR_WANT_WRITE) set_out(g, c, true);
    else {
        tls_error(g, "TLS handshake", c->ssl);
        conn_fail(g, c, E_CONNECT);
    }
}

static void tls_start(struct gen *g, struct conn *c) {
    SSL *ssl = SSL_new(g->tls);
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) die("SSL_new failed");
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (g->cfg.ca_file && SSL_set1_host(ssl, "localhost") != 1) die("SSL_set1_host failed");
    if (g->session) SSL_set_session(ssl, g->session);
    c->ssl = ssl;
    c->state = C_HANDSHAKE;
    handshake(g, c);
}

static void tls_write(struct gen *g, struct conn *c) {
    while (c->woff < g->req_len) {
        /* A retried SSL_write gets the same buffer and length, as OpenSSL requires. */
        int n = SSL_write(c->ssl, g->req + c->woff, (int)(g->req_len - c->woff));
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        c->write_wants_read = e == SSL_ERROR_WANT_READ;
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            set_out(g, c, e == SSL_ERROR_WANT_WRITE);
            return;
        }
        ERR_clear_error();
        conn_broken(g, c);
        return;
    }
    c->write_wants_read = false;
    set_out(g, c, false);
}

/* recv() for either kind of connection: > 0 bytes, 0 EOF, -1 with errno (EAGAIN: try later). */
static ssize_t conn_recv(struct conn *c, char *buf, size_t len) {
    if (!c->ssl) return recv(c->fd, buf, len, 0);
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0) return n;
    int e = SSL_get_error(c->ssl, n);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    /* WANT_READ also follows records that carry no data (TLS 1.3 session tickets). */
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
    return -1;
}

static void try_write(struct gen *g, struct conn *c) {
    if (c->woff == 0 && c->sent_at == 0) {
        c->sent_at = now_ns();
        if (!c->is_retry && measured(g, c->req)) g->st.sent++;
    }
    if (c->ssl) {
        tls_write(g, c);
        return;
    }
    while (c->woff < g->req_len) {
        ssize_t n = send(c->fd, g->req + c->woff, g->req_len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(g, c, true);
            return;
        } else {
            conn_broken(g, c);
            return;
        }
    }
    set_out(g, c, false);
}

static void assign(struct gen *g, struct conn *c, int64_t req, bool is_retry, int64_t now) {
    int64_t due = sched_ns(g, req);
    c->req = req;
    c->is_retry = is_retry;
    c->deadline = due + g->cfg.timeout_ns;
    c->sent_at = 0;
    c->woff = 0;
    c->got_bytes = false;
    c->ps = P_STATUS;
    g->nbusy++;
    if (!is_retry && measured(g, req)) g->st.lag[g->st.nlag++] = now - due;
    if (c->state == C_IDLE) {
        c->state = C_BUSY;
        try_write(g, c);
    }
}

static void finish_response(struct gen *g, struct conn *c, int64_t t) {
    int64_t req = c->req;
    if (measured(g, req)) {
        struct stats *st = &g->st;
        st->completed++;
        st->status_counts[c->status]++;
        st->last_done = t;
        if (c->status >= 200 && c->status < 300) {
            st->lat[st->nlat] = t - sched_ns(g, req);
            st->svc[st->nlat++] = t - c->sent_at;
        } else {
            st->errors[E_STATUS]++;
        }
    }
    c->served++;
    end_request(g, c);
    /* Extra bytes after a complete response would be a protocol error (we never pipeline), and a
       response that came before the request was fully written leaves the stream out of sync. */
    bool reusable = !c->conn_close && c->pos == c->len && c->woff == g->req_len;
    if (!reusable) {
        conn_close(g, c);
        return;
    }
    c->state = C_IDLE;
    c->len = c->pos = 0;
    g->idle[g->nidle++] = (int)(c - g->conns);
}

static void read_once(struct gen *g, struct conn *c) {
    if (c->state == C_IDLE) {
        /* Nothing is expected on an idle connection: it is the server closing it (EOF) or junk. */
        char junk[256];
        ssize_t n = conn_recv(c, junk, sizeof junk);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(g, c);
        return;
    }
    ssize_t n = conn_recv(c, c->buf + c->len, RBUF_SIZE - c->len);
    int64_t t = now_ns(); /* right after the bytes arrived: the response's last byte time */
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) conn_broken(g, c);
        return;
    }
    if (n == 0) {
        if (c->ps == P_BODY_EOF) finish_response(g, c, t);
        else conn_broken(g, c);
        return;
    }
    c->got_bytes = true;
    c->len += (size_t)n;
    enum parse_result r = parse(g, c);
    if (r == R_MALFORMED) conn_fail(g, c, E_MALFORMED);
    else if (r == R_DONE) finish_response(g, c, t);
}

static void on_readable(struct gen *g, struct conn *c) {
    /* OpenSSL may hold decrypted bytes that epoll cannot announce: read them before sleeping. */
    do read_once(g, c);
    while (c->ssl && c->state == C_BUSY && SSL_pending(c->ssl) > 0);
}

static void on_connect_ready(struct gen *g, struct conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        conn_fail(g, c, E_CONNECT);
        return;
    }
    if (g->tls) {
        tls_start(g, c);
        return;
    }
    c->state = C_BUSY;
    try_write(g, c);
}

static void on_event(struct gen *g, const struct epoll_event *ev) {
    if (ev->data.u64 == TIMER_TAG) {
        uint64_t expirations;
        if (read(g->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd read");
        return;
    }
    struct conn *c = &g->conns[ev->data.u64];
    uint32_t e = ev->events;
    if (c->state == C_CONNECTING) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connect_ready(g, c);
        return;
    }
    if (c->state == C_HANDSHAKE) {
        handshake(g, c);
        return;
    }
    bool writable = (e & EPOLLOUT) || (c->write_wants_read && (e & EPOLLIN));
    if (c->state == C_BUSY && writable && c->woff < g->req_len) try_write(g, c);
    if ((c->state == C_BUSY || c->state == C_IDLE) && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(g, c);
}

/* ------------------------------------------------------------------------------------------ */
/* Scheduling                                                                                 */

/* Hands every due request to a connection: an idle one, else a new one while the pool has room.
   Returns true when due requests are left waiting because the pool is exhausted. */
static bool dispatch(struct gen *g, int64_t now) {
    for (;;) {
        bool is_retry = g->rcount > 0;
        int64_t req;
        if (is_retry) req = g->retry[g->rhead];
        else if (g->next_req < g->total_n && sched_ns(g, g->next_req) <= now) req = g->next_req;
        else return false;

        struct conn *c = NULL;
        bool expired = sched_ns(g, req) + g->cfg.timeout_ns <= now;
        if (!expired) {
            if (g->nidle > 0) c = &g->conns[g->idle[--g->nidle]];
            else if (g->nfree > 0) c = &g->conns[g->free_slots[--g->nfree]];
            else return true;
        }
        if (is_retry) {
            g->rhead = (g->rhead + 1) % g->cfg.max_conns;
            g->rcount--;
        } else {
            g->next_req++;
        }
        if (expired) {
            count_error(g, req, E_TIMEOUT); /* timed out while queued for a connection */
        } else if (c->state == C_FREE && conn_open(g, c) < 0) {
            g->free_slots[g->nfree++] = (int)(c - g->conns);
            count_error(g, req, E_CONNECT);
        } else {
            assign(g, c, req, is_retry, now);
        }
    }
}

/* Fails requests past their deadline; returns the earliest deadline still pending (or -1). */
static int64_t expire(struct gen *g, int64_t now) {
    int64_t earliest = -1;
    for (int i = 0; i < g->hi_slot; i++) {
        struct conn *c = &g->conns[i];
        if (c->req < 0) continue;
        if (c->deadline <= now) conn_fail(g, c, E_TIMEOUT);
        else if (earliest < 0 || c->deadline < earliest) earliest = c->deadline;
    }
    return earliest;
}

static int64_t min_time(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

/* When to wake up next if no socket event comes first. */
static int64_t next_wake(const struct gen *g, bool blocked, int64_t earliest_deadline) {
    int64_t w = earliest_deadline;
    if (g->rcount > 0) {
        w = min_time(w, sched_ns(g, g->retry[g->rhead]) + g->cfg.timeout_ns);
    } else if (g->next_req < g->total_n) {
        /* While blocked, waking at the (past) send time would spin; only its timeout matters. */
        int64_t due = sched_ns(g, g->next_req);
        w = min_time(w, blocked ? due + g->cfg.timeout_ns : due);
    }
    return w;
}

static int wait_events(struct gen *g, struct epoll_event *evs, int64_t wake) {
#ifdef HAVE_EPOLL_PWAIT2
    if (g->use_pwait2) {
        struct timespec ts, *tp = NULL;
        if (wake >= 0) {
            int64_t d = wake - now_ns();
            if (d < 0) d = 0;
            ts = (struct timespec){.tv_sec = d / NS_PER_S, .tv_nsec = d % NS_PER_S};
            tp = &ts;
        }
        int n = epoll_pwait2(g->ep, evs, MAX_EVENTS, tp, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        use_timerfd(g); /* kernel older than 5.11 */
    }
#endif
    /* Absolute expiry: a timerfd set in the past fires at once, so no time is lost computing it. */
    struct itimerspec its = {0};
    if (wake >= 0) its.it_value = (struct timespec){.tv_sec = wake / NS_PER_S, .tv_nsec = wake % NS_PER_S};
    if (timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime: %s", strerror(errno));
    return epoll_wait(g->ep, evs, MAX_EVENTS, -1);
}

static void run(struct gen *g) {
    struct epoll_event evs[MAX_EVENTS];
    g->t0 = now_ns();
    for (;;) {
        int64_t now = now_ns();
        expire(g, now);
        bool blocked = dispatch(g, now);
        int64_t earliest = expire(g, now); /* again: dispatch added deadlines */
        if (g->next_req >= g->total_n && g->rcount == 0 && g->nbusy == 0) break;
        int n = wait_events(g, evs, next_wake(g, blocked, earliest));
        if (n < 0 && errno != EINTR) die("epoll wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) on_event(g, &evs[i]);
    }
    g->t_end = now_ns();
    for (int i = 0; i < g->hi_slot; i++)
        if (g->conns[i].state != C_FREE) conn_close(g, &g->conns[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* Report                                                                                     */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v: the smallest value with at least q of the samples at or
   below it. q is in units of 1/10000. */
static double pct_us(const int64_t *v, int64_t n, int64_t q) {
    int64_t rank = (q * n + 9999) / 10000;
    return (double)v[rank > 0 ? rank - 1 : 0] / 1000.0;
}

static void print_dist(const char *name, int64_t *v, int64_t n, bool full) {
    printf("\"%s\": {", name);
    if (n == 0) {
        printf(full ? "\"p50\": null, \"p90\": null, \"p99\": null, \"p999\": null, \"max\": null, \"mean\": null}"
                    : "\"p50\": null, \"p99\": null, \"max\": null}");
        return;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)v[i];
    if (full)
        printf("\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f, \"mean\": %.1f}",
               pct_us(v, n, 5000), pct_us(v, n, 9000), pct_us(v, n, 9900), pct_us(v, n, 9990),
               (double)v[n - 1] / 1000.0, sum / (double)n / 1000.0);
    else
        printf("\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}", pct_us(v, n, 5000), pct_us(v, n, 9900),
               (double)v[n - 1] / 1000.0);
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void report(struct gen *g) {
    const struct stats *st = &g->st;
    const struct config *cfg = &g->cfg;
    int64_t errs = 0;
    for (int k = 0; k < E_KINDS; k++) errs += st->errors[k];
    /* Responses per second over the window, stretched if the last response came after its end:
       equal to the rate only if everything completed and the server kept up. */
    double window = cfg->duration;
    double span = st->completed ? (double)(st->last_done - sched_ns(g, g->warm_n)) / 1e9 : 0;
    double achieved = (double)st->completed / (span > window ? span : window);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_user = tv_s(ru.ru_utime), cpu_sys = tv_s(ru.ru_stime);
    double wall = (double)(g->t_end - g->t0) / 1e9;

    printf("{\"rate\": %.6g, \"duration_s\": %.6g, \"warmup_s\": %.6g, ", cfg->rate, cfg->duration, cfg->warmup);
    printf("\"sent\": %lld, \"completed\": %lld, ", (long long)st->sent, (long long)st->completed);
    printf("\"errors\": {\"status_non_2xx\": %lld, \"connect\": %lld, \"timeout\": %lld, \"malformed\": %lld}, ",
           (long long)st->errors[E_STATUS], (long long)st->errors[E_CONNECT], (long long)st->errors[E_TIMEOUT],
           (long long)st->errors[E_MALFORMED]);
    printf("\"error_total\": %lld, \"achieved_rate\": %.3f, ", (long long)errs, achieved);
    print_dist("latency_us", st->lat, st->nlat, true);
    printf(", ");
    print_dist("service_latency_us", st->svc, st->nlat, true);
    printf(", \"status_counts\": {");
    const char *sep = "";
    for (int s = 0; s < MAX_STATUS; s++) {
        if (!st->status_counts[s]) continue;
        printf("%s\"%d\": %lld", sep, s, (long long)st->status_counts[s]);
        sep = ", ";
    }
    printf("}, \"generator\": {\"timer\": \"%s\", \"realtime\": %s, ", g->use_pwait2 ? "epoll_pwait2" : "timerfd",
           g->realtime ? "true" : "false");
    print_dist("dispatch_lag_us", g->st.lag, st->nlag, false);
    printf(", \"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"cpu_pct\": %.2f, ", cpu_user, cpu_sys,
           wall > 0 ? 100 * (cpu_user + cpu_sys) / wall : 0.0);
    printf("\"wall_s\": %.3f, \"connections_opened\": %lld, \"retries\": %lld, ", wall,
           (long long)st->conns_opened, (long long)st->retries);
    printf("\"tls\": %s, \"tls_handshakes\": %lld, \"tls_resumed\": %lld}}\n", cfg->tls ? "true" : "false",
           (long long)st->handshakes, (long long)st->resumed);
}

int main(int argc, char **argv) {
    static struct gen g;
    parse_args(&g.cfg, argc, argv);
    build_request(&g);
    setup(&g);
    run(&g);
    report(&g);
    return 0;
}
