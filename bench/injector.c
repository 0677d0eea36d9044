// Drives bench/injector.bpf.c: fills a ring buffer with real wx_record records at full speed.
//   injector sensor SECONDS [MAP_ID]      fill a running sensor's ring ("wx_events"); without
//                                         MAP_ID, the highest-id map of that name
//   injector baseline SECONDS [BYTES]     fill a ring of our own (8 MiB default) and drain it
//                                         with a plain libbpf consumer thread: the C ceiling
// Prints one JSON line and exits 0; exits 2 with a message on stderr when something fails.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "injector_bpf.skel.h"

#define RECORDS_PER_RUN 4096
#define SENSOR_RING_NAME "wx_events"
/* When a run finds the ring full, sleep this long before the next: the ring stays full (a
 * consumer drains far less than a full ring in this time) while the injector stops taking a
 * whole core from the consumer it is measuring on this two-core machine. */
#define FULL_BACKOFF_NS 50000L

static void die(const char *what, int err) {
  fprintf(stderr, "injector: %s: %s\n", what, strerror(err < 0 ? -err : err));
  exit(2);
}

/* CLOCK_MONOTONIC, the clock of Node's process.hrtime.bigint(): the reader can tell which of
 * its arrivals fall inside the injection window. */
static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct window {
  uint64_t start_ns, end_ns;
};

/* An fd for ring map `id`, checked to be a ring buffer. */
static int ring_fd_by_id(uint32_t id) {
  int fd = bpf_map_get_fd_by_id(id);
  if (fd < 0) die("bpf_map_get_fd_by_id", errno);
  struct bpf_map_info info = {0};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len)) die("bpf_obj_get_info_by_fd", errno);
  if (info.type != BPF_MAP_TYPE_RINGBUF) {
    fprintf(stderr, "injector: map %u is not a ring buffer\n", id);
    exit(2);
  }
  return fd;
}

/* The highest map id named "wx_events": the most recently started sensor. */
static uint32_t find_sensor_ring(void) {
  uint32_t id = 0, best = 0;
  while (!bpf_map_get_next_id(id, &id)) {
    int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue; /* freed meanwhile */
    struct bpf_map_info info = {0};
    uint32_t len = sizeof info;
    if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_RINGBUF &&
        !strcmp(info.name, SENSOR_RING_NAME) && id > best)
      best = id;
    close(fd);
  }
  if (!best) {
    fprintf(stderr, "injector: no ring buffer map named %s (is a sensor running?)\n", SENSOR_RING_NAME);
    exit(2);
  }
  return best;
}

/* Opens the injector with its ring replaced by ring_fd, and loads it. */
static struct injector_bpf *open_injector(int ring_fd, uint32_t corrupt_every) {
  struct injector_bpf *skel = injector_bpf__open();
  if (!skel) die("open", errno);
  skel->rodata->per_run = RECORDS_PER_RUN;
  skel->rodata->corrupt_every = corrupt_every;
  int err = bpf_map__reuse_fd(skel->maps.ring, ring_fd);
  if (err) die("bpf_map__reuse_fd", err);
  skel->rodata->wakeup_bytes = bpf_map__max_entries(skel->maps.ring) / 4; /* the reused ring's size */
  err = injector_bpf__load(skel);
  if (err) die("load", err);
  return skel;
}

/* Runs the program back to back for `seconds`; returns when it started and stopped. */
static struct window inject_for(struct injector_bpf *skel, double seconds) {
  int prog_fd = bpf_program__fd(skel->progs.inject);
  const struct timespec backoff = {0, FULL_BACKOFF_NS};
  struct window w = {mono_ns(), 0};
  uint64_t end = w.start_ns + (uint64_t)(seconds * 1e9), t = w.start_ns;
  while (t < end) {
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    uint64_t failed_before = skel->bss->failed;
    if (bpf_prog_test_run_opts(prog_fd, &opts)) die("bpf_prog_test_run_opts", errno);
    if (skel->bss->failed != failed_before) nanosleep(&backoff, NULL);
    t = mono_ns();
  }
  w.end_ns = t;
  return w;
}

