/* worker_main.c — vs-worker: a settlement batch worker (PULL tasks, aggregate a play_log partition, PUSH
 * results).
 *
 * Only --help and --version for now; the batch itself arrives with its own issue. */
#include <stdio.h>
#include <string.h>

static const char usage[] = "usage: vs-worker [--help] [--version]\n"
                            "\n"
                            "Processes play_log partitions handed out by vs-coordinator over nng PUSH/PULL.\n";

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("vs-worker %s\n", VS_VERSION);
        return 0;
    }
    fputs(usage, stderr);
    fprintf(stderr, "vs-worker: not implemented yet\n");
    return 2;
}
