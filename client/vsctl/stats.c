/* stats.c — `vsctl stats SUBCOMMAND`: dispatch to the statistics views (add yours to the table). */
#include <stdio.h>
#include <string.h>

#include "vsctl.h"

static const vsctl_command stats_commands[] = {
    {"live", cmd_stats_live, "today's counted views and ad views of a video (Redis, real time)"},
    {"video", cmd_stats_video,
     "a video's settled views, watch time, ad views for a day/week/month"},
    {"top", cmd_stats_top, "top videos of a day/week/month by views or watch time"},
};

static void stats_usage(FILE *out)
{
    fprintf(out, "usage: vsctl [--json] stats SUBCOMMAND [ARGS]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof stats_commands / sizeof stats_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", stats_commands[i].name, stats_commands[i].summary);
    fprintf(out, "\n`vsctl stats SUBCOMMAND --help` for its options.\n");
}

int cmd_stats(vsctl *ctl, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        stats_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof stats_commands / sizeof stats_commands[0]; i++)
        if (strcmp(argv[1], stats_commands[i].name) == 0)
            return stats_commands[i].run(ctl, argc - 1, argv + 1);
    fprintf(stderr, "vsctl stats: unknown subcommand \"%s\"\n", argv[1]);
    stats_usage(stderr);
    return 2;
}
