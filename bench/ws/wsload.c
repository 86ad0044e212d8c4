/*
 * The WebSocket load client of `npm run bench` (wrk has no WebSocket). C, one thread, epoll:
 * per message it costs a fraction of what any server it measures does, so the servers, not the
 * client, set the pace (the bench prints the client's CPU share to show it).
 *
 * Speaks just enough RFC 6455: one binary frame is encoded once (masked with a zero key, which
 * servers accept and which leaves the payload as it is) and written again and again; replies are
 * only counted: frame headers are parsed to find message boundaries, payloads are skipped.
 *
 *   echo:   N connections, each with one message in flight: send, wait for its echo, send again.
 *           Counts round trips.
 *   fanout: S subscribers and one publisher; the publisher stays at most W messages ahead of
 *           the average subscriber (deliveries / S). Counts deliveries.
 *
 *   wsload HOST PORT HOSTHEADER PATH MODE CONNS SUBS SIZE WINDOW DURATION_S WARMUP_S
 * prints "measuring" when the measured window starts, then at its end
 * {"mode":..,"ops":..,"seconds":..,"perSecond":..,"cpuSeconds":..}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  int role; /* 0 echo, 1 subscriber, 2 publisher */
  uint64_t skip; /* payload bytes of the current frame still to come */
  unsigned char head[14];
  int headLen;
} Conn;

static unsigned char *frame;
static size_t frameLen;
static int measuring = 0;
static uint64_t ops = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpuSeconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "wsload: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void writeAll(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue; /* rare: the socket buffer is full */
      die("write");
    }
    p += w;
    n -= (size_t)w;
  }
}

static void buildFrame(size_t n) {
  size_t lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  frameLen = 2 + lenBytes + 4 + n;
  frame = calloc(frameLen, 1); /* zeroed: the mask key */
  frame[0] = 0x82;
  if (lenBytes == 0) frame[1] = 0x80 | (unsigned char)n;
  else if (lenBytes == 2) {
    frame[1] = 0x80 | 126;
    frame[2] = (unsigned char)(n >> 8);
    frame[3] = (unsigned char)n;
  } else {
    frame[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) frame[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
  }
  memset(frame + 2 + lenBytes + 4, 'a', n);
}

/* Connects and upgrades; returns the fd, left blocking until the handshake is read. */
static int openWs(const char *host, int port, const char *hostHeader, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, hostHeader);
  writeAll(fd, (unsigned char *)req, (size_t)n);
  /* Read the 101 head byte by byte: nothing may be read past it (frames follow). */
  char resp[4096];
  size_t got = 0;
  while (got < sizeof resp - 1) {
    ssize_t r = read(fd, resp + got, 1);
    if (r <= 0) die("handshake read");
    got++;
    if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0) break;
  }
  resp[got] = 0;
  if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
    fprintf(stderr, "wsload: upgrade refused: %.80s\n", resp);
    exit(1);
  }
  return fd;
}

/* Counts whole frames in what was read; headers may be split across reads. */
static int countFrames(Conn *c, const unsigned char *p, size_t n) {
  int frames = 0;
  size_t i = 0;
  for (;;) {
    if (c->skip > 0) {
      size_t take = c->skip < n - i ? (size_t)c->skip : n - i;
      c->skip -= take;
      i += take;
      if (c->skip > 0) return frames;
      frames++;
    }
    if (i >= n) return frames;
    while (c->headLen < 2 && i < n) c->head[c->headLen++] = p[i++];
    if (c->headLen < 2) return frames;
    int len7 = c->head[1] & 0x7f;
    int need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    while (c->headLen < need && i < n) c->head[c->headLen++] = p[i++];
    if (c->headLen < need) return frames;
    uint64_t len = (uint64_t)len7;
    if (need == 4) len = ((uint64_t)c->head[2] << 8) | c->head[3];
    else if (need == 10) {
      len = 0;
      for (int k = 0; k < 8; k++) len = (len << 8) | c->head[2 + k];
    }
    c->headLen = 0;
    if (len == 0) frames++;
    else c->skip = len;
  }
}

int main(int argc, char **argv) {
  if (argc != 12) {
    fprintf(stderr, "usage: wsload HOST PORT HOSTHEADER PATH MODE CONNS SUBS SIZE WINDOW DURATION_S WARMUP_S\n");
    return 2;
  }
  const char *host = argv[1], *hostHeader = argv[3], *path = argv[4], *mode = argv[5];
  int port = atoi(argv[2]), conns = atoi(argv[6]), subs = atoi(argv[7]);
  size_t size = (size_t)atol(argv[8]);
  int window = atoi(argv[9]);
  double duration = atof(argv[10]), warmup = atof(argv[11]);
  int fanout = strcmp(mode, "fanout") == 0;
  buildFrame(size);

  int total = fanout ? subs + 1 : conns;
  Conn *cs = calloc((size_t)total, sizeof(Conn));
  char sub[1024], pub[1024];
  const char *sep = strchr(path, '?') ? "&" : "?";
  snprintf(sub, sizeof sub, "%s%srole=sub", path, sep);
  snprintf(pub, sizeof pub, "%s%srole=pub", path, sep);
  int ep = epoll_create1(0);
  for (int i = 0; i < total; i++) {
    Conn *c = &cs[i];
    c->role = !fanout ? 0 : i < subs ? 1 : 2;
    c->fd = openWs(host, port, hostHeader, c->role == 0 ? path : c->role == 1 ? sub : pub);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
  Conn *publisher = fanout ? &cs[subs] : NULL;
  uint64_t sent = 0, delivered = 0;
  if (fanout) {
    for (int k = 0; k < window; k++, sent++) writeAll(publisher->fd, frame, frameLen);
  } else {
    for (int i = 0; i < total; i++) writeAll(cs[i].fd, frame, frameLen);
  }

  static unsigned char buf[1 << 16];
  struct epoll_event evs[256];
  double start = now(), measureAt = start + warmup, endAt = measureAt + duration, t0 = 0, cpu0 = 0;
  for (;;) {
    double t = now();
    if (!measuring && t >= measureAt) {
      measuring = 1;
      t0 = t;
      cpu0 = cpuSeconds();
      printf("measuring\n"); /* the bench samples the server's CPU now, and again at the end */
      fflush(stdout);
    }
    if (t >= endAt) break;
    int n = epoll_wait(ep, evs, 256, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      Conn *c = evs[e].data.ptr;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        fprintf(stderr, "wsload: a connection closed\n");
        return 1;
      }
      int f = countFrames(c, buf, (size_t)r);
      if (c->role == 0) {
        for (int k = 0; k < f; k++) writeAll(c->fd, frame, frameLen);
        if (measuring) ops += (uint64_t)f;
      } else if (c->role == 1) {
        delivered += (uint64_t)f;
        if (measuring) ops += (uint64_t)f;
      }
    }
    if (fanout) {
      while (sent - delivered / (uint64_t)subs < (uint64_t)window) {
        writeAll(publisher->fd, frame, frameLen);
        sent++;
      }
    }
  }
  double seconds = now() - t0;
  printf("{\"mode\":\"%s\",\"ops\":%llu,\"seconds\":%.4f,\"perSecond\":%.1f,\"cpuSeconds\":%.4f}\n", mode, (unsigned long long)ops, seconds,
         (double)ops / seconds, cpuSeconds() - cpu0);
  return 0;
}