static double window_s(struct window w) { return (double)(w.end_ns - w.start_ns) / 1e9; }

static int run_sensor(double seconds, uint32_t map_id, uint32_t corrupt_every) {
  if (!map_id) map_id = find_sensor_ring();
  int ring_fd = ring_fd_by_id(map_id);
  struct injector_bpf *skel = open_injector(ring_fd, corrupt_every);
  struct window w = inject_for(skel, seconds);
  /* 64-bit stamps as strings: JSON numbers lose precision above 2^53. */
  printf("{\"injected\":%llu,\"corrupted\":%llu,\"failed\":%llu,\"seconds\":%.6f,\"mapId\":%u,\"startMonoNs\":\"%llu\","
         "\"endMonoNs\":\"%llu\"}\n",
         (unsigned long long)skel->bss->injected, (unsigned long long)skel->bss->corrupted,
         (unsigned long long)skel->bss->failed, window_s(w), map_id,
         (unsigned long long)w.start_ns, (unsigned long long)w.end_ns);
  injector_bpf__destroy(skel);
  close(ring_fd);
  return 0;
}

/* --- baseline: the same load drained by the simplest C consumer --- */

struct consumer {
  struct ring_buffer *rb;
  uint64_t consumed; /* written by the consumer thread only */
  int stop;
};

static int count_record(void *ctx, void *data, size_t size) {
  (void)data;
  (void)size;
  struct consumer *c = ctx;
  __atomic_store_n(&c->consumed, c->consumed + 1, __ATOMIC_RELAXED);
  return 0;
}

static void *consume(void *arg) {
  struct consumer *c = arg;
  while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
    /* 1 ms, the sensor's default drain interval: records arrive without wakeups. */
    int n = ring_buffer__poll(c->rb, 1);
    if (n < 0 && n != -EINTR) die("ring_buffer__poll", n);
  }
  return NULL;
}

static int run_baseline(double seconds, uint32_t ring_bytes) {
  int ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bench_ring", 0, 0, ring_bytes, NULL);
  if (ring_fd < 0) die("bpf_map_create", errno);
  struct injector_bpf *skel = open_injector(ring_fd, 0);
  struct consumer c = {0};
  c.rb = ring_buffer__new(ring_fd, count_record, &c, NULL);
  if (!c.rb) die("ring_buffer__new", errno);
  pthread_t thread;
  if (pthread_create(&thread, NULL, consume, &c)) die("pthread_create", errno);

  struct window w = inject_for(skel, seconds);
  /* The figure is what the consumer took during the injection window, not the backlog after. */
  uint64_t consumed = __atomic_load_n(&c.consumed, __ATOMIC_RELAXED);
  __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
  pthread_join(thread, NULL);

  printf("{\"injected\":%llu,\"failed\":%llu,\"consumed\":%llu,\"seconds\":%.6f,\"ringBytes\":%u}\n",
         (unsigned long long)skel->bss->injected, (unsigned long long)skel->bss->failed,
         (unsigned long long)consumed, window_s(w), ring_bytes);
  ring_buffer__free(c.rb);
  injector_bpf__destroy(skel);
  close(ring_fd);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: injector sensor SECONDS [MAP_ID [CORRUPT_EVERY]] | injector baseline SECONDS [RING_BYTES]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  double seconds = strtod(argv[2], NULL);
  if (!(seconds > 0)) usage();
  if (!strcmp(argv[1], "sensor"))
    return run_sensor(seconds, argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0,
                      argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0);
  if (!strcmp(argv[1], "baseline")) {
    uint32_t bytes = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 8u << 20;
    return run_baseline(seconds, bytes);
  }
  usage();
  return 2;
}
