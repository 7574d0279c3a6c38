/* exec_stamp: the "script" of dispatch_bench's latency run. Its first instructions read
 * the wall clock and write it (8 bytes, nanoseconds since the Unix epoch) to ./stamp, before
 * any C library start-up runs: so the stamp is the moment the script was exec'd.
 * x86-64 Linux only (raw system calls, no libc). */
typedef long i64;

static i64 sys(i64 n, i64 a, i64 b, i64 c) {
  i64 ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

void _start(void) {
  struct {
    i64 sec, nsec;
  } now;
  sys(228 /* clock_gettime */, 0 /* CLOCK_REALTIME */, (i64)&now, 0);
  i64 ns = now.sec * 1000000000L + now.nsec;
  i64 fd = sys(2 /* open */, (i64) "stamp", 01 | 0100 | 01000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0644);
  if (fd >= 0) sys(1 /* write */, fd, (i64)&ns, 8);
  sys(60 /* exit */, fd >= 0 ? 0 : 1, 0, 0);
}
