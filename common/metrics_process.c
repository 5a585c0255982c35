/* metrics_process.c — the standard process_* metrics of the calling process, read from /proc at
 * scrape time (the names and meanings Prometheus's client libraries use, so the usual dashboards
 * and alerts work unchanged). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"

typedef struct proc_stat {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
} proc_stat;

/* Fields 14, 15, 22, 23 and 24 of /proc/self/stat (proc(5)); 0 when it cannot be read. The
 * command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'. */
static int read_proc_stat(proc_stat *out)
{
    char buf[1024], *p;
    size_t n;
    FILE *f = fopen("/proc/self/stat", "r");

    memset(out, 0, sizeof *out);
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL)
        return 0;
    /* from field 3 (state) on */
    return sscanf(p + 1,
                  " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d"
                  " %llu %llu %lld",
                  &out->utime, &out->stime, &out->starttime, &out->vsize, &out->rss) == 5;
}

/* The boot time (btime of /proc/stat), seconds since the epoch; 0 when unknown. */
static long long boot_time_s(void)
{
    char line[256];
    long long btime = 0;
    FILE *f = fopen("/proc/stat", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "btime %lld", &btime) == 1)
            break;
    fclose(f);
    return btime;
}

/* Entries of /proc/self/fd other than the directory's own descriptor; -1 when unreadable. */
static long long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long long n = 0;
    char self[16];

    if (d == NULL)
        return -1;
    snprintf(self, sizeof self, "%d", dirfd(d));
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0)
            n++;
    closedir(d);
    return n;
}

void metrics_process_collect(metrics_text *t)
{
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    long long fds = open_fds(), btime = boot_time_s();
    struct rlimit rl;
    proc_stat st;

    if (tck <= 0)
        tck = 100;
    if (read_proc_stat(&st)) {
        metrics_write_one(t, "process_cpu_seconds_total", METRICS_COUNTER,
                          "Total user and system CPU time spent in seconds.",
                          (int64_t)((st.utime + st.stime) * 1000 / (unsigned long long)tck), 3);
        metrics_write_one(t, "process_resident_memory_bytes", METRICS_GAUGE,
                          "Resident memory size in bytes.", (int64_t)st.rss * page, 0);
        metrics_write_one(t, "process_virtual_memory_bytes", METRICS_GAUGE,
                          "Virtual memory size in bytes.", (int64_t)st.vsize, 0);
        if (btime > 0)
            metrics_write_one(t, "process_start_time_seconds", METRICS_GAUGE,
                              "Start time of the process since unix epoch in seconds.",
                              (int64_t)(btime * 1000 + (long long)st.starttime * 1000 / tck), 3);
    }
    if (fds >= 0)
        metrics_write_one(t, "process_open_fds", METRICS_GAUGE, "Number of open file descriptors.",
                          fds, 0);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        metrics_write_one(t, "process_max_fds", METRICS_GAUGE,
                          "Maximum number of open file descriptors.", (int64_t)rl.rlim_cur, 0);
}
