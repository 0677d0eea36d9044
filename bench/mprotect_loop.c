// The watched process for the overhead, storm and latency benchmarks. One page, flipped in a
// loop; every mode prints one JSON line at the end (nothing is printed while timing).
//   mprotect_loop match N [SECONDS]     RW→RX→RW pairs: each pair is one W→X transition (TRC-104)
//   mprotect_loop rate RATE SECONDS     RW→RX→RW pairs at RATE per second, paced every 1 ms
//   mprotect_loop nomatch N [SECONDS]   RW→R→RW pairs: the same calls without EXEC (no alert)
//   mprotect_loop latency N INTERVAL_MS one RW→RX→RW pair every INTERVAL_MS; prints the
//                                       CLOCK_MONOTONIC ns taken right before each RX call
//   mprotect_loop getppid N             N getppid calls: what any system call pays
//   mprotect_loop mmap N                N mmap+munmap pairs of one RW page: what the mmap lock's
//                                       users pay (the tracepoint mode hooks that lock)
//   mprotect_loop spawn N               N fork+exec+wait of /bin/true: a new image's mappings,
//                                       its loader's mprotects, its exit (a shell-script workload)
// With SECONDS > 0 the loop runs for that long instead of N pairs.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "mprotect_loop: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void flip(void *p, long page, int middle) {
  if (mprotect(p, page, middle) || mprotect(p, page, PROT_READ | PROT_WRITE)) die("mprotect");
}

static int loop(const char *mode, void *p, long page, long pairs, double seconds) {
  int middle = !strcmp(mode, "match") ? PROT_READ | PROT_EXEC : PROT_READ;
  uint64_t start = mono_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
  long done = 0;
  if (seconds > 0) {
    /* Check the clock every 256 pairs: its cost stays out of the per-call figure. */
    while (now < end) {
      for (int i = 0; i < 256; i++) flip(p, page, middle);
      done += 256;
      now = mono_ns();
    }
  } else {
    for (; done < pairs; done++) flip(p, page, middle);
    now = mono_ns();
  }
  double ns = (double)(now - start);
  long calls = 2 * done;
  printf("{\"mode\":\"%s\",\"pid\":%d,\"pairs\":%ld,\"calls\":%ld,\"transitions\":%ld,\"seconds\":%.6f,"
         "\"nsPerCall\":%.2f}\n",
         mode, getpid(), done, calls, middle & PROT_EXEC ? done : 0L, ns / 1e9, calls ? ns / (double)calls : 0.0);
  return 0;
}

/* A fixed rate: the pairs due by now, every millisecond, so a burst never exceeds one ms's
 * worth. Falls behind (and says so in "pairs") only if the machine cannot keep the rate. */
static int rate(void *p, long page, long per_sec, double seconds) {
  uint64_t start = mono_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
  long done = 0;
  struct timespec tick = {0, 1000000L};
  while (now < end) {
    long due = (long)((double)(now - start) * (double)per_sec / 1e9);
    for (; done < due; done++) flip(p, page, PROT_READ | PROT_EXEC);
    nanosleep(&tick, NULL);
    now = mono_ns();
  }
  printf("{\"mode\":\"rate\",\"pid\":%d,\"pairs\":%ld,\"transitions\":%ld,\"seconds\":%.6f}\n", getpid(), done,
         done, (double)(now - start) / 1e9);
  return 0;
}

/* The latency probe: few transitions, far apart, each stamped just before its syscall. The
 * reader compares with process.hrtime.bigint(), which is CLOCK_MONOTONIC as well. */
static int latency(void *p, long page, long count, long interval_ms) {
  uint64_t *sent = calloc((size_t)count, sizeof *sent);
  if (!sent) die("calloc");
  struct timespec gap = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
  for (long i = 0; i < count; i++) {
    nanosleep(&gap, NULL);
    sent[i] = mono_ns();
    flip(p, page, PROT_READ | PROT_EXEC);
  }
  printf("{\"mode\":\"latency\",\"pid\":%d,\"transitions\":%ld,\"sentMonoNs\":[", getpid(), count);
  for (long i = 0; i < count; i++) printf("%s\"%llu\"", i ? "," : "", (unsigned long long)sent[i]);
  printf("]}\n");
  free(sent);
  return 0;
}

/* Calls unrelated to W→X, timed: the cost a sensor adds to the rest of the host. */
static int unrelated(const char *mode, long page, long n) {
  uint64_t start = mono_ns();
  for (long i = 0; i < n; i++) {
    if (!strcmp(mode, "getppid")) {
      getppid();
    } else if (!strcmp(mode, "spawn")) {
      int status;
      pid_t child = fork();
      if (child < 0) die("fork");
      if (child == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
      }
      if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) die("/bin/true");
    } else {
      void *q = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (q == MAP_FAILED || munmap(q, page)) die("mmap/munmap");
    }
  }
  double ns = (double)(mono_ns() - start);
  printf("{\"mode\":\"%s\",\"pid\":%d,\"calls\":%ld,\"nsPerCall\":%.2f}\n", mode, getpid(), n, n ? ns / (double)n : 0.0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mprotect_loop match|nomatch N [SECONDS] | mprotect_loop latency N INTERVAL_MS\n");
    return 2;
  }
  const char *mode = argv[1];
  long n = atol(argv[2]);
  long page = sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  ((volatile char *)p)[0] = 1; /* fault the page in before timing */

  if (!strcmp(mode, "match") || !strcmp(mode, "nomatch")) return loop(mode, p, page, n, argc > 3 ? atof(argv[3]) : 0);
  if (!strcmp(mode, "rate")) return rate(p, page, n, argc > 3 ? atof(argv[3]) : 1);
  if (!strcmp(mode, "latency")) return latency(p, page, n, argc > 3 ? atol(argv[3]) : 10);
  if (!strcmp(mode, "getppid") || !strcmp(mode, "mmap") || !strcmp(mode, "spawn")) return unrelated(mode, page, n);
  fprintf(stderr, "mprotect_loop: unknown mode %s\n", mode);
  return 2;
}
