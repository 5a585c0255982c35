/* coretest.h — what a unit test of a core/ rule includes: cmocka and nothing of the stack, so a
 * rule that came to need I/O would no longer build against core alone. */
#ifndef VS_CORETEST_H
#define VS_CORETEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
