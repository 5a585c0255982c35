/* coordinator_main.c — vs-coordinator: the settlement batch's coordinator (job repository, partition leases,
 * PUSH tasks / PULL results).
 *
 * Only --help and --version for now; the batch itself arrives with its own issue. */
#include <stdio.h>
#include <string.h>

static const char usage[] = "usage: vs-coordinator [--help] [--version]\n"
                            "\n"
                            "Coordinates the daily settlement batch: splits a business day's play_log into partitions,\n"
    "leases them to vs-worker processes over nng PUSH/PULL and merges their results.\n";

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("vs-coordinator %s\n", VS_VERSION);
        return 0;
    }
    fputs(usage, stderr);
    fprintf(stderr, "vs-coordinator: not implemented yet\n");
    return 2;
}
